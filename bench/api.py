"""Benchmark the HTTP API: requests/s and p50/p99 latency, 1 and 32 concurrent clients.

Starts a real daemon (``python -m wazuhd start --home TMP``) with its API on
127.0.0.1:<free port>, HTTPS with its self-signed certificate, and the per-user
request limit off (``access.max_request_per_minute: 0``), then measures:

* ``GET /security/users`` with an admin JWT (token check, RBAC, SQLite read, JSON);
* ``POST /security/user/authenticate`` (HTTP Basic; scrypt password check, ES512 signing).

How the client side is kept out of the way: clients are asyncio tasks, one
``httpx.AsyncClient`` (own TLS connection, HTTP/1.1 keep-alive) per client, spread
over ``--procs`` worker processes (default 2, one per core) so no single GIL carries
all 32. Each worker warms up until a common start time, then records every request's
latency of every request completed inside the next ``--seconds`` (twice that for
login); requests/s = completions in the window / its length. The table shows, over the same window, the CPU the daemon
used (from /proc/<pid>/stat, all its threads) and the CPU all client processes used
(``time.process_time``): when the daemon's CPU is at or near the cores available and
the clients' well below, the figures are the daemon's, not the load generator's.
"CPU ms/req" (daemon CPU seconds / requests served) does not depend on what else
the machine runs, unlike requests/s; the daemon serves HTTP on one trio thread, so
1000 / (CPU ms/req) is its ceiling in requests/s for GET (logins hash in worker threads).
Usage::

    .venv/bin/python bench/api.py [--seconds 3] [--clients 1,32] [--procs 2]

Runs in about 35 s with the defaults (well under 90 s).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import shutil
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from wazuhd.testing import DaemonProcess, free_port

USER, PASSWORD = "wazuh", "wazuh"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def _client(url: str, cafile: str, kind: str, token: str, start: float, end: float,
                  latencies: list[float], errors: list[int]) -> None:
    verify = ssl.create_default_context(cafile=cafile)
    async with httpx.AsyncClient(base_url=url, verify=verify, timeout=30) as client:
        if kind == "users":
            method, path, authorization = "GET", "/security/users", f"Bearer {token}"
        else:
            basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            method, path, authorization = "POST", "/security/user/authenticate", f"Basic {basic}"
        headers = {"Authorization": authorization}
        while True:
            began = time.time()
            if began >= end:
                return
            reply = await client.request(method, path, headers=headers)
            done = time.time()
            # counted when completed inside the window: throughput = completions / window
            # (before: warm-up with the TLS handshake; after: the window is over)
            if start <= done < end:
                latencies.append(done - began)
                if reply.status_code != 200:
                    errors.append(reply.status_code)


def worker(url: str, cafile: str, kind: str, token: str, clients: int, start: float,
           end: float, results) -> None:
    latencies: list[float] = []
    errors: list[int] = []
    cpu = {}

    async def main():
        async def mark():
            await asyncio.sleep(max(0.0, start - time.time()))
            cpu["start"] = time.process_time()
            await asyncio.sleep(max(0.0, end - time.time()))
            cpu["end"] = time.process_time()
        await asyncio.gather(mark(), *(_client(url, cafile, kind, token, start, end, latencies,
                                               errors) for _ in range(clients)))

    try:
        asyncio.run(main())
    except BaseException as exc:  # the parent reports it instead of waiting
        results.put(exc)
        raise
    results.put((latencies, errors, cpu["end"] - cpu["start"]))


def measure(daemon: DaemonProcess, url: str, cafile: str, kind: str, token: str, clients: int,
            procs: int, seconds: float, warmup: float) -> dict:
    procs = max(1, min(procs, clients))
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    start = time.time() + warmup
    end = start + seconds
    results = mp.Queue()
    workers = [mp.Process(target=worker, args=(url, cafile, kind, token, n, start, end, results))
               for n in shares]
    for process in workers:
        process.start()
    time.sleep(max(0.0, start - time.time()))
    server_before = process_cpu(daemon.proc.pid)
    time.sleep(max(0.0, end - time.time()))
    server_cpu = process_cpu(daemon.proc.pid) - server_before
    latencies, errors, client_cpu = [], [], 0.0
    for _ in workers:
        outcome = results.get(timeout=seconds + warmup + 60)
        if isinstance(outcome, BaseException):
            raise RuntimeError(f"a client worker failed: {outcome!r}")
        part, failed, cpu = outcome
        latencies += part
        errors += failed
        client_cpu += cpu
    for process in workers:
        process.join()
    latencies.sort()
    count = len(latencies)
    return {
        "rps": count / seconds,
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99": latencies[min(count - 1, int(count * 0.99))] * 1000 if latencies else float("nan"),
        "requests": count,
        "errors": len(errors),
        "server_cpu": server_cpu / seconds * 100,
        "cpu_per_request": server_cpu / count * 1000 if count else float("nan"),
        "client_cpu": client_cpu / seconds * 100,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="measured window per row (twice that for login, ~10 logins/s)")
    parser.add_argument("--warmup", type=float, default=1.5, help="warm-up before each window")
    parser.add_argument("--clients", default="1,32", help="concurrent clients, comma separated")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 2,
                        help="client worker processes")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]

    began = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="wazuhd-bench-api-"))
    port = free_port()
    config = (f"api:\n  host: 127.0.0.1\n  port: {port}\n"
              f"  access:\n    max_request_per_minute: 0\n")
    daemon = DaemonProcess(home / "home", config=config)
    daemon.start()
    try:
        url = f"https://127.0.0.1:{port}"
        cafile = str(daemon.home / "etc" / "api" / "server.crt")
        with httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=cafile)) as c:
            reply = c.post("/security/user/authenticate", auth=(USER, PASSWORD))
            reply.raise_for_status()
            token = reply.json()["data"]["token"]
        print(f"wazuhd API on {url} (HTTPS, HTTP/1.1 keep-alive), {os.cpu_count()} cores; "
              f"{args.seconds:g} s per row ({2 * args.seconds:g} s for login) after {args.warmup:g} s "
              f"warm-up; clients as asyncio "
              f"tasks over up to {args.procs} processes")
        header = (f"{'operation':34} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'requests':>8} {'non-200':>7} {'daemon CPU':>10} {'client CPU':>10} "
                  f"{'CPU ms/req':>10}")
        print(header)
        print("-" * len(header))
        for kind, label in (("users", "GET /security/users"),
                            ("login", "POST /security/user/authenticate")):
            for clients in counts:
                seconds = args.seconds * (2 if kind == "login" else 1)
                row = measure(daemon, url, cafile, kind, token, clients, args.procs,
                              seconds, args.warmup)
                print(f"{label:34} {clients:>7} {row['rps']:>8.1f} {row['p50']:>8.2f} "
                      f"{row['p99']:>8.2f} {row['requests']:>8} {row['errors']:>7} "
                      f"{row['server_cpu']:>9.0f}% {row['client_cpu']:>9.0f}% "
                      f"{row['cpu_per_request']:>10.2f}", flush=True)
    finally:
        code, _, err, _ = daemon.terminate()
        shutil.rmtree(home, ignore_errors=True)
    print(f"(CPU: 100% = one core; CPU ms/req = daemon CPU per request, the figure that holds "
          f"on a busy machine; daemon stopped with exit code {code}; "
          f"total {time.monotonic() - began:.1f} s)")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
