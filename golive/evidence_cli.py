"""``golive keys init`` and ``golive verify``: the commands of golive.evidence."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from golive import evidence, reports_dir
from golive.config import ConfigError, load_settings, resolve_path

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DEFAULT_KEYS_DIR = "~/.golive/keys"


def add_arguments(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="signing keys for the evidence: `golive keys init`")
    keys.add_argument("action", choices=("init",), help="init: make an Ed25519 key pair for a signer")
    keys.add_argument("--name", required=True, help="the signer (a person or a CI job); names the files")
    keys.add_argument("--role", required=True, help="the role they sign as (e.g. 'Release Manager')")
    keys.add_argument("--out", default=DEFAULT_KEYS_DIR, metavar="DIR",
                      help=f"where to write NAME.key and NAME.pub (default: {DEFAULT_KEYS_DIR}; never reports/)")
    reports_dir.add_option(keys, "the reports directory, which --out must stay out of")

    verify = commands.add_parser("verify", help="verify the signed, chained evidence of a release; exit 0 or 2")
    verify.add_argument("directory", nargs="?", metavar="DIR", help="the reports directory (as --golive-reports)")
    reports_dir.add_option(verify, "the reports directory")
    verify.add_argument("--release", metavar="V", help="the release to verify (default: the configuration's)")
    verify.add_argument("--golive-config", dest="golive_config", metavar="PATH",
                        help="holds evidence.trusted_keys (default: $GOLIVE_CONFIG, else ./golive.yaml)")


def run(arguments: argparse.Namespace) -> int:
    try:
        return _keys_init(arguments) if arguments.command == "keys" else _verify(arguments)
    except (evidence.EvidenceError, ConfigError) as error:
        print(f"golive {arguments.command}: {error}", file=sys.stderr)
        return 2


def _reports_dirs(arguments: argparse.Namespace) -> list[Path]:
    """The reports directory (golive.cli resolved it by the one rule), and ./reports, where keys never go."""
    chosen = Path(arguments.reports) if arguments.reports else reports_dir.resolve(None, os.environ, Path.cwd()).path
    return [chosen, *([Path(reports_dir.DEFAULT)] if Path(reports_dir.DEFAULT).resolve() != chosen.resolve() else [])]


def _keys_init(arguments: argparse.Namespace) -> int:
    name, role = arguments.name.strip(), arguments.role.strip()
    if not _NAME.fullmatch(name):
        raise evidence.EvidenceError(f"--name {name!r}: letters, digits, '.', '_' and '-' only (it names the files)")
    if not role:
        raise evidence.EvidenceError("--role: a role is required")
    out = Path(os.path.expanduser(arguments.out))
    for reports in _reports_dirs(arguments):
        if evidence.inside(out, reports):
            raise evidence.EvidenceError(f"--out {out}: inside the reports directory {reports}; keep keys out of it")
    pair = evidence.generate(out, name)
    print(f"wrote {pair.private_path} (private key, mode 0600: only you read it) and {pair.public_path}")
    print("sign with it: in your configuration,")
    print(f"  evidence: {{key: {pair.private_path}, signer: {{name: {json.dumps(name)}, role: {json.dumps(role)}}}}}")
    print("paste this under evidence.trusted_keys in the configuration of whoever verifies:")
    quoted_name, quoted_role = json.dumps(name), json.dumps(role)  # YAML double-quoted strings
    print(f"  - {{name: {quoted_name}, role: {quoted_role}, keyid: {pair.key.keyid}, "
          f"public: {pair.key.keyval['public']}}}")
    return 0


def _verify(arguments: argparse.Namespace) -> int:
    path, source = resolve_path(arguments.golive_config, os.environ, Path.cwd())
    settings = load_settings(path, source)
    release = arguments.release or settings.release.version
    started = time.perf_counter()
    story = evidence.verify(Path(arguments.reports), release, evidence.configured_trust(settings),
                            settings.attestations_path)
    for line in story.lines():
        print(line)
    print(f"verified in {time.perf_counter() - started:.3f} s")
    return 0
