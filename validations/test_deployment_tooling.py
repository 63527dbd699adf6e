"""Deployment tooling: the commands and files (deploy and rollback scripts) the deployment needs are in place."""

import pytest

from golive.fixtures import not_configured
from golive.probes import host as host_probe

pytestmark = [pytest.mark.pre, pytest.mark.component("host")]


@pytest.fixture(scope="module")
def deploy(golive_settings):
    """The deploy section and a testinfra host for the machine the deployment runs from."""
    section = golive_settings.document.deploy
    if section is None:
        not_configured("deploy")
    return section, host_probe.connect(section.host)


@pytest.mark.critical
def test_deploy_commands_exist(deploy):
    """The commands the deployment needs exist on the deploy host."""
    section, host = deploy
    if not section.commands:
        not_configured("deploy.commands")
    missing = [command for command in section.commands if not host_probe.command_exists(host, command)]
    assert not missing, f"not on the PATH of {section.host}: {', '.join(missing)}; expected every deploy.commands entry"


@pytest.mark.critical
def test_deploy_files_present(deploy):
    """Deployment files present: the deploy and rollback scripts (deploy.files) exist on the deploy host."""
    section, host = deploy
    if not section.files:
        not_configured("deploy.files")
    missing = [path for path in section.files if not host_probe.file_exists(host, path)]
    assert not missing, f"missing on {section.host}: {', '.join(missing)}; expected every deploy.files entry"
