"""Analysis engine benchmark: ruleset load time, RSS, events/s on one core.

Usage: .venv/bin/python bench/engine.py [--events N] [--ruleset DIR]

Loads the full Wazuh ruleset (../shared/wazuh-ruleset, plus its testing
extras, as the regression suite does), then replays (a) the suite's syslog
lines and (b) its JSON lines until N events each (default 200,000), in one
process on one core, and prints the figures. Then (c) end to end: a real
daemon with the Wazuh ruleset configured, the syslog lines sent to its
``queue`` socket from another process, timed until the daemon has analysed
them all and written the alerts to alerts.json.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins" / "analysis"))

from wazuhd_analysis.engine import Engine  # noqa: E402
from wazuhd_analysis.inirunner import parse_ini  # noqa: E402
from wazuhd_analysis.suite import find_wazuh_ruleset, load_suite_ruleset, suite_ini_files  # noqa: E402
from wazuhd.events import Event  # noqa: E402
from wazuhd.testing import DaemonProcess  # noqa: E402


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(engine: Engine, lines: list[str], n: int) -> tuple[float, int, int]:
    k = len(lines)
    alerts = 0
    decoded = 0
    process = engine.process
    t0 = time.perf_counter()
    c0 = time.process_time()
    for i in range(n):
        r = process(lines[i % k])
        if r.alert is not None:
            alerts += 1
        if r.event.decoder is not None:
            decoded += 1
    dt = time.perf_counter() - t0
    ct = time.process_time() - c0
    return n / dt, n / ct, alerts, decoded


def _send(path: str, lines: list[str], n: int) -> None:
    """Sender process: n events to the daemon's queue socket, as fast as it takes them."""
    wires = [Event("1", "/var/log/bench.log", line).to_wire() for line in lines]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        for i in range(n):
            sock.sendto(wires[i % len(wires)], path)


def end_to_end(rdir: str, lines: list[str], n: int) -> None:
    ruleset = Path(rdir)
    config = ("plugins:\n  disabled: [http]\ndaemon:\n  shutdown_timeout: 120\n"
              f"analysis:\n  ruleset:\n    decoder_dirs: [{ruleset / 'decoders'}]\n"
              f"    rule_dirs: [{ruleset / 'rules'}]\n    list_files: [{ruleset / 'lists'}]\n")
    with tempfile.TemporaryDirectory() as tmp:
        daemon = DaemonProcess(Path(tmp) / "home", config=config).start(timeout=120)
        try:
            t0 = time.perf_counter()
            sender = multiprocessing.Process(target=_send,
                                             args=(str(daemon.socket("queue")), lines, n))
            sender.start()
            counters = {}
            while counters.get("received", 0) < n:
                time.sleep(0.05)
                counters = daemon.counters("analysis")
            elapsed = time.perf_counter() - t0
            sender.join()
            print(f"end to end (queue socket -> analysis -> alerts.json): {n} events in "
                  f"{elapsed:.1f} s = {n / elapsed:,.0f} EPS ({counters['written']} alerts "
                  f"written, daemon on all cores)")
        finally:
            daemon.terminate(timeout=120)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--ruleset", default=None)
    args = ap.parse_args()
    rdir = args.ruleset or find_wazuh_ruleset(str(REPO))
    if rdir is None:
        print("Wazuh ruleset not found (expected ../shared/wazuh-ruleset)")
        return 2
    all_cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(all_cores)})
    base = rss_mb()
    t0 = time.perf_counter()
    rs = load_suite_ruleset(rdir)
    load_s = time.perf_counter() - t0
    gc.collect()
    print(f"ruleset: {len(rs.decoders.decoders)} decoders, {len(rs.rules.order)} rules, {len(rs.lists)} lists")
    print(f"load time: {load_s:.2f} s")
    print(f"RSS after load: {rss_mb():.0f} MB (interpreter before load: {base:.0f} MB)")
    syslog, js = [], []
    for f in suite_ini_files(rdir):
        for case in parse_ini(f):
            for line in case.lines:
                (js if line.lstrip().startswith("{") else syslog).append(line)
    for name, lines in (("syslog mix", syslog), ("JSON mix", js)):
        eng = Engine(rs)
        eps, ceps, alerts, decoded = run(eng, lines, args.events)
        print(f"{name}: {len(lines)} distinct lines replayed to {args.events} events: "
              f"{eps:,.0f} EPS wall, {ceps:,.0f} EPS per CPU-second, one core "
              f"({decoded / args.events:.0%} decoded, {alerts} alerts)")
    print(f"RSS at end: {rss_mb():.0f} MB")
    os.sched_setaffinity(0, all_cores)
    end_to_end(rdir, syslog, args.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
