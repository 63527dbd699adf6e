"""Shared fixtures for golive's own tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def hanging_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections (the kernel completes the handshake) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def sandbox_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sandbox for this test session: brought down when the session ends."""
    from golive.sandbox.cli import main

    config = tmp_path_factory.mktemp("sandbox") / "golive.sandbox.yaml"
    yield config
    main(["down"])


@pytest.fixture
def sandbox(sandbox_session: Path) -> Path:
    """A healthy sandbox (started, repaired, every fault cleared); its golive configuration's path."""
    from golive.sandbox.cli import main

    assert main(["up", "--config-out", str(sandbox_session)]) == 0, "golive sandbox up failed"
    return sandbox_session
