"""Benchmark the MITRE plugin: import time and /mitre latency on a real daemon.

Prints:

* the time to import MITRE's ``enterprise-attack.json`` (the packaged ATT&CK bundle, 50 MB) into
  a fresh ``mitre.db`` the way ``wazuhd mitre import FILE`` does (parse + one transaction), and the
  time a daemon's first start takes to copy the prebuilt packaged tables instead;
* p50 / p90 latency (one client, sequential, HTTPS keep-alive, admin JWT) of
  ``GET /mitre/techniques?limit=500`` (500 techniques with tactics, mitigations, groups, software
  and references), of a filtered query pushed down to SQL
  (``q=external_id~T1110;deprecated=0&select=name,external_id,tactics``), and of a filter on a
  related list (``q=tactics=<Credential Access>``: the in-memory path).

Usage: ``.venv/bin/python bench/mitre.py [--requests 40]`` (about 30 s).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from wazuhd.testing import DaemonProcess, free_port

try:
    from wazuhd_mitre import importer, sources
except ImportError:  # pragma: no cover
    sys.exit("bench/mitre.py: the wazuhd-mitre plugin is not installed")


def timed_import(tmp: Path) -> tuple[float, float, dict]:
    path = tmp / "import.db"
    began = time.perf_counter()
    result = sources.import_file(path, sources.BUNDLE)
    imported = time.perf_counter() - began
    conn = sqlite3.connect(tmp / "copy.db", isolation_level=None)
    importer.create_schema(conn)
    began = time.perf_counter()
    importer.copy_database(conn, sources.PREBUILT)
    copied = time.perf_counter() - began
    conn.close()
    return imported, copied, result["counts"]


def latencies(client: httpx.Client, path: str, params: dict, count: int) -> tuple[list[float], dict]:
    reply = client.get(path, params=params)  # warm-up (and the in-memory cache, if any)
    assert reply.status_code == 200, reply.text
    times = []
    for _ in range(count):
        began = time.perf_counter()
        reply = client.get(path, params=params)
        times.append((time.perf_counter() - began) * 1000)
        assert reply.status_code == 200, reply.text
    return times, reply.json()["data"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    if not sources.BUNDLE.exists():
        print("no packaged ATT&CK bundle: reinstall wazuhd-mitre")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="wazuhd-bench-mitre-"))
    try:
        imported, copied, counts = timed_import(tmp)
        print(f"import enterprise-attack.json ({sources.BUNDLE.stat().st_size / 1e6:.1f} MB, ATT&CK "
              f"{sources.provenance().get('attack_version', '?')}): {imported:.2f} s "
              f"({', '.join(f'{k} {v}' for k, v in counts.items())})")
        print(f"copy of the prebuilt tables (a daemon's first start): {copied:.2f} s")
        port = free_port()
        daemon = DaemonProcess(tmp / "home", config=f"api:\n  host: 127.0.0.1\n  port: {port}\n"
                                                    "  access:\n    max_request_per_minute: 0\n").start()
        try:
            verify = ssl.create_default_context(cafile=str(tmp / "home" / "etc" / "api" / "server.crt"))
            with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=verify, timeout=60) as client:
                token = client.post("/security/user/authenticate", auth=("wazuh", "wazuh")).json()["data"]["token"]
                client.headers["Authorization"] = f"Bearer {token}"
                tactic = client.get("/mitre/tactics", params={"tactic_ids": "TA0006"}).json()
                tactic_id = tactic["data"]["affected_items"][0]["id"]
                cases = [
                    ("GET /mitre/techniques?limit=500", "/mitre/techniques", {"limit": 500}),
                    ("GET /mitre/techniques?q=external_id~T1110;deprecated=0&select=name,external_id,tactics (SQL)",
                     "/mitre/techniques", {"q": "external_id~T1110;deprecated=0",
                                           "select": "name,external_id,tactics"}),
                    ("GET /mitre/techniques?q=tactics=<TA0006>&limit=500 (related list: in memory)",
                     "/mitre/techniques", {"q": f"tactics={tactic_id}", "limit": 500}),
                ]
                for label, path, params in cases:
                    times, body = latencies(client, path, params, args.requests)
                    cuts = statistics.quantiles(times, n=10)
                    print(f"{label}: p50 {statistics.median(times):.1f} ms, p90 {cuts[8]:.1f} ms "
                          f"({len(body['affected_items'])} items of {body['total_affected_items']}, "
                          f"{args.requests} requests)")
        finally:
            daemon.terminate()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
