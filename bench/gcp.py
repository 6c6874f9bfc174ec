"""GCP plugin benchmark: Pub/Sub messages per second from the emulator into the queue.

    .venv/bin/python bench/gcp.py [--messages 20000] [--threads 1,4] [--analysis]

Starts the real Pub/Sub emulator (Debian's google-cloud-cli-pubsub-emulator, Java),
publishes ``--messages`` Cloud Audit Log entries (~1 KiB each) per measurement and prints
messages/s for:

1. formatting alone: payload -> ``{"integration": "gcp", "gcp": ...}`` event JSON;
2. the daemon's streaming source in-process (``num_threads`` streams, flow control 1000),
   acknowledging after each batch is handed to a memory sink;
3. end to end into a running daemon: ``gcp.pubsub`` configured, from when the daemon opened
   the stream until its counters show every message handed to the event queue and
   acknowledged (analysis disabled so the queue's consumer is not what is measured;
   ``--analysis`` keeps it, and then also reports when the engine had received them all);
4. the standalone synchronous pull (``wazuhd gcp pubsub --stdout``, 4 pulls at once)
   in-process, until the last event is written.

The emulator paces each streaming pull at about 100 messages every 50 ms (~2,000/s per
stream), so the streaming figures grow with ``num_threads`` until the CPU is the limit;
a real Pub/Sub endpoint does not pace streams that way.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "gcp" / "tests"))

import trio  # noqa: E402

from gcp_helpers import PROJECT, PubSub, PubSubEmulator  # noqa: E402
from wazuhd import collect  # noqa: E402
from wazuhd.testing import DaemonProcess, wait_for  # noqa: E402
from wazuhd_gcp import records  # noqa: E402
from wazuhd_gcp.pubsub import PubSubPullSource, PubSubSource  # noqa: E402


def audit_entry(number: int) -> bytes:
    return json.dumps({
        "insertId": f"bench{number}", "logName": "projects/p/logs/"
        "cloudaudit.googleapis.com%2Factivity", "severity": "NOTICE",
        "timestamp": "2024-01-01T00:00:00.000000Z", "receiveTimestamp": "2024-01-01T00:00:01Z",
        "resource": {"type": "gce_firewall_rule", "labels": {"project_id": "p",
                                                             "firewall_rule_id": "123"}},
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "methodName": "v1.compute.firewalls.insert", "serviceName": "compute.googleapis.com",
            "resourceName": f"projects/p/global/firewalls/allow-{number}",
            "authenticationInfo": {"principalEmail": "admin@example.com"},
            "authorizationInfo": [{"granted": True, "permission": "compute.firewalls.create",
                                   "resource": "projects/p/global/firewalls/x"}],
            "requestMetadata": {"callerIp": "203.0.113.9", "callerSuppliedUserAgent":
                                "google-cloud-sdk gcloud/460.0.0 command/gcloud.compute"},
            "request": {"name": f"allow-{number}", "direction": "INGRESS", "priority": 1000,
                        "allowed": [{"IPProtocol": "tcp", "ports": ["22", "3389"]}],
                        "sourceRanges": ["0.0.0.0/0"]},
            "response": {"operationType": "insert", "status": "RUNNING", "progress": "0"}},
    }).encode()


class CountingSink(collect.Sink):
    async def send(self, events):
        pass


class LineClock(io.StringIO):
    """A stdout that notes when the last of ``expected`` lines was written."""

    def __init__(self, expected: int):
        super().__init__()
        self.expected, self.lines, self.done_at = expected, 0, None

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        if self.done_at is None and self.lines >= self.expected:
            self.done_at = time.perf_counter()
        return len(text)


def formatting(payloads: list[bytes]) -> float:
    began = time.perf_counter()
    for payload in payloads:
        record, _ = records.pubsub_event(payload, {}, "1", None)
        json.dumps(record, separators=(",", ":"), default=str)
    return len(payloads) / (time.perf_counter() - began)


def streaming_in_process(pubsub: PubSub, payloads: list[bytes], threads: int) -> float:
    topic, subscription = pubsub.subscription()
    pubsub.publish(topic, payloads)
    source = PubSubSource(project_id=PROJECT, subscription_name=subscription,
                          max_messages=1000, num_threads=threads)
    elapsed = 0.0

    async def main():
        nonlocal elapsed
        stats = collect.SourceStats()
        with tempfile.TemporaryDirectory() as folder:
            checkpoints = collect.FileCheckpoints(Path(folder) / "state.json")
            async with trio.open_nursery() as nursery:
                began = time.perf_counter()
                nursery.start_soon(collect.run_once, source, CountingSink(), checkpoints, stats)
                while stats.extra.get("acknowledged", 0) < len(payloads):
                    await trio.sleep(0.01)
                elapsed = time.perf_counter() - began
                nursery.cancel_scope.cancel()

    trio.run(main)
    return len(payloads) / elapsed


def daemon_end_to_end(pubsub: PubSub, payloads: list[bytes], threads: int,
                      analysis: bool) -> tuple[float, float | None]:
    topic, subscription = pubsub.subscription()
    pubsub.publish(topic, payloads)
    disabled = "[http]" if analysis else "[http, analysis]"
    config = (f"plugins:\n  disabled: {disabled}\n"
              f"gcp:\n  pubsub:\n    - project_id: {PROJECT}\n"
              f"      subscription_name: {subscription}\n"
              f"      num_threads: {threads}\n      max_messages: 1000\n")
    name = f"gcp-pubsub:{PROJECT}/{subscription}"
    with tempfile.TemporaryDirectory() as folder:
        daemon = DaemonProcess(Path(folder) / "home", env={"PUBSUB_EMULATOR_HOST": pubsub.host},
                               config=config)
        daemon.start(timeout=60)
        try:
            def status():
                return daemon.request("control", "status")["counters"]

            if not wait_for(lambda: status()["gcp"][name].get("acknowledged", 0)
                            >= len(payloads), timeout=600):
                raise SystemExit(f"only {status()['gcp'][name]} arrived")
            # From when the daemon opened the stream (its run's start, wall clock).
            began = status()["gcp"][name]["last_run_at"]
            queued = time.time() - began
            analysed = None
            if analysis:
                wait_for(lambda: status().get("analysis", {}).get("received", 0)
                         >= len(payloads), timeout=600)
                analysed = len(payloads) / (time.time() - began)
        finally:
            daemon.terminate(timeout=60)
            daemon.kill()
    return len(payloads) / queued, analysed


def standalone(pubsub: PubSub, payloads: list[bytes]) -> float:
    """Until the last event is written (the run then waits for one empty pull to end)."""
    topic, subscription = pubsub.subscription()
    pubsub.publish(topic, payloads)
    source = PubSubPullSource(project_id=PROJECT, subscription_name=subscription,
                              max_messages=len(payloads), num_threads=4)
    stream = LineClock(len(payloads))
    with tempfile.TemporaryDirectory() as folder:
        args = argparse.Namespace(stdout=True, state=str(Path(folder) / "state.json"),
                                  home=str(Path(folder) / "home"))
        began = time.perf_counter()
        collect.run_standalone(source, args, stream=stream)
    return len(payloads) / (stream.done_at - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--threads", default="1,4", help="num_threads values to measure")
    parser.add_argument("--analysis", action="store_true",
                        help="keep the analysis plugin in the end-to-end daemon")
    options = parser.parse_args()
    threads = [int(value) for value in options.threads.split(",")]
    payloads = [audit_entry(n) for n in range(options.messages)]
    size = sum(map(len, payloads)) / len(payloads)
    print(f"{options.messages} messages of {size:.0f} bytes on average, {os.cpu_count()} CPUs")
    print(f"formatting alone:                               {formatting(payloads):9,.0f} msg/s")
    with PubSubEmulator() as emulator:
        os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
        pubsub = PubSub(emulator.host)
        for count in threads:
            rate = streaming_in_process(pubsub, payloads, count)
            print(f"streaming source, {count} stream(s), memory sink:     {rate:9,.0f} msg/s")
        for count in threads:
            queued, analysed = daemon_end_to_end(pubsub, payloads, count, options.analysis)
            print(f"daemon, {count} stream(s), emulator -> event queue:   {queued:9,.0f} msg/s"
                  + (f" (analysed: {analysed:,.0f}/s)" if analysed else ""))
        rate = standalone(pubsub, payloads)
        print(f"standalone pull (4 at once) -> stdout:          {rate:9,.0f} msg/s")


if __name__ == "__main__":
    main()
