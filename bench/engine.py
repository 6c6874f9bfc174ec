"""Analysis engine benchmark: ruleset load time, RSS, events/s on one core.

Usage: .venv/bin/python bench/engine.py [--events N] [--ruleset DIR]

Loads the full Wazuh ruleset (../shared/wazuh-ruleset, plus its testing
extras, as the regression suite does), then replays (a) the suite's syslog
lines and (b) its JSON lines until N events each (default 200,000), in one
process on one core, and prints the figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins" / "analysis"))

from wazuhd_analysis.engine import Engine  # noqa: E402
from wazuhd_analysis.inirunner import parse_ini  # noqa: E402
from wazuhd_analysis.suite import find_wazuh_ruleset, load_suite_ruleset, suite_ini_files  # noqa: E402


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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--ruleset", default=None)
    args = ap.parse_args()
    rdir = args.ruleset or find_wazuh_ruleset(str(REPO))
    if rdir is None:
        print("Wazuh ruleset not found (expected ../shared/wazuh-ruleset)")
        return 2
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
