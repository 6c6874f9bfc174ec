"""A real Docker engine for the docker plugin's tests (and its bench).

``dockerd`` runs as root on a short temporary directory (a unix socket path must stay
under ~100 bytes), without networking or iptables, with the vfs storage driver; the
``tiny:1`` image is imported from a rootfs holding only ``/bin/busybox`` and its applet
links, so no registry is needed. Tests that need it skip with the reason when the
machine cannot run one.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socketserver
import subprocess
import tarfile
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import docker
import pytest
import trio

from wazuhd import collect
from wazuhd.testing import wait_for
from wazuhd_docker.engine import EngineSettings, TlsSettings
from wazuhd_docker.listener import EventsSource

IMAGE = "tiny:1"


def missing() -> str | None:
    """Why no engine can run here, or None."""
    if os.geteuid() != 0:
        return "dockerd needs root (the tests run as an unprivileged user)"
    if not shutil.which("dockerd"):
        return "dockerd is not installed (Debian package docker.io)"
    if not shutil.which("containerd") or not shutil.which("runc"):
        return "containerd or runc is not installed (Debian package docker.io)"
    if not Path("/bin/busybox").exists():
        return "/bin/busybox is not installed (Debian package busybox-static)"
    return None


class DockerEngine:
    """A ``dockerd`` process of its own: start, stop, restart, and a client of it."""

    def __init__(self, root: Path | None = None):
        self.dir = Path(root or tempfile.mkdtemp(prefix="wzd-", dir="/tmp"))
        self.socket = self.dir / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen | None = None
        self._client: docker.APIClient | None = None

    def start(self, timeout: float = 60) -> "DockerEngine":
        log = open(self.dir / "dockerd.log", "a")
        self.proc = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none",
             "--storage-driver=vfs", "-H", self.url, "--data-root", str(self.dir / "root"),
             "--exec-root", str(self.dir / "exec"), "--pidfile", str(self.dir / "docker.pid")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        if not wait_for(self._answers, timeout):
            self.stop()
            raise AssertionError(f"dockerd did not answer in {timeout} s:\n"
                                 f"{(self.dir / 'dockerd.log').read_text()[-3000:]}")
        return self

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"dockerd exited with {self.proc.returncode}:\n"
                                 f"{(self.dir / 'dockerd.log').read_text()[-3000:]}")
        try:
            return docker.APIClient(base_url=self.url, version="auto", timeout=5).ping()
        except docker.errors.DockerException:
            return False

    def stop(self, timeout: float = 30) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        """Stop, unmount what dockerd left mounted (its netns), delete the directory."""
        self.stop()
        with open("/proc/self/mounts") as mounts:
            points = [line.split()[1] for line in mounts]
        for point in sorted((p for p in points if p.startswith(f"{self.dir}/")), reverse=True):
            subprocess.run(["umount", point], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def client(self) -> docker.APIClient:
        if self._client is None:
            self._client = docker.APIClient(base_url=self.url, version="auto", timeout=30)
        return self._client

    def import_tiny(self) -> None:
        """``tiny:1``: busybox and its applet links, imported from a tarball."""
        buffer = io.BytesIO()
        applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                                 check=True).stdout.split()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add("/bin/busybox", arcname="bin/busybox")
            for name in ("tmp", "proc", "sys", "dev", "etc"):
                info = tarfile.TarInfo(name)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            for applet in applets:
                if applet != "busybox":
                    info = tarfile.TarInfo(f"bin/{applet}")
                    info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                    tar.addfile(info)
        self.client.import_image_from_data(buffer.getvalue(), repository="tiny", tag="1")

    def create(self, name: str, command: list[str] | None = None, **host_config) -> str:
        """A container of ``tiny:1`` without network (``sleep 600`` unless told)."""
        host_config.setdefault("network_mode", "none")
        container = self.client.create_container(
            IMAGE, command or ["sleep", "600"], name=name,
            host_config=self.client.create_host_config(**host_config))
        return container["Id"]

    def lifecycle(self, name: str) -> str:
        """create, start, exec of a shell, stop, destroy: what the Wazuh rules watch."""
        client = self.client
        container = self.create(name)
        client.start(container)
        run = client.exec_create(container, ["sh", "-c", "true"])
        client.exec_start(run["Id"])
        client.stop(container, timeout=0)
        client.remove_container(container)
        return container

    def events(self, since: float, until: float, **filters) -> list[dict]:
        """What the engine itself says happened (its own ``/events`` over a time range)."""
        return list(self.client.events(since=since, until=until, filters=filters or None,
                                       decode=True))


class OddEngine:
    """An HTTP server on a unix socket that answers like an engine that no real one can be
    made to be: one of an old API version, or one whose event stream holds garbage.

    ``api_version`` is what ``/version`` reports; ``/events`` sends ``lines`` (the same
    ones whatever ``since`` asks) and ends the stream, or answers 500 with
    ``events_error`` when given.
    """

    def __init__(self, api_version: str = "1.41", lines: list[bytes] = (),
                 events_error: str | None = None):
        self.path = Path(tempfile.mkdtemp(prefix="wzo-", dir="/tmp")) / "odd.sock"
        self.url = f"unix://{self.path}"
        self.event_requests = 0
        odd = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                route = self.path.split("?")[0].rsplit("/", 1)[-1]
                if route == "events" and events_error:
                    odd.event_requests += 1
                    self.answer(500, {"message": events_error})
                    return
                if route == "events":
                    odd.event_requests += 1
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for line in lines:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(line) + 1, line + b"\n"))
                    self.wfile.write(b"0\r\n\r\n")
                    self.close_connection = True
                    return
                self.answer(200, {
                    "version": {"ApiVersion": api_version, "Version": "odd", "MinAPIVersion": "1.12"},
                    "_ping": "OK",
                    "info": {"SystemTime": "2026-01-01T00:00:00.000000001Z"},
                }.get(route, {}))

            def answer(self, status: int, document) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(str(self.path), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.path.parent, ignore_errors=True)


class ListSink(collect.Sink):
    """Keeps what the source sent, in order."""

    def __init__(self):
        self.events = []

    async def send(self, events):
        self.events.extend(events)

    @property
    def records(self) -> list[dict]:
        return [json.loads(event.message) for event in self.events]


class Listener:
    """A source following the engine in the background of a trio test."""

    def __init__(self, url: str, state, name: str = "test", tls: TlsSettings | None = None,
                 **options):
        options.setdefault("interval", 0.2)
        options.setdefault("max_backoff", 0.5)
        engine = EngineSettings(name=name, url=url, tls=tls or TlsSettings())
        self.source = EventsSource(engine, **options)
        self.sink, self.stats = ListSink(), collect.SourceStats()
        self.checkpoints = collect.FileCheckpoints(state)
        self.run = collect.Run(self.source, self.sink, self.checkpoints, self.stats)

    async def wait_for(self, predicate, timeout: float = 20.0) -> None:
        with trio.fail_after(timeout):
            while not predicate(self.sink.records):
                await trio.sleep(0.05)


def engine_fixture(request, tmp_path_factory) -> DockerEngine:
    """For a module-scoped fixture: one started engine with ``tiny:1``, removed afterwards."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    engine = DockerEngine().start()
    request.addfinalizer(engine.remove)
    engine.import_tiny()
    return engine


def event_lines(text: str) -> list[dict]:
    """The JSON events of a ``--stdout`` run (one per line)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def actions_of(events: list[dict], container: str) -> list[str]:
    """The actions of one container's events, in the order they were sent."""
    return [e["docker"]["Action"] for e in events
            if e["docker"].get("Type") == "container" and e["docker"]["Actor"]["ID"] == container]


def keys_of(events: list[dict]) -> list[tuple]:
    """One key per sent event: two equal keys mean the event was sent twice."""
    return [(e["docker"]["timeNano"], e["docker"].get("Type"), e["docker"]["Action"],
             e["docker"]["Actor"]["ID"]) for e in events]
