"""The manager's statistics: hourly history of alerts and events, the daemons' counters in
Wazuh's shapes, and the deferred restart of ``PUT /manager/restart``.

History (``/manager/stats``, ``/stats/hourly``, ``/stats/weekly``) is aggregated per alert:
the ``wazuhd_alert`` hook (once per alert, in the daemon's trio thread) only bumps an
in-memory counter keyed by (local date, hour, rule id, level) - O(1), no I/O. The
``manager-stats`` service flushes those counts into the ``manager_stats`` SQLite database
every minute, together with the events analysed since the last flush (the delta of the
analysis plugin's ``received`` counter, read through ``ctx.counters``), and once more when the
daemon stops. Endpoints flush before they read, so an answer includes the current minute.

Why per alert rather than sampling counters: Wazuh's hourly totals list alerts by rule id and
level, which no counter holds; the number of events per hour is the only figure a counter gives.

Not measured (so absent from the answers): alerts of level 0 (the hook sees alerts above
level 0 only), bytes received, EPS limits, per-origin decoded breakdowns, per-type queues,
wazuh-db queries. There is no agent-communication daemon yet: wazuh-remoted figures are the
zeros of a daemon that received nothing, unless a plugin exposes ``remoted`` counters.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone

import trio

from wazuhd.store import Migration

log = logging.getLogger("wazuhd.agents.stats")

DATABASE = "manager_stats"
FLUSH_INTERVAL = 60.0
#: Seconds between the restart answer and the restart itself (the response leaves first).
RESTART_DELAY = 0.5
DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")

SCHEMA_SQL = """
CREATE TABLE stats_hour (
    date TEXT NOT NULL,            -- local date, YYYY-MM-DD
    hour INTEGER NOT NULL,         -- local hour, 0-23
    events INTEGER NOT NULL DEFAULT 0,
    alerts INTEGER NOT NULL DEFAULT 0,
    syscheck INTEGER NOT NULL DEFAULT 0,
    firewall INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (date, hour)
) WITHOUT ROWID;
CREATE TABLE stats_alert (
    date TEXT NOT NULL,
    hour INTEGER NOT NULL,
    sigid INTEGER NOT NULL,
    level INTEGER NOT NULL,
    times INTEGER NOT NULL,
    PRIMARY KEY (date, hour, sigid, level)
) WITHOUT ROWID;
"""

MIGRATIONS = [Migration(DATABASE, "agents-stats-0001-hourly", sql=SCHEMA_SQL)]


def _slot(now: float | None = None) -> tuple[str, int]:
    local = time.localtime(now)
    return time.strftime("%Y-%m-%d", local), local.tm_hour


class Tally:
    """Alerts counted in memory until the next flush."""

    def __init__(self):
        self.alerts: Counter = Counter()   # (date, hour, sigid, level) -> times
        self.kinds: Counter = Counter()    # (date, hour, "syscheck"|"firewall") -> alerts

    def add(self, alert: Mapping) -> None:
        rule = alert.get("rule") or {}
        try:
            sigid, level = int(rule.get("id")), int(rule.get("level", 0))
        except (TypeError, ValueError):
            return
        day, hour = _slot()
        self.alerts[(day, hour, sigid, level)] += 1
        groups = rule.get("groups") or ()
        if "syscheck" in groups:
            self.kinds[(day, hour, "syscheck")] += 1
        if "firewall" in groups:
            self.kinds[(day, hour, "firewall")] += 1

    def take(self) -> tuple[Counter, Counter]:
        alerts, kinds = self.alerts, self.kinds
        self.alerts, self.kinds = Counter(), Counter()
        return alerts, kinds


#: The daemon's tally (one daemon per process): ``wazuhd_alert`` has no context argument.
TALLY = Tally()


def events_received(counters: Mapping[str, Callable[[], dict]]) -> int | None:
    """Events analysed so far: the analysis plugin's ``received``, else the host's count."""
    if "analysis" in counters:
        return int(counters["analysis"]().get("received", 0))
    if "events" in counters:
        return int(sum(counters["events"]().values()))
    return None


def _write(conn, alerts: Counter, kinds: Counter, events: int, day: str, hour: int) -> None:
    rows: dict[tuple[str, int], list[int]] = {}
    for (d, h, sigid, level), times in alerts.items():
        rows.setdefault((d, h), [0, 0, 0, 0])[1] += times
        conn.execute("INSERT INTO stats_alert (date, hour, sigid, level, times) VALUES (?, ?, ?, ?, ?)"
                     " ON CONFLICT (date, hour, sigid, level) DO UPDATE SET times = times + excluded.times",
                     (d, h, sigid, level, times))
    for (d, h, kind), n in kinds.items():
        rows.setdefault((d, h), [0, 0, 0, 0])[2 if kind == "syscheck" else 3] += n
    if events:
        rows.setdefault((day, hour), [0, 0, 0, 0])[0] += events
    for (d, h), (ev, al, sc, fw) in rows.items():
        conn.execute("INSERT INTO stats_hour (date, hour, events, alerts, syscheck, firewall)"
                     " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (date, hour) DO UPDATE SET"
                     " events = events + excluded.events, alerts = alerts + excluded.alerts,"
                     " syscheck = syscheck + excluded.syscheck, firewall = firewall + excluded.firewall",
                     (d, h, ev, al, sc, fw))


class ManagerStats:
    """The history store, its flushes, and the restart the API asked for."""

    def __init__(self, ctx, tally: Tally = TALLY):
        self.ctx = ctx
        self.db = ctx.store.db(DATABASE)
        self.tally = tally
        self.last_received = events_received(ctx.counters) or 0
        self.flushes = 0
        self.restart = trio.Event()
        self._lock = trio.Lock()

    async def flush(self) -> None:
        """Counts since the last flush into the store (events to the current hour)."""
        async with self._lock:
            alerts, kinds = self.tally.take()
            received = events_received(self.ctx.counters)
            events = 0
            if received is not None:
                # A counter that went back (a plugin restarted it) counts from zero again.
                events = received - self.last_received if received >= self.last_received else received
                self.last_received = received
            if not (alerts or kinds or events):
                return
            day, hour = _slot()
            await trio.to_thread.run_sync(lambda: self.db.write_sync(
                lambda conn: _write(conn, alerts, kinds, events, day, hour)))
            self.flushes += 1

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            while True:
                with trio.move_on_after(FLUSH_INTERVAL):
                    await self.restart.wait()
                await self.flush()
                if self.restart.is_set():
                    await trio.sleep(RESTART_DELAY)
                    self.ctx.request_restart()
                    await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                try:
                    await self.flush()
                except Exception:  # never mask the stop
                    log.exception("last statistics flush failed")

    # -- reads (worker threads) ---------------------------------------------------

    def day_sync(self, day: str) -> list[dict]:
        hours = self.db.fetchall_sync("SELECT * FROM stats_hour WHERE date = ? ORDER BY hour", (day,))
        alerts: dict[int, list[dict]] = {}
        for row in self.db.fetchall_sync("SELECT hour, sigid, level, times FROM stats_alert WHERE date = ?"
                                         " ORDER BY hour, sigid, level", (day,)):
            alerts.setdefault(row["hour"], []).append({"sigid": row["sigid"], "level": row["level"],
                                                       "times": row["times"]})
        return [{"hour": row["hour"], "alerts": alerts.get(row["hour"], []), "totalAlerts": row["alerts"],
                 "events": row["events"], "syscheck": row["syscheck"], "firewall": row["firewall"]}
                for row in hours]

    def averages_sync(self) -> tuple[list[int], int, dict[str, tuple[list[int], int]]]:
        """Alerts per hour averaged over the days with history: overall and per weekday."""
        rows = self.db.fetchall_sync("SELECT date, hour, alerts FROM stats_hour")
        days: set[str] = set()
        total = [0] * 24
        per_day: dict[str, tuple[list[int], set]] = {name: ([0] * 24, set()) for name in DAYS}
        for row in rows:
            days.add(row["date"])
            total[row["hour"]] += row["alerts"]
            name = DAYS[(date.fromisoformat(row["date"]).weekday() + 1) % 7]
            per_day[name][0][row["hour"]] += row["alerts"]
            per_day[name][1].add(row["date"])

        def mean(sums, n):
            return [round(s / n) if n else 0 for s in sums]

        return (mean(total, len(days)), len(days),
                {name: (mean(sums, len(seen)), len(seen)) for name, (sums, seen) in per_day.items()})


# -- daemons' counters in Wazuh's shapes ---------------------------------------------------


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _queue(ctx) -> tuple[int, int]:
    """The event channel (every input -> analysis): its capacity and what it holds now."""
    if ctx.events is None:
        return 0, 0
    stats = ctx.events.statistics()
    size = stats.max_buffer_size
    return (int(size) if size != float("inf") else 0), stats.current_buffer_used


def analysisd(ctx) -> dict:
    """``wazuh-analysisd`` in ``/manager/daemons/stats``: what we count, nothing else."""
    analysis = ctx.counters["analysis"]() if "analysis" in ctx.counters else {}
    received = events_received(ctx.counters) or 0
    size, usage = _queue(ctx)
    metrics: dict = {"events": {"received": received}}
    if analysis:  # every event analysis receives goes through the rules
        metrics["events"]["processed"] = received
        metrics["events"]["written_breakdown"] = {"alerts": analysis.get("written", 0)}
    metrics["queues"] = {"others": {"size": size, "usage": usage}}
    return {"name": "wazuh-analysisd", "uptime": _iso(ctx.started_at), "timestamp": _iso(time.time()),
            "metrics": metrics}


REMOTED_LEGACY = ("queue_size", "total_queue_size", "tcp_sessions", "evt_count", "ctrl_msg_count",
                  "discarded_count", "sent_bytes", "recv_bytes", "dequeued_after_close")


def _remoted_counters(ctx) -> dict:
    values = ctx.counters["remoted"]() if "remoted" in ctx.counters else {}
    return {key: int(values.get(key, 0)) for key in REMOTED_LEGACY}


def remoted(ctx) -> dict:
    """``wazuh-remoted``: zeros (no agent-communication daemon yet) or a plugin's counters."""
    c = _remoted_counters(ctx)
    return {"name": "wazuh-remoted", "uptime": _iso(ctx.started_at), "timestamp": _iso(time.time()),
            "metrics": {"bytes": {"received": c["recv_bytes"], "sent": c["sent_bytes"]},
                        "messages": {"received_breakdown": {"control": c["ctrl_msg_count"],
                                                            "event": c["evt_count"],
                                                            "discarded": c["discarded_count"],
                                                            "dequeued_after": c["dequeued_after_close"]}},
                        "queues": {"received": {"size": c["total_queue_size"], "usage": c["queue_size"]}},
                        "tcp_sessions": c["tcp_sessions"]}}


def wazuh_db(ctx) -> dict:
    """``wazuh-db``: our store is embedded SQLite and counts no queries, so no metrics."""
    return {"name": "wazuh-db", "uptime": _iso(ctx.started_at), "timestamp": _iso(time.time()), "metrics": {}}


DAEMONS = {"wazuh-analysisd": analysisd, "wazuh-remoted": remoted, "wazuh-db": wazuh_db}


def analysisd_legacy(ctx) -> dict:
    """``/manager/stats/analysisd`` (Wazuh's older flat form), measured fields only."""
    analysis = ctx.counters["analysis"]() if "analysis" in ctx.counters else {}
    received = events_received(ctx.counters) or 0
    size, usage = _queue(ctx)
    body = {"events_received": float(received),
            "event_queue_size": float(size), "event_queue_usage": round(usage / size, 4) if size else 0.0}
    if analysis:
        body["events_processed"] = float(received)
        body["total_events_decoded"] = float(analysis.get("decoded", 0))
        body["alerts_written"] = float(analysis.get("written", 0))
    return body


def remoted_legacy(ctx) -> dict:
    return {key: float(value) for key, value in _remoted_counters(ctx).items()}
