"""Hard-coded secrets probe: Yelp's detect-secrets over configured source paths, with its default plugins.

A finding names the file, the line and the kind of secret, never the secret itself: what detect-secrets
found stays inside this module. Lines carrying detect-secrets' ``pragma: allowlist secret`` comment are
skipped, which is how a reviewed false positive is accepted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from golive.probes.errors import ProbeError

# Directories that hold tools, caches or dependencies rather than the release's own code.
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".tox"}
)
MAX_FILE_BYTES = 2_000_000  # bigger files are data or bundles, not code a person wrote a key into


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str  # detect-secrets' secret type, e.g. "AWS Access Key"

    def __str__(self) -> str:
        return f"{self.path}:{self.line} ({self.kind})"


def files_under(paths: Iterable[Path]) -> Iterator[Path]:
    """Every regular file under the paths (a path may be a file), skipping tool and dependency directories.

    A path that does not exist raises ProbeError: a configured source path that is not there scans nothing.
    """
    for root in paths:
        if root.is_file():
            yield root
            continue
        if not root.is_dir():
            raise ProbeError("config", str(root), "source path does not exist")
        for directory, subdirectories, filenames in os.walk(root):
            subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRS)
            for filename in sorted(filenames):
                path = Path(directory, filename)
                if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE_BYTES:
                    yield path


def scan(paths: Iterable[Path]) -> tuple[int, list[Finding]]:
    """How many files were scanned and the secrets detect-secrets found in them, in file and line order."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    files = [str(path) for path in files_under(paths)]
    collection = SecretsCollection()
    with default_settings():
        for file in files:
            collection.scan_file(file)
    found = {Finding(path=name, line=int(secret.line_number or 0), kind=str(secret.type))
             for name, secret in collection}
    findings = sorted(found, key=lambda finding: (finding.path, finding.line, finding.kind))
    return len(files), findings
