"""File integrity monitoring benchmark.

    .venv/bin/python bench/syscheck.py [--files 100000] [--changes 30]

1. generates a tree of ``--files`` small files (100 bytes each, 1,000 per directory);
2. runs the monitor in this process on a real store, as the daemon does (walk and hashing in
   worker threads, decisions in the trio thread): a first scan (records the baseline), a
   rescan with nothing changed, and a rescan after 1% of the files changed; each line prints
   files/s and this process's RSS after the phase (and its peak so far);
3. starts a real daemon (analysis with Wazuh's ruleset when ../shared has it) monitoring a
   small directory in realtime, changes a file ``--changes`` times and prints the latency from
   the write to the alert in ``alerts.json`` (p50, p90, max).

Load from other processes on the machine shows in every figure: note ``uptime`` with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "syscheck" / "tests"))

from syscheck_helpers import SyscheckDaemon, make_monitor, scan_count  # noqa: E402
from wazuhd.testing import wait_for  # noqa: E402


def memory() -> str:
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return f"RSS {fields['VmRSS']} (peak {fields['VmHWM']})"


def generate(root: Path, count: int) -> None:
    per_directory = 1000
    payload = b"x" * 90
    for index in range(count):
        directory = root / f"d{index // per_directory:04d}"
        if index % per_directory == 0:
            directory.mkdir(parents=True)
        with open(directory / f"f{index:06d}.txt", "wb") as file:
            file.write(payload + b"%09d\n" % index)


async def scans(root: Path, home: Path, count: int) -> None:
    monitor, sent = make_monitor(home, [{"path": str(root)}])
    await monitor.load()
    for label, change in (("first scan (baseline)", None), ("rescan, nothing changed", None),
                          ("rescan, 1% changed", 100)):
        if change:
            for index in range(0, count, change):
                path = root / f"d{index // 1000:04d}" / f"f{index:06d}.txt"
                path.write_bytes(b"changed %d\n" % index)
        began = time.perf_counter()
        report = await monitor.scan()
        seconds = time.perf_counter() - began
        events = len(sent.events)
        sent.events.clear()
        print(f"  {label:28} {report['files']:>7} files in {seconds:6.2f} s = "
              f"{report['files'] / seconds:>8,.0f} files/s, {events:>5} events, {memory()}")


def realtime_latency(base: Path, changes: int) -> None:
    watched = base / "live"
    watched.mkdir()
    target = watched / "file.txt"
    target.write_text("start\n")
    daemon = SyscheckDaemon(base / "daemon-home", [{"path": str(watched), "realtime": True}],
                            extra="  realtime_delay: 0.01\n")
    daemon.start(timeout=90)
    alerts = daemon.home / "logs" / "alerts" / "alerts.json"
    try:
        assert wait_for(lambda: scan_count(daemon) >= 1, 30)
        latencies = []
        for index in range(changes):
            seen = alerts.stat().st_size if alerts.exists() else 0
            began = time.perf_counter()
            target.write_text(f"change {index}\n")
            while True:
                if alerts.exists() and alerts.stat().st_size > seen:
                    with open(alerts) as file:
                        file.seek(seen)
                        if any('"syscheck"' in line for line in file):
                            break
                time.sleep(0.001)
            latencies.append(time.perf_counter() - began)
            time.sleep(0.05)
        latencies.sort()
        milliseconds = [x * 1000 for x in latencies]
        print(f"  realtime change -> alert over {changes} changes: p50 {statistics.median(milliseconds):.1f} ms, "
              f"p90 {milliseconds[int(len(milliseconds) * 0.9) - 1]:.1f} ms, max {milliseconds[-1]:.1f} ms "
              f"(realtime_delay 10 ms; alerts.json polled every 1 ms)")
        rss = subprocess.run(["ps", "-o", "rss=", "-p", str(daemon.proc.pid)], capture_output=True,
                             text=True).stdout.strip()
        print(f"  daemon RSS {int(rss) // 1024} MB")
        last = json.loads(alerts.read_text().splitlines()[-1])
        print(f"  last alert: rule {last['rule']['id']} ({last['rule']['description']}), "
              f"mode {last['syscheck']['mode']}")
    finally:
        daemon.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=30)
    args = parser.parse_args()
    print(f"syscheck bench: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="wazuhd-bench-syscheck-") as temporary:
        base = Path(temporary)
        began = time.perf_counter()
        generate(base / "tree", args.files)
        print(f"  generated {args.files} files in {time.perf_counter() - began:.1f} s")
        trio.run(scans, base / "tree", base / "home", args.files)
        realtime_latency(base, args.changes)


if __name__ == "__main__":
    main()
