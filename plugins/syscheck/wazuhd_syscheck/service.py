"""The syscheck service inside the daemon: when scans run, and where their events go.

Scans run on start (``scan_on_start``), every ``frequency`` seconds or at
``scan_time``/``scan_day``, and on request (``PUT /syscheck``, ``wazuhd syscheck scan``);
realtime changes are checked as inotify reports them. Events go to the analysis channel
through the shared :class:`wazuhd.collect.ChannelSink`.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import trio

from wazuhd.collect import ChannelSink

from wazuhd_syscheck import baseline
from wazuhd_syscheck.inotify import InotifyError
from wazuhd_syscheck.monitor import Monitor, ScanReport
from wazuhd_syscheck.options import WEEKDAYS, Settings
from wazuhd_syscheck.realtime import Watcher

log = logging.getLogger("wazuhd.syscheck")


def next_scan_delay(section: dict, now: float | None = None) -> float:
    """Seconds until the next scheduled scan."""
    scan_time, scan_day = section.get("scan_time"), section.get("scan_day")
    if not scan_time and not scan_day:
        return float(section["frequency"])
    current = datetime.fromtimestamp(time.time() if now is None else now)
    hour, minute = (int(x) for x in (scan_time or "00:00").split(":"))
    candidate = current.replace(hour=hour, minute=minute, second=0, microsecond=0)
    for _ in range(8):
        if candidate > current and (not scan_day or candidate.weekday() == WEEKDAYS.index(scan_day)):
            return (candidate - current).total_seconds()
        candidate += timedelta(days=1)
    return float(section["frequency"])


class SyscheckService:
    def __init__(self, ctx):
        self.ctx = ctx
        self.section = ctx.config["syscheck"]
        self.settings = Settings.from_config(self.section)
        self.db = ctx.store.db(baseline.DATABASE)
        self.sink: ChannelSink | None = None
        self.monitor = Monitor(self.settings, self.db, ctx.home.root / "queue" / "syscheck" / "diff",
                               self._send)
        self.requests_send, self.requests = trio.open_memory_channel(8)
        self.nursery: trio.Nursery | None = None

    async def _send(self, events) -> None:
        if self.sink is not None:
            await self.sink.send(events)

    def request_scan(self, only: list[str] | None = None) -> None:
        """Start a scan soon (a request already waiting covers this one)."""
        self.monitor.targets(only)  # a directory that is not monitored is refused now
        try:
            self.requests_send.send_nowait(only)
        except trio.WouldBlock:
            pass

    async def scan_now(self, only: list[str] | None = None) -> ScanReport:
        """Scan and wait for the report (``wazuhd syscheck scan``)."""
        return await self.monitor.scan(only)

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self.sink = ChannelSink(self.ctx.event_sender())
        try:
            await self.monitor.load()
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                if self.section["enabled"] and any(d.realtime for d in self.settings.directories):
                    try:
                        watcher = Watcher(self.monitor, lambda: self.request_scan(None))
                    except InotifyError as exc:
                        log.error("syscheck: realtime is off: %s", exc.strerror)
                    else:
                        nursery.start_soon(watcher.run)
                task_status.started()
                await self._schedule()
        finally:
            await self.sink.aclose()

    async def _schedule(self) -> None:
        enabled = self.section["enabled"]
        pending = self.section["scan_on_start"] and enabled
        while True:
            only = None
            if not pending:
                delay = next_scan_delay(self.section) if enabled else float("inf")
                with trio.move_on_after(delay):
                    only = await self.requests.receive()
            pending = False
            try:
                await self.monitor.scan(only)
            except Exception:  # noqa: BLE001 - a failed scan is logged; the next one runs
                log.exception("syscheck: scan failed")
