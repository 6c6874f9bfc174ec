"""Fixtures for the API tests: a real daemon serving real HTTPS on a free port."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from wazuhd.testing import DaemonProcess, free_port

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
WAZUH_SPEC = SHARED / "wazuh-api" / "spec.yaml"


class ApiDaemon(DaemonProcess):
    """A daemon with its API on 127.0.0.1:<free port>, HTTPS with its self-signed cert."""

    def __init__(self, home: Path, api: str = "", extra: str = "", env: dict | None = None):
        self.port = free_port()
        config = f"api:\n  host: 127.0.0.1\n  port: {self.port}\n{api}{extra}"
        super().__init__(home, env, config=config)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def certificate(self) -> Path:
        return self.home / "etc" / "api" / "server.crt"

    def client(self, token: str | None = None, **kwargs) -> httpx.Client:
        """An HTTPS client that verifies the daemon's own certificate."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        verify = ssl.create_default_context(cafile=str(self.certificate))
        return httpx.Client(base_url=self.url, verify=verify, headers=headers, timeout=30,
                            **kwargs)

    def login(self, user: str = "wazuh", password: str = "wazuh") -> str:
        with self.client() as client:
            reply = client.post("/security/user/authenticate", auth=(user, password))
        assert reply.status_code == 200, reply.text
        return reply.json()["data"]["token"]


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
