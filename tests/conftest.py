"""Fixtures for end-to-end tests: the daemon as a real process on a temporary home."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wazuhd.sockets import SocketClient

REPO = Path(__file__).resolve().parent.parent


def wazuhd_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "wazuhd", *args]


class DaemonProcess:
    """A ``wazuhd start`` subprocess on its own home."""

    def __init__(self, home: Path, env: dict | None = None):
        self.home = home
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def socket(self, name: str) -> Path:
        return self.home / "queue" / "sockets" / name

    def cli(self, *args: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(wazuhd_command(*args, "--home", str(self.home)), env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=check)

    def start(self, *extra: str, timeout: float = 20) -> "DaemonProcess":
        self.proc = subprocess.Popen(wazuhd_command("start", "--home", str(self.home), *extra),
                                     env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{out}\n{err}")
            try:
                with SocketClient(self.socket("control"), timeout=2) as client:
                    if client.request("ping") == "pong":
                        return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise AssertionError("daemon did not answer ping in time")

    def request(self, socket: str, command: str, parameters: dict | None = None):
        with SocketClient(self.socket(socket), timeout=10) as client:
            return client.request(command, parameters)

    def terminate(self, timeout: float = 10) -> tuple[int, str, str, float]:
        """SIGTERM; returns (exit code, stdout, stderr, seconds taken)."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err, time.monotonic() - began

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def daemon_factory(home):
    daemons: list[DaemonProcess] = []

    def make(env: dict | None = None, home_dir: Path | None = None) -> DaemonProcess:
        daemon = DaemonProcess(home_dir or home, env)
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
