"""Git probe: whether a release tag exists in a repository (a local path or a remote URL), read-only."""

from __future__ import annotations

import os
import subprocess

from golive.probes.errors import ProbeError


def tag_commit(repository: str, tag: str, timeout_s: float) -> str | None:
    """The object a tag points at in the repository (``git ls-remote``: no clone, no fetch); None if absent."""
    environ = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
    command = ["git", "ls-remote", "--tags", "--", repository, f"refs/tags/{tag}"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=environ, check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise ProbeError("host", repository, "git is not installed on this host") from None
    except subprocess.TimeoutExpired:
        raise ProbeError("host", repository, f"git ls-remote gave no answer within {timeout_s:g}s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise ProbeError("host", repository, f"git ls-remote failed: {last}")
    for line in done.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/tags/{tag}":
            return sha
    return None
