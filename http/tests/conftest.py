"""Fixtures for the API tests: a real daemon serving real HTTPS on a free port."""

from __future__ import annotations

import pytest

from wazuhd.testing import ApiDaemon


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """One daemon shared by a test module (tests must not depend on each other's state)."""
    daemon = ApiDaemon(tmp_path_factory.mktemp("api") / "home").start()
    yield daemon
    daemon.terminate()


@pytest.fixture
def api_factory(tmp_path):
    """Daemons with their own config (``api``: lines indented under ``api:``)."""
    daemons = []

    def make(api: str = "", extra: str = "", env: dict | None = None) -> ApiDaemon:
        daemon = ApiDaemon(tmp_path / f"home{len(daemons)}", api, extra, env)
        daemons.append(daemon)
        return daemon.start()

    yield make
    for daemon in daemons:
        daemon.kill()
