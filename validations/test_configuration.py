"""Configuration and secrets: variables staged on the target, log level, and golive's own configuration.

``pytest -m config`` runs the checks marked ``config``: the target's staged variables and the semantic
coherence of golive's configuration (the engine already refused a malformed file before any check ran).
"""

from datetime import date, timedelta

import pytest

from golive.fixtures import attestation_params, not_configured
from golive.probes import host as host_probe

pytestmark = pytest.mark.pre

TRUTHY = {"1", "true", "yes", "on"}


def _env_file(target):
    if target.view.env_file is None:
        not_configured(f"environments.{target.name}.env_file")
    return target.view.env_file


@pytest.mark.config
@pytest.mark.critical
@pytest.mark.component("host")
def test_required_variables_staged(target):
    """Environment variables staged in blue: the env file on its host sets every required variable."""
    path = _env_file(target)
    if not target.view.required_env:
        not_configured(f"environments.{target.name}.required_env")
    staged = host_probe.staged_keys(target.host, path)
    missing = [key for key in target.view.required_env if key not in staged]
    assert not missing, (
        f"{host_probe.name_of(target.host)}:{path} lacks or leaves empty {', '.join(missing)}; "
        f"expected every key of environments.{target.name}.required_env to be set"
    )


@pytest.mark.config
@pytest.mark.component("host")
def test_log_level_info_and_debug_off(target):
    """Log level INFO, debug off: the env file sets LOG_LEVEL=INFO and no true DEBUG."""
    path = _env_file(target)
    values = host_probe.staged_values(target.host, path, ("LOG_LEVEL", "DEBUG"))
    problems = []
    if values.get("LOG_LEVEL", "").upper() != "INFO":
        problems.append(f"LOG_LEVEL is {values['LOG_LEVEL']!r}" if "LOG_LEVEL" in values else "LOG_LEVEL is not set")
    if values.get("DEBUG", "").strip().lower() in TRUTHY:
        problems.append(f"DEBUG is {values['DEBUG']!r}")
    assert not problems, (
        f"{host_probe.name_of(target.host)}:{path}: {'; '.join(problems)}; expected LOG_LEVEL=INFO and DEBUG off"
    )


# --- golive's own configuration ---------------------------------------------------------------------------


@pytest.mark.config
@pytest.mark.critical
def test_one_candidate_and_one_live_environment(golive_settings):
    """Configuration validation: exactly one candidate and one live environment (blue-green needs both)."""
    roles = {role: [v.name for v in golive_settings.environments.values() if v.role == role]
             for role in ("candidate", "live")}
    lacking = [f"{role}: {', '.join(names) or 'none'}" for role, names in roles.items() if len(names) != 1]
    assert not lacking, (
        f"{golive_settings.path.name}: environments by role: {'; '.join(lacking)}; "
        "expected exactly one environment with role candidate and one with role live"
    )


@pytest.mark.config
@pytest.mark.critical
def test_previous_release_is_set(golive_settings):
    """Configuration validation: release.previous names the release to roll back to."""
    assert golive_settings.release.previous, (
        f"{golive_settings.path.name}: release.previous is not set; expected the version the live environment "
        "runs (the rollback target)"
    )


@pytest.mark.config
def test_every_environment_expects_a_known_version(golive_settings):
    """Configuration validation: every environment's expected version is known (role or version key)."""
    unknown = [view.name for view in golive_settings.environments.values() if not view.expected_version]
    assert not unknown, (
        f"{golive_settings.path.name}: no expected version for environment(s) {', '.join(unknown)}; "
        "expected role candidate or live, or a version key"
    )


def _waivers(golive_settings):
    waivers = golive_settings.document.waivers
    if not waivers:
        not_configured("waivers")
    return waivers


@pytest.mark.config
def test_no_waiver_has_expired(golive_settings):
    """Configuration validation: no waiver in the configuration has expired (an expired waiver waives nothing)."""
    today = date.today()
    expired = [f"{w.check} (expired {w.expires})" for w in _waivers(golive_settings) if w.expires < today]
    assert not expired, f"{golive_settings.path.name}: waivers: {', '.join(expired)}; remove or renew them"


@pytest.mark.config
def test_no_waiver_expires_soon(golive_settings):
    """Configuration validation: no waiver expires within thresholds.waiver_notice_days."""
    today = date.today()
    notice = golive_settings.document.thresholds.waiver_notice_days
    soon = [
        f"{w.check} (expires {w.expires})"
        for w in _waivers(golive_settings)
        if today <= w.expires <= today + timedelta(days=notice)
    ]
    assert not soon, (
        f"{golive_settings.path.name}: waivers expiring within {notice} days (thresholds.waiver_notice_days): "
        f"{', '.join(soon)}; renew them or fix what they waive"
    )


@pytest.mark.config
@pytest.mark.component("host")
def test_referenced_files_exist(golive_settings):
    """Configuration validation: every env_file and log_file the configuration names exists on its host."""
    referenced = [
        (view, key, getattr(view, key))
        for view in golive_settings.environments.values()
        for key in ("env_file", "log_file")
        if getattr(view, key)
    ]
    if not referenced:
        not_configured("environments.*.env_file / log_file")
    missing = [
        f"environments.{view.name}.{key} {path} (on {view.host})"
        for view, key, path in referenced
        if not host_probe.file_exists(host_probe.connect(view.host), path)
    ]
    assert not missing, f"{golive_settings.path.name}: missing: {'; '.join(missing)}; expected each file to exist"


@pytest.mark.parametrize("item", attestation_params(__file__))
def test_signed(item, attestations):
    """A person in an allowed role has signed this checklist item for the release."""
    attestations.assert_signed(item)
