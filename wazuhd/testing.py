"""Helpers for testing wazuhd and its plugins against a real daemon process.

Plugin authors can use them too: ``DaemonProcess(home, env).start()`` runs
``python -m wazuhd start`` on a temporary home and waits until its control
socket answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wazuhd.sockets import SocketClient


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a daemon's API in tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wazuhd_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "wazuhd", *args]


class DaemonProcess:
    """A ``wazuhd start`` subprocess on its own home."""

    def __init__(self, home: Path, env: dict | None = None, config: str | None = None):
        """``config``: text of ``etc/wazuhd.yaml``, written before the first start."""
        self.home = home
        self.config = config
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def socket(self, name: str) -> Path:
        return self.home / "queue" / "sockets" / name

    def cli(self, *args: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(wazuhd_command(*args, "--home", str(self.home)), env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=check)

    def start(self, *extra: str, timeout: float = 20) -> "DaemonProcess":
        """Start and wait until every service has started (status ``state`` is running)."""
        config_file = self.home / "etc" / "wazuhd.yaml"
        if self.config is not None and not config_file.exists():
            config_file.parent.mkdir(parents=True, exist_ok=True)
            config_file.write_text(self.config)
        # Output goes to files, not pipes: a pipe nobody reads would block a chatty daemon.
        self._out = tempfile.TemporaryFile("w+")
        self._err = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(wazuhd_command("start", "--home", str(self.home), *extra),
                                     env=self.env, stdout=self._out, stderr=self._err, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.output()
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{out}\n{err}")
            try:
                with SocketClient(self.socket("control"), timeout=2) as client:
                    if client.request("status")["state"] == "running":
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"daemon did not start in {timeout} s:\n{self.output()[1]}")

    def output(self) -> tuple[str, str]:
        """What the daemon printed so far: (stdout, stderr)."""
        texts = []
        for file in (self._out, self._err):
            file.seek(0)
            texts.append(file.read())
        return texts[0], texts[1]

    def request(self, socket: str, command: str, parameters: dict | None = None):
        with SocketClient(self.socket(socket), timeout=10) as client:
            return client.request(command, parameters)

    def terminate(self, timeout: float = 10) -> tuple[int, str, str, float]:
        """SIGTERM; returns (exit code, stdout, stderr, seconds taken)."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        seconds = time.monotonic() - began
        out, err = self.output()
        return self.proc.returncode, out, err, seconds

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
