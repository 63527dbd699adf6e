"""`golive keys init` never writes through a symbolic link and never replaces a file: a link (dangling or not) or an
existing file at `NAME.key` or `NAME.pub` is one line on stderr, exit 2, no traceback, and neither file is written.
Real `golive keys init` processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def keys_init(cwd: Path, out: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG", "GOLIVE_REPORTS"}}
    argv = ["keys", "init", "--name", "ci", "--role", "Deployment Lead", "--out", str(out)]
    return subprocess.run([sys.executable, "-m", "golive", *argv], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env=environ)  # fmt: skip


def _refused(done: subprocess.CompletedProcess[str], path: Path, said: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and done.stdout == "", done
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"golive keys: {path}: ") and said in lines[0], lines[0]


def _contents(directory: Path) -> dict[str, str]:
    """What each entry of the directory is, without following links: files' bytes, links' targets."""
    return {entry.name: (f"-> {os.readlink(entry)}" if entry.is_symlink() else entry.read_text())
            for entry in sorted(directory.iterdir())}  # fmt: skip


@pytest.mark.parametrize("which", ["key", "pub"])
def test_a_dangling_link_is_refused_and_its_target_never_created(tmp_path, which):
    out, outside = tmp_path / "keys", tmp_path / "elsewhere"
    out.mkdir()
    outside.mkdir()
    target = outside / f"planted.{which}"
    (out / f"ci.{which}").symlink_to(target)
    before = _contents(out)
    done = keys_init(tmp_path, out)
    _refused(done, out / f"ci.{which}", "symbolic link")
    assert not target.exists() and list(outside.iterdir()) == []  # nothing written outside --out
    assert _contents(out) == before  # neither file written (the other one not either)


@pytest.mark.parametrize("which", ["key", "pub"])
def test_a_link_to_an_existing_file_is_refused_and_the_file_left_alone(tmp_path, which):
    out, victim = tmp_path / "keys", tmp_path / "authorized_keys"
    out.mkdir()
    victim.write_text("ssh-ed25519 AAAA precious\n")
    (out / f"ci.{which}").symlink_to(victim)
    before = _contents(out)
    done = keys_init(tmp_path, out)
    _refused(done, out / f"ci.{which}", "symbolic link")
    assert victim.read_text() == "ssh-ed25519 AAAA precious\n" and _contents(out) == before


@pytest.mark.parametrize("which", ["key", "pub"])
def test_an_existing_file_is_refused_and_kept(tmp_path, which):
    out = tmp_path / "keys"
    out.mkdir()
    (out / f"ci.{which}").write_text("mine\n")
    done = keys_init(tmp_path, out)
    _refused(done, out / f"ci.{which}", "exists")
    assert _contents(out) == {f"ci.{which}": "mine\n"}


def test_an_out_that_is_a_file_is_one_line(tmp_path):
    out = tmp_path / "keys"
    out.write_text("not a directory\n")
    done = keys_init(tmp_path, out)
    _refused(done, out, "not a directory")
    assert out.read_text() == "not a directory\n"


def test_a_fresh_directory_gets_both_files(tmp_path):
    out = tmp_path / "keys"
    done = keys_init(tmp_path, out)
    assert done.returncode == 0, done.stderr
    assert (out / "ci.key").stat().st_mode & 0o777 == 0o600 and b"PUBLIC KEY" in (out / "ci.pub").read_bytes()


def test_a_link_appearing_after_the_checks_leaves_no_half_pair(tmp_path, monkeypatch):
    """The race the checks cannot close: a link planted at NAME.pub after both were checked. The open itself
    refuses it (O_EXCL | O_NOFOLLOW) and the private key already made is removed."""
    from golive.evidence import EvidenceError
    from golive.evidence import keys as evidence_keys

    out, target = tmp_path / "keys", tmp_path / "planted.pub"
    out.mkdir()
    monkeypatch.setattr(evidence_keys, "_refuse_present", lambda path: None)  # the checks saw nothing there
    (out / "ci.pub").symlink_to(target)
    with pytest.raises(EvidenceError, match="symbolic link"):
        evidence_keys.generate(out, "ci")
    assert _contents(out) == {"ci.pub": f"-> {target}"} and not target.exists()
