"""Gate 1, security and compliance: each automated check passes on the healthy sandbox and fails when broken."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import yaml

from tests.canned_http import CannedHTTP, self_signed
from tests.support.gates import sandbox_command, variant

MODULE = "validations/test_security.py"
HSTS = {"Strict-Transport-Security": "max-age=31536000; includeSubDomains"}


def with_public_urls(config: Path, tmp_path: Path, *urls: str) -> Path:
    changes = {"security.public_urls": list(urls), "http.verify_tls": False}  # the test site's cert is self-signed
    return variant(config, tmp_path / "public-urls.yaml", changes)


def test_healthy_sandbox_passes_every_security_check(sandbox, run_gate, tmp_path):
    with CannedHTTP.everywhere(headers=HSTS, tls=self_signed(tmp_path, 90)) as site:
        run = run_gate(with_public_urls(sandbox, tmp_path, site.url), "pre", MODULE, "-k", "not test_signed")
    assert run.outcomes() == {
        "test_public_urls_use_https": "passed",
        "test_public_urls_send_hsts": "passed",
        "test_secrets_exist_and_are_not_scheduled_for_deletion": "passed",
        "test_secrets_rotated_within_window": "passed",
        "test_no_hard_coded_secrets": "passed",
    }, run.stdout
    assert run.partial_go


def test_plain_http_public_url_is_no_go(sandbox, run_gate, tmp_path):
    run = run_gate(with_public_urls(sandbox, tmp_path, "http://127.0.0.1:18001/"), "pre", MODULE, "-k", "public_urls")
    check = run.check("test_public_urls_use_https")
    assert check["outcome"] == "failed" and check["severity"] == "critical"
    assert "served over plain http: http://127.0.0.1:18001/" in check["message"]
    assert run.code == 2


def test_https_url_without_hsts_is_review(sandbox, run_gate, tmp_path):
    with CannedHTTP.everywhere(tls=self_signed(tmp_path, 90)) as site:
        run = run_gate(with_public_urls(sandbox, tmp_path, site.url), "pre", MODULE, "-k", "public_urls")
    assert run.outcomes() == {"test_public_urls_use_https": "passed", "test_public_urls_send_hsts": "failed"}
    message = run.check("test_public_urls_send_hsts")["message"]
    assert f"no Strict-Transport-Security header from {site.url} (HTTP 200)" in message
    assert run.code == 1


def test_missing_and_doomed_secrets_are_no_go(sandbox, run_gate, tmp_path):
    import boto3

    document = yaml.safe_load(sandbox.read_text())
    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=document["aws"]["endpoint_url"])
    doomed = f"golive-test/doomed-{uuid.uuid4().hex[:8]}"
    client.create_secret(Name=doomed, SecretString="{}")
    client.delete_secret(SecretId=doomed, RecoveryWindowInDays=7)
    try:
        secrets = [*document["aws"]["secrets"], "orchestrator/missing", doomed]
        config = variant(sandbox, tmp_path / "secrets.yaml", {"aws.secrets": secrets})
        run = run_gate(config, "pre", MODULE, "-k", "test_secrets")
    finally:
        client.delete_secret(SecretId=doomed, ForceDeleteWithoutRecovery=True)
    check = run.check("test_secrets_exist_and_are_not_scheduled_for_deletion")
    assert check["outcome"] == "failed" and check["severity"] == "critical"
    assert "orchestrator/missing: does not exist" in check["message"]
    assert f"{doomed}: scheduled for deletion on " in check["message"]
    assert "orchestrator/db" not in check["message"]
    assert run.code == 2


def test_secret_older_than_the_rotation_window_is_review(sandbox, run_gate, tmp_path):
    config = variant(sandbox, tmp_path / "window.yaml", {"thresholds.secret_max_age_days": 1e-9})
    run = run_gate(config, "pre", MODULE, "-k", "test_secrets")
    assert run.outcomes()["test_secrets_rotated_within_window"] == "failed"
    message = run.check("test_secrets_rotated_within_window")["message"]
    assert "secrets older than 1e-09 days (thresholds.secret_max_age_days): orchestrator/db: last changed" in message
    assert run.code == 1


def test_hard_coded_secret_is_no_go_without_showing_it(sandbox, run_gate):
    sandbox_command("helper", "plant-secret")
    try:
        run = run_gate(sandbox, "pre", MODULE, "-k", "test_no_hard_coded_secrets", "-l", "--tb=long")
    finally:
        sandbox_command("helper", "plant-secret", "--clear")
    check = run.check("test_no_hard_coded_secrets")
    assert check["outcome"] == "failed" and check["severity"] == "critical"
    assert "settings_local.py:3 (AWS Access Key)" in check["message"]
    assert "settings_local.py:4 (Secret Keyword)" in check["message"]
    everything = run.stdout + run.stderr + json.dumps(run.record)
    assert "IOSFODNN7" not in everything and "bPxRfiCY" not in everything
    assert run.code == 2

