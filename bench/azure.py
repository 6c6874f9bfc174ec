"""Azure plugin benchmark: Blob Storage records per second from a real Azurite.

    .venv/bin/python bench/azure.py [--blobs 2000] [--records 50] [--concurrency 8]

Fills a container of a real Azurite (``azurite-blob``, installed by ``make install``)
with Azure diagnostic-log blobs (a JSON document with ``records``, ``--records``
each, spread over five days' folders) and prints records/s for:

1. parsing alone (UTF-8, JSON, tags, event JSON) on the blobs' bytes;
2. the storage source in-process: list, download (``--concurrency`` at a time),
   parse, hand over in (last modified, name) order and commit per batch, into memory;
3. end to end into a running daemon's queue: ``wazuhd azure storage --home`` sending
   to the queue socket (process start included), and how long the daemon's analysis
   engine then takes to have received all of them;
4. the same container as a service inside the daemon (``azure.storage`` in its
   config): from the daemon's start until its counters show every record emitted
   into the event channel.

Azurite is one Node.js process storing on disk: its latency is part of figures 2-4.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This file's own folder comes first on sys.path, where "azure" would be this script,
# not Microsoft's package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT / "plugins" / "azure" / "tests"))

import trio  # noqa: E402

from azure_helpers import DEV_ACCOUNT, Azurite, azurite_binary, storage_entry  # noqa: E402
from wazuhd.collect import FileCheckpoints, SourceStats, StdoutSink, run_once  # noqa: E402
from wazuhd.testing import DaemonProcess, wait_for, wazuhd_command  # noqa: E402
from wazuhd_azure import config  # noqa: E402
from wazuhd_azure.storage import parse_blob  # noqa: E402

CONTAINER = "insights-logs-bench"


def blobs(count: int, records: int) -> dict[str, bytes]:
    out = {}
    for n in range(count):
        day, hour = 20 + n % 5, n % 24
        document = {"records": [{
            "time": f"2026-11-{day}T{hour:02d}:{i % 60:02d}:00.0000000Z",
            "resourceId": "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1",
            "operationName": ("VaultGet", "SecretGet", "SecretList", "KeySign")[i % 4],
            "category": "AuditEvent", "resultType": "Success", "durationMs": i,
            "callerIpAddress": f"203.0.113.{i % 250}", "correlationId": f"{n:06d}-{i:04d}",
            "identity": {"claim": {"upn": "alice@contoso.com"}}} for i in range(records)]}
        out[f"resourceId=/SUBSCRIPTIONS/S1/y=2026/m=11/d={day}/h={hour:02d}/m=00/"
            f"PT1H-{n:06d}.json"] = json.dumps(document).encode()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=2000)
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    binary = azurite_binary()
    if binary is None:
        sys.exit("Azurite not installed (make install puts azurite-blob in .venv/azurite)")
    total = args.blobs * args.records
    with tempfile.TemporaryDirectory() as tmp:
        azurite = Azurite(binary, Path(tmp) / "azurite")
        try:
            contents = blobs(args.blobs, args.records)
            began = time.perf_counter()
            azurite.upload(CONTAINER, contents)
            print(f"container filled: {args.blobs} blobs x {args.records} records = {total} records "
                  f"({sum(map(len, contents.values())) / 1e6:.1f} MB) in "
                  f"{time.perf_counter() - began:.1f} s")

            began = time.perf_counter()
            parsed = sum(len(json.dumps(event, separators=(",", ":")))
                         for body in contents.values()
                         for event in parse_blob(body, "json_file", "bench")[0])
            seconds = time.perf_counter() - began
            assert parsed
            print(f"1. parse + tag only:               {total / seconds:>9,.0f} records/s "
                  f"({seconds:.2f} s)")

            entry = storage_entry(azurite, CONTAINER, max_concurrency=args.concurrency)
            source = config.storage_source(entry, 600)
            stream, stats = io.StringIO(), SourceStats()
            began = time.perf_counter()
            trio.run(run_once, source, StdoutSink(stream), FileCheckpoints(Path(tmp) / "s.json"),
                     stats)
            seconds = time.perf_counter() - began
            assert stats.events == total, stats
            print(f"2. storage source -> memory:       {total / seconds:>9,.0f} records/s "
                  f"({seconds:.2f} s, {args.blobs / seconds:,.0f} blobs/s)")

            daemon = DaemonProcess(Path(tmp) / "home", config="plugins:\n  disabled: [http]\n").start()
            try:
                began = time.perf_counter()
                sent = subprocess.run(
                    wazuhd_command("azure", "storage", "--container", CONTAINER,
                                   "--connection-string", azurite.connection_string,
                                   "--content-type", "json_file",
                                   "--max-concurrency", str(args.concurrency),
                                   "--home", str(daemon.home)),
                    capture_output=True, text=True)
                seconds = time.perf_counter() - began
                assert sent.returncode == 0, sent.stderr
                print(f"3. wazuhd azure storage --home:    {total / seconds:>9,.0f} records/s "
                      f"into the daemon's queue ({seconds:.2f} s, process start included)")

                def received():
                    return daemon.counters("analysis")["received"]
                wait_for(lambda: received() >= total, timeout=900)
                seconds = time.perf_counter() - began
                print(f"   analysed by the daemon:         {received() / seconds:>9,.0f} records/s "
                      f"({received()} events in {seconds:.2f} s from the start of the run)")
            finally:
                daemon.terminate()

            name = f"azure-storage:{DEV_ACCOUNT}/{CONTAINER}"
            daemon = DaemonProcess(Path(tmp) / "home2", config=(
                "plugins:\n  disabled: [http]\n"
                f"azure:\n  interval: 3600\n  storage:\n    - {json.dumps(entry)}\n"))
            began = time.perf_counter()
            daemon.start()
            try:
                def emitted():
                    return daemon.counters("azure")[name]["events"]
                wait_for(lambda: emitted() >= total, timeout=900)
                seconds = time.perf_counter() - began
                print(f"4. azure service in the daemon:    {emitted() / seconds:>9,.0f} records/s "
                      f"into the event channel ({emitted()} in {seconds:.2f} s, daemon start "
                      f"included)")
            finally:
                daemon.terminate()
        finally:
            azurite.stop()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
