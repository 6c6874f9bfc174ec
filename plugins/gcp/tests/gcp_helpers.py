"""Shared fixtures and helpers of the gcp plugin's tests: the real emulators, a daemon
with archives on, and ways to publish, upload and read what arrived."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from wazuhd import collect
from wazuhd.testing import DaemonProcess, free_port, wazuhd_command

PUBSUB_LAUNCHER = Path(os.environ.get(
    "WAZUHD_PUBSUB_EMULATOR",
    "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"))
STORAGE_LAUNCHER = Path(sys.executable).parent / "gcp-storage-emulator"
PROJECT = "wazuhd-test"
#: The analysis plugin keeps every event in archives.json; the API is not needed.
DAEMON_BASE = "plugins:\n  disabled: [http]\nanalysis:\n  archives:\n    enabled: true\n"


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PubSubEmulator:
    """The Pub/Sub emulator (Java) on a free loopback port, as a context manager; ``host``
    is its ``host:port``. Raises LookupError naming what is missing when it is absent."""

    def __enter__(self) -> "PubSubEmulator":
        if not PUBSUB_LAUNCHER.exists():
            raise LookupError(f"Pub/Sub emulator not installed ({PUBSUB_LAUNCHER}; Debian "
                              f"package google-cloud-cli-pubsub-emulator)")
        if shutil.which("java") is None:
            raise LookupError("the Pub/Sub emulator needs java, which is not on PATH")
        port = free_port()
        self.host = f"127.0.0.1:{port}"
        self.proc = subprocess.Popen([str(PUBSUB_LAUNCHER), "--host=127.0.0.1",
                                      f"--port={port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(port, self.proc, "the Pub/Sub emulator", timeout=60)
        return self

    def __exit__(self, *exc_info) -> None:
        _stop(self.proc)


@pytest.fixture(scope="module")
def pubsub_emulator():
    """The emulator's ``host:port`` for a module's tests; skipped when it is absent."""
    try:
        emulator = PubSubEmulator().__enter__()
    except LookupError as missing:
        pytest.skip(str(missing))
    try:
        yield emulator.host
    finally:
        emulator.__exit__(None, None, None)


@pytest.fixture(scope="module")
def storage_emulator(tmp_path_factory):
    """gcp-storage-emulator on a free loopback port: its ``http://host:port``."""
    if not STORAGE_LAUNCHER.exists():
        pytest.skip(f"gcp-storage-emulator not installed ({STORAGE_LAUNCHER}; "
                    f"pip install 'wazuhd-gcp[test]')")
    port = free_port()
    data = tmp_path_factory.mktemp("gcs")
    proc = subprocess.Popen([str(STORAGE_LAUNCHER), "-d", str(data), "start", "-H", "127.0.0.1",
                             "--port", str(port), "--in-memory", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc, "gcp-storage-emulator", timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def pubsub(pubsub_emulator):
    """A publisher and subscriber on the emulator (PUBSUB_EMULATOR_HOST set meanwhile)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
        yield PubSub(pubsub_emulator)


@pytest.fixture(scope="module")
def storage(storage_emulator):
    """An anonymous Cloud Storage client on the emulator (STORAGE_EMULATOR_HOST set meanwhile)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORAGE_EMULATOR_HOST", storage_emulator)
        from google.cloud import storage as google_storage
        yield google_storage.Client.create_anonymous_client()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class PubSub:
    """Topics and subscriptions on the emulator, and publishing to them."""

    def __init__(self, host: str):
        from google.cloud import pubsub_v1
        self.pubsub_v1 = pubsub_v1
        self.host = host
        self.publisher = pubsub_v1.PublisherClient(batch_settings=pubsub_v1.types.BatchSettings(
            max_messages=1000, max_latency=0.02))
        self.subscriber = pubsub_v1.SubscriberClient()

    def subscription(self, ack_deadline: int = 10) -> tuple[str, str]:
        """A new topic and its subscription: (topic path, subscription name)."""
        name = unique("wazuhd")
        topic = self.publisher.topic_path(PROJECT, name)
        self.publisher.create_topic(name=topic)
        self.subscriber.create_subscription(
            name=self.subscriber.subscription_path(PROJECT, name), topic=topic,
            ack_deadline_seconds=ack_deadline)
        return topic, name

    def publish(self, topic: str, payloads, **attributes) -> None:
        futures = [self.publisher.publish(topic, payload, **attributes) for payload in payloads]
        for future in futures:
            future.result(timeout=60)

    def leftover(self, subscription: str, wait: float = 3.0) -> list:
        """What a pull still gets from the subscription (acknowledging it)."""
        path = self.subscriber.subscription_path(PROJECT, subscription)
        try:
            response = self.subscriber.pull(subscription=path, max_messages=1000, timeout=wait)
        except Exception:  # noqa: BLE001 - the emulator answers an empty wait with a deadline
            return []
        received = list(response.received_messages)
        if received:
            self.subscriber.acknowledge(subscription=path,
                                        ack_ids=[item.ack_id for item in received])
        return received


def numbered(count: int, start: int = 0, **extra) -> list[bytes]:
    """JSON log entries carrying their number ``n``."""
    return [json.dumps({"n": n, "severity": "INFO", **extra}).encode()
            for n in range(start, start + count)]


def archived(home: Path) -> list[dict]:
    """The gcp events the daemon's analysis received, from archives.json, in order."""
    path = home / "logs" / "archives" / "archives.json"
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the last line may be half written
        if record.get("location") == "Wazuh-GCloud":
            events.append(json.loads(record["full_log"]))
    return events


def alerts(home: Path) -> list[dict]:
    path = home / "logs" / "alerts" / "alerts.json"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def gcp_counters(daemon: DaemonProcess) -> dict:
    return daemon.counters("gcp")


def daemon_with(home: Path, gcp_yaml: str, env: dict) -> DaemonProcess:
    """A daemon whose analysis keeps every event in archives.json (where tests look)."""
    pytest.importorskip("wazuhd_analysis", reason="the daemon tests read archives.json, "
                                                  "written by wazuhd-analysis (not installed)")
    return DaemonProcess(home, env=env, config=DAEMON_BASE + gcp_yaml)


def run_cli(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(wazuhd_command("gcp", *args), env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def stdout_events(result: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def fake_key_file(path: Path, **fields) -> Path:
    """A key file holding a recognisable fake secret (which must never be printed)."""
    path.write_text(json.dumps({"type": "service_account", "project_id": PROJECT,
                                "private_key_id": "abc",
                                "private_key": "-----BEGIN PRIVATE KEY-----\nSECRET-KEY-MATERIAL"
                                               "\n-----END PRIVATE KEY-----\n",
                                "client_email": f"reader@{PROJECT}.iam.gserviceaccount.com",
                                "token_uri": "https://oauth2.googleapis.com/token", **fields}))
    return path


def run_once(source, state: Path) -> tuple[int, list[dict]]:
    """The standalone runner in this process (``--stdout --state FILE``): exit code, events."""
    stream = io.StringIO()
    args = argparse.Namespace(stdout=True, state=str(state), home=str(state.parent / "home"))
    code = collect.run_standalone(source, args, stream=stream)
    return code, [json.loads(line) for line in stream.getvalue().splitlines()]
