"""Gate 1, application and code: each check passes on the healthy sandbox and fails on its broken condition."""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest

from golive import versions
from golive.sandbox import constants as c
from tests.support.gates import minimal_config, sandbox_command, variant

FILE = "validations/test_application.py"
AUTOMATED = "not test_signed"


def ecr():
    return boto3.client("ecr", region_name="us-east-1", endpoint_url=f"http://{c.HOST}:{c.MOTO_PORT}",
                        aws_access_key_id="golive-sandbox", aws_secret_access_key="golive-sandbox")  # fmt: skip


def test_healthy_sandbox_passes_every_application_check(sandbox, run_gate):
    run = run_gate(sandbox, "pre", FILE, "-k", AUTOMATED)
    assert run.outcomes() == dict.fromkeys(
        ["test_version_is_semantic_and_newer", "test_git_tag_exists", "test_image_pushed",
         "test_image_scan_has_no_critical_findings", "test_image_size_acceptable"], "passed"
    )  # fmt: skip
    assert run.partial_go
    assert run.check("test_image_pushed")["severity"] == "critical"
    assert run.check("test_git_tag_exists")["component"] == "host"


@pytest.mark.parametrize(
    ("release", "message"),
    [
        ({"version": "2.1", "previous": "2.0.5"},
         "release.version: '2.1' is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])"),
        ({"version": "2.1.0", "previous": "2.1.0"}, "release.version 2.1.0 is not newer than release.previous 2.1.0"),
        ({"version": "2.1.0-rc.1", "previous": "2.1.0"},
         "release.version 2.1.0-rc.1 is not newer than release.previous 2.1.0"),
    ],
)  # fmt: skip
def test_version_not_semantic_or_not_newer_fails(release, message, run_gate, tmp_path):
    config = minimal_config(tmp_path / "c.yaml", {"release": release})
    run = run_gate(config, "pre", FILE, "-k", "test_version")
    assert run.code == 1
    assert run.check("test_version_is_semantic_and_newer")["message"] == message


def test_semver_precedence():
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "2.0.5", "2.1.0"]  # fmt: skip
    parsed = [versions.parse(text) for text in ordered]
    assert parsed == sorted(reversed(parsed))
    assert versions.parse("2.1.0+build.7") == versions.parse("2.1.0")


def test_git_tag_missing_fails(run_gate, tmp_path):
    repo = tmp_path / "repo"
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    repo.mkdir()
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "x"], ["tag", "v2.0.5"]):
        subprocess.run([*git, *args], check=True, timeout=30)
    config = minimal_config(tmp_path / "c.yaml", {"release.repository": str(repo)})
    run = run_gate(config, "pre", FILE, "-k", "test_git_tag")
    assert run.code == 1
    assert run.check("test_git_tag_exists")["message"] == (
        f"git repository {repo} has no tag v2.1.0 (release.tag_format 'v{{version}}')"
    )
    tagged = variant(config, tmp_path / "t.yaml", {"release.version": "2.0.5", "release.previous": None})
    assert run_gate(tagged, "pre", FILE, "-k", "test_git_tag").partial_go


def test_image_tag_missing_is_no_go(sandbox, run_gate, tmp_path):
    config = variant(sandbox, tmp_path / "v.yaml", {"aws.image.tag": "9.9.9"})
    run = run_gate(config, "pre", FILE, "-k", "image")
    assert run.code == 2
    assert run.check("test_image_pushed")["message"] == (
        f"ECR repository orchestrator at http://{c.HOST}:{c.MOTO_PORT} has no image tagged 9.9.9"
    )
    scan = run.check("test_image_scan_has_no_critical_findings")
    assert scan["outcome"] == "error" and "ImageNotFoundException" in scan["message"]


def test_critical_findings_are_no_go(sandbox, run_gate):
    sandbox_command("helper", "image-findings", "--critical", "2", "--high", "1")
    run = run_gate(sandbox, "pre", FILE, "-k", "test_image_scan")
    assert run.code == 2
    assert run.check("test_image_scan_has_no_critical_findings")["message"] == (
        "ECR scan of orchestrator:2.1.0 has 2 critical findings (all: CRITICAL 2, HIGH 1); "
        "allowed 0 (thresholds.image_critical_findings)"
    )


def test_image_never_scanned_fails_closed(sandbox, run_gate, tmp_path):
    """moto answers ScanNotFoundException for an image never scanned: the check fails, it never passes."""
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 100,
                           "digest": "sha256:" + "c" * 64},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 100,
                            "digest": "sha256:" + "d" * 64}]}  # fmt: skip
    ecr().put_image(repositoryName="orchestrator", imageManifest=json.dumps(manifest), imageTag="unscanned")
    try:
        config = variant(sandbox, tmp_path / "v.yaml", {"aws.image.tag": "unscanned"})
        run = run_gate(config, "pre", FILE, "-k", "test_image")
    finally:
        ecr().batch_delete_image(repositoryName="orchestrator", imageIds=[{"imageTag": "unscanned"}])
    assert run.code == 2
    assert run.check("test_image_pushed")["outcome"] == "passed"
    scan = run.check("test_image_scan_has_no_critical_findings")
    assert scan["outcome"] == "error" and scan["severity"] == "critical"
    assert "describe_image_scan_findings: ScanNotFoundException" in scan["message"]


def test_image_too_large_fails(sandbox, run_gate, tmp_path):
    config = variant(sandbox, tmp_path / "v.yaml", {"aws.image.max_size_mb": 0.001})
    run = run_gate(config, "pre", FILE, "-k", "test_image_size")
    assert run.code == 1
    # moto reports the manifest's config blob size as the image size (7023 bytes in the sandbox).
    assert run.check("test_image_size_acceptable")["message"] == (
        "image orchestrator:2.1.0 is 0.0 MB (7023 bytes); allowed under 0.001 MB (aws.image.max_size_mb)"
    )
