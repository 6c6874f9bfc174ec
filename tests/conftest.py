"""Fixtures for end-to-end tests: the daemon as a real process on a temporary home."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wazuhd.rbac import MIGRATIONS, ensure_defaults
from wazuhd.store import Store
from wazuhd.testing import DaemonProcess

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def daemon_factory(home):
    """Make daemons on the test's home. Host tests run without the HTTP API plugin
    (``disabled``) so they never compete for its port; it has its own tests."""
    daemons: list[DaemonProcess] = []

    def make(env: dict | None = None, config: str = "", *,
             disabled: tuple[str, ...] = ("http",)) -> DaemonProcess:
        selection = f"plugins:\n  disabled: [{', '.join(disabled)}]\n" if disabled else ""
        daemon = DaemonProcess(home, env, config=selection + config)
        daemons.append(daemon)
        return daemon

    yield make
    for daemon in daemons:
        daemon.kill()


@pytest.fixture(scope="session")
def example_plugin_path(tmp_path_factory) -> Path:
    """The example third-party plugin, installed with pip into its own target folder.

    Put the returned folder on PYTHONPATH to make the plugin visible to a
    daemon (its entry point is found through the installed dist-info); the
    project's venv stays as it was.
    """
    source = tmp_path_factory.mktemp("example-src") / "wazuhd-example"
    shutil.copytree(REPO / "tests" / "example-plugin", source)
    target = tmp_path_factory.mktemp("example-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True)
    return target


@pytest.fixture
def example_env(example_plugin_path) -> dict:
    return {"PYTHONPATH": str(example_plugin_path)}


@pytest.fixture
def db(tmp_path):
    """The RBAC security database (a real SQLite file) with Wazuh's default records."""
    store = Store(tmp_path / "db")
    store.migrate([("rbac", migration) for migration in MIGRATIONS])
    database = store.db("security")
    ensure_defaults(database)
    yield database
    store.close()
