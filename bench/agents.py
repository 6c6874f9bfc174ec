"""Agent registry benchmark: 100,000 agents behind the real daemon over HTTPS.

    .venv/bin/python bench/agents.py [--agents 100000] [--samples 50] [--seconds 10]

1. loads the agents with the registry's bulk path (one transaction, as a migration from
   another manager would) and, for comparison, a few hundred through POST /agents/insert/quick;
2. gives them varied OS platforms, versions, statuses and two groups (bulk SQL, as keepalives
   would), starts the daemon and prints p50/p99 latency of the issue's list calls,
   the daemon's RSS, requests/s with 32 concurrent clients on GET /agents?limit=500, the same
   list for a role limited to one group, and bulk operations (assign all agents to a group,
   delete 50,000).

Repeated identical list calls are answered from the registry's page cache (valid until
anything is written); the "never from the page cache" lines show the uncached cost.
Load from other processes on the machine shows in every figure: note ``uptime`` with them.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "agents" / "tests"))

from agents_helpers import AgentsDaemon, Api  # noqa: E402
from wazuhd.store import Store  # noqa: E402
from wazuhd_agents import db, groups, registry  # noqa: E402

LISTS = [
    ("GET /agents?limit=500", "/agents", {"limit": 500}),
    ("GET /agents?q=os.platform=ubuntu;status=active&limit=500&sort=-dateAdd", "/agents",
     {"q": "os.platform=ubuntu;status=active", "limit": 500, "sort": "-dateAdd"}),
    ("GET /agents/summary/status", "/agents/summary/status", {}),
    ("GET /agents?offset=99000&limit=500", "/agents", {"offset": 99000, "limit": 500}),
    ("GET /agents/summary/os", "/agents/summary/os", {}),
    ("GET /agents?status=disconnected&limit=500", "/agents", {"status": "disconnected", "limit": 500}),
    ("GET /agents?search=web-0099&limit=500", "/agents", {"search": "web-0099", "limit": 500}),
    ("GET /groups", "/groups", {}),
]


def load(home: Path, count: int) -> float:
    store = Store(home / "queue" / "db")
    store.migrate(("agents", m) for m in db.MIGRATIONS)
    reg = db.Registry(store.db(db.DATABASE), home / "etc")
    began = time.perf_counter()
    for start in range(0, count, 20000):
        registry.bulk_insert_sync(reg, [{"name": f"web-{i:06d}"} for i in range(start, min(count, start + 20000))])
    seconds = time.perf_counter() - began
    now = int(time.time())
    groups.create_group_sync(reg, "ring-a")
    reg.db.write_sync(lambda conn: (
        conn.execute(
            "UPDATE agent SET os_platform = CASE id % 4 WHEN 0 THEN 'ubuntu' WHEN 1 THEN 'centos'"
            " WHEN 2 THEN 'windows' ELSE 'darwin' END, os_name = CASE id % 4 WHEN 0 THEN 'Ubuntu'"
            " WHEN 1 THEN 'CentOS' WHEN 2 THEN 'Microsoft Windows Server' ELSE 'macOS' END,"
            " os_version = '1.' || (id % 7), version = CASE id % 5 WHEN 0 THEN 'Wazuh v4.7.0' ELSE 'Wazuh v4.14.0' END,"
            " connection_status = CASE id % 3 WHEN 0 THEN 'active' WHEN 1 THEN 'disconnected'"
            " ELSE 'never_connected' END, ip = '10.' || (id / 65536) || '.' || ((id / 256) % 256) || '.' || (id % 256)"
            " WHERE id > 0"),
        conn.execute("UPDATE agent SET last_keepalive = ?, date_add = date_add - (id % 86400)"
                     " WHERE connection_status != 'never_connected'", (now,)),
        conn.execute("INSERT INTO belongs (agent_id, grp, priority) SELECT id, 'ring-a', 1 FROM agent"
                     " WHERE id % 10 = 0 AND id > 0"),
        conn.execute("UPDATE agent SET groups = 'default,ring-a' WHERE id % 10 = 0 AND id > 0"),
        conn.execute("ANALYZE")))
    store.close()
    return seconds


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p99 * 1000


class ServerTimes:
    """What the daemon itself measured: the ``done in N s`` of its access log (logs/api.log),
    i.e. without the Python client's TLS and JSON work."""

    def __init__(self, home: Path):
        self.path = home / "logs" / "api.log"
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def p50(self) -> float:
        with self.path.open() as handle:
            handle.seek(self.offset)
            found = [float(m.group(1)) for m in re.finditer(r"done in ([0-9.]+)s", handle.read())]
        return statistics.median(found) * 1000 if found else float("nan")


SERVER: ServerTimes | None = None


def timed(client, path, params, samples: int, cold: bool = False) -> tuple[float, float, int]:
    """p50/p99 of ``samples`` calls. ``cold``: each call asks a different limit (500, 499...)
    so that no call is answered from the registry's page cache."""
    if SERVER:
        SERVER.mark()
    times = []
    for index in range(samples):
        began = time.perf_counter()
        reply = client.get(path, params={**params, "limit": params["limit"] - index} if cold else params)
        times.append(time.perf_counter() - began)
        assert reply.status_code == 200, reply.text
    total = reply.json().get("data", {}).get("total_affected_items", "")
    server = SERVER.p50() if SERVER else float("nan")
    return (*percentiles(times), f"{server:.1f}", total)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def concurrent(daemon: AgentsDaemon, token: str, clients: int, seconds: float) -> tuple[float, float]:
    counts, latencies = [0] * clients, []
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def worker(index):
        with daemon.client(token) as client:
            while time.monotonic() < stop:
                began = time.perf_counter()
                reply = client.get("/agents", params={"limit": 500})
                elapsed = time.perf_counter() - began
                assert reply.status_code == 200, reply.text
                counts[index] += 1
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - began), percentiles(latencies)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="wazuhd-bench-agents-") as tmp:
        home = Path(tmp) / "home"
        seconds = load(home, args.agents)
        print(f"bulk load: {args.agents} agents in {seconds:.2f} s ({args.agents / seconds:,.0f} agents/s)")
        daemon = AgentsDaemon(home, extra="  disconnection_time: 86400\n  status_check_interval: 30\n")
        daemon.start(timeout=60)
        try:
            api = Api(daemon)
            began = time.perf_counter()
            quick = 300
            for i in range(quick):
                api.ok(api.post("/agents/insert/quick", params={"agent_name": f"quick-{i:04d}"}))
            rate = quick / (time.perf_counter() - began)
            print(f"POST /agents/insert/quick: {rate:,.0f} agents/s (one client, sequential, {quick} agents)")
            total = api.ok(api.get("/agents", params={"limit": 1}))["data"]["total_affected_items"]
            print(f"agents registered: {total:,}\n")
            global SERVER
            SERVER = ServerTimes(home)
            print(f"{'operation (client-observed p50/p99; server: the daemon own p50)':<76} {'p50 ms':>8} "
                  f"{'p99 ms':>8} {'server':>8} {'total':>8}")
            for label, path, params in LISTS:
                api.get(path, params=params)  # warm
                p50, p99, server, count = timed(api.http, path, params, args.samples)
                print(f"{label:<76} {p50:8.1f} {p99:8.1f} {server:>8} {count!s:>8}")
                if "limit" in params:
                    p50, p99, server, count = timed(api.http, path, params, args.samples, cold=True)
                    print(f"{'  same, never from the page cache (limit varies)':<76} {p50:8.1f} {p99:8.1f} "
                          f"{server:>8} {count!s:>8}")
            limited = api.user_with_policy(["agent:read"], ["agent:group:ring-a"])
            for label, path, params, cold in (
                    ("GET /agents?limit=500 (role limited to group ring-a, no cache)", "/agents", {"limit": 500}, True),
                    ("GET /agents/summary/status (role limited to group ring-a)", "/agents/summary/status", {}, False)):
                limited.get(path, params=params)
                p50, p99, server, count = timed(limited, path, params, args.samples, cold=cold)
                print(f"{label:<76} {p50:8.1f} {p99:8.1f} {server:>8} {count!s:>8}")
            print(f"\ndaemon RSS: {rss_mb(daemon.proc.pid):.0f} MB")
            rps, p50 = concurrent(daemon, api.token, args.clients, args.seconds)
            print(f"{args.clients} concurrent clients, GET /agents?limit=500: {rps:,.0f} requests/s "
                  f"(p50 {p50:.0f} ms)")
            print(f"daemon RSS after the concurrent run: {rss_mb(daemon.proc.pid):.0f} MB\n")

            api.ok(api.post("/groups", json={"group_id": "bulk"}))
            began = time.perf_counter()
            reply = api.ok(api.put("/agents/group", params={"group_id": "bulk"}))
            print(f"PUT /agents/group (every agent, {reply['data']['total_affected_items']:,}): "
                  f"{time.perf_counter() - began:.2f} s")
            began = time.perf_counter()
            reply = api.ok(api.delete("/agents", params={"agents_list": "all", "status": "all", "older_than": "0s",
                                                         "q": "id<50001"}))
            print(f"DELETE /agents (q=id<50001: {reply['data']['total_affected_items']:,} agents): "
                  f"{time.perf_counter() - began:.2f} s")
            print(f"daemon RSS at the end: {rss_mb(daemon.proc.pid):.0f} MB")
            print(f"load average during the run: {Path('/proc/loadavg').read_text().split()[:3]} "
                  f"on {os.cpu_count()} CPUs")
        finally:
            daemon.terminate(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
