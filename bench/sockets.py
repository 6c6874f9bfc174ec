"""Benchmark the framed Unix sockets: round trips per second and p50/p99 latency.

Starts a real daemon (``python -m wazuhd start --home TMP``) with the example
plugin installed by pip into a temporary folder, then sends ~1 KiB framed
requests from 1 and from 32 concurrent clients:

* ``control/ping`` with a 1 KiB ``parameters`` blob (ping ignores it; ~40-byte reply)
* ``example/echo`` with the same blob (the 1 KiB comes back)

Clients are separate processes (multiprocessing), each on its own connection
doing blocking request/reply round trips, so the client side is not held back
by one GIL. Usage::

    .venv/bin/python bench/sockets.py [--seconds 3] [--clients 1,32]

Runs in well under 60 s with the defaults.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wazuhd.sockets import SocketClient, make_request

REPO = Path(__file__).resolve().parent.parent
PAYLOAD_SIZE = 1024


def request_of_size(command: str, size: int = PAYLOAD_SIZE) -> bytes:
    """A request envelope of exactly ``size`` bytes, padded in ``parameters.blob``."""
    bare = make_request(command, {"blob": ""}, origin="bench", module="sockets")
    payload = make_request(command, {"blob": "x" * (size - len(bare))}, origin="bench",
                           module="sockets")
    assert len(payload) == size, len(payload)
    return payload


def install_example_plugin(workdir: Path) -> Path | None:
    source = workdir / "example-src"
    shutil.copytree(REPO / "tests" / "example-plugin", source)
    target = workdir / "example-site"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                             "--no-build-isolation", "--target", str(target), str(source)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        print(f"(example plugin not installed, echo skipped: {result.stderr.strip()[-200:]})")
        return None
    return target


def start_daemon(home: Path, env: dict, log) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "wazuhd", "start", "--home", str(home)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    control = home / "queue" / "sockets" / "control"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"daemon exited with {proc.returncode}; see {log.name}")
        try:
            with SocketClient(control, timeout=2) as client:
                if client.request("ping") == "pong":
                    return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("daemon did not answer ping within 20 s")


def stop_daemon(proc: subprocess.Popen) -> float:
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return time.monotonic() - began


def client_worker(path: str, payload: bytes, barrier, start_at, seconds: float, results) -> None:
    """One client process: warm up, wait for the others, then round trips until the end."""
    latencies: list[float] = []
    errors = 0
    with SocketClient(path, timeout=10) as client:
        for _ in range(20):
            client.roundtrip(payload)
        barrier.wait()
        end = start_at.value + seconds
        clock = time.perf_counter
        while time.monotonic() < end:
            began = clock()
            reply = client.roundtrip(payload)
            latencies.append(clock() - began)
            if not reply.startswith(b'{"error":0'):
                errors += 1
    results.put((latencies, errors))


def run(path: Path, payload: bytes, clients: int, seconds: float) -> dict:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    start_at = ctx.Value("d", 0.0)
    results = ctx.Queue()
    workers = [ctx.Process(target=client_worker,
                           args=(os.fspath(path), payload, barrier, start_at, seconds, results))
               for _ in range(clients)]
    for worker in workers:
        worker.start()
    start_at.value = time.monotonic() + 0.05
    barrier.wait(timeout=30)
    gathered = [results.get(timeout=seconds + 30) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    latencies = sorted(x for lat, _ in gathered for x in lat)
    count = len(latencies)
    return {
        "clients": clients,
        "requests": count,
        "rps": count / seconds,
        "p50": statistics.quantiles(latencies, n=100)[49] * 1e3 if count > 1 else float("nan"),
        "p99": statistics.quantiles(latencies, n=100)[98] * 1e3 if count > 1 else float("nan"),
        "errors": sum(errors for _, errors in gathered),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each run")
    parser.add_argument("--clients", default="1,32", help="comma-separated client counts")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]

    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="wzbench-"))
    try:
        site = install_example_plugin(workdir)
        env = dict(os.environ)
        if site is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site),
                                                              env.get("PYTHONPATH")]))
        home = workdir / "home"
        (home / "etc").mkdir(parents=True)
        # Only the sockets are measured: no HTTP API (no port to compete for).
        (home / "etc" / "wazuhd.yaml").write_text("plugins:\n  disabled: [http]\n")
        with open(workdir / "daemon.out", "wb") as log:
            proc = start_daemon(home, env, log)
            try:
                sockets = home / "queue" / "sockets"
                cases = [("control/ping", sockets / "control", request_of_size("ping"))]
                if site is not None and (sockets / "example").exists():
                    cases.append(("example/echo", sockets / "example", request_of_size("echo")))
                rows = [(name, run(path, payload, clients, args.seconds))
                        for name, path, payload in cases for clients in counts]
            finally:
                stop_seconds = stop_daemon(proc)

        print(f"wazuhd framed sockets: {PAYLOAD_SIZE}-byte requests, {args.seconds:g} s per "
              f"run, {os.cpu_count()} CPUs, client processes on the same host")
        header = f"{'command':<14}{'clients':>8}{'requests':>10}{'rt/s':>10}" \
                 f"{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        print(header)
        print("-" * len(header))
        for name, row in rows:
            print(f"{name:<14}{row['clients']:>8}{row['requests']:>10}{row['rps']:>10.0f}"
                  f"{row['p50']:>9.3f}{row['p99']:>9.3f}{row['errors']:>8}")
        print(f"(daemon stopped in {stop_seconds:.2f} s with exit code {proc.returncode}; "
              f"total {time.monotonic() - began:.1f} s)")
        return 0 if all(row["errors"] == 0 for _, row in rows) else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
