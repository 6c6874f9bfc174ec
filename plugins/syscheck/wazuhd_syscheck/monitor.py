"""The monitor: scans (scheduled, on request, realtime) compared with the baseline.

All decisions are taken in the trio thread, one batch at a time, against an in-memory
index of the baseline (``{path: (checksum, signature, dir)}``): the walk, the hashing and
the store run in worker threads, so the loop never waits on disk. The first full scan of a
configured directory (on a new home, after the baseline is cleared, or when the directory
is new to the configuration) records its baseline without reporting, as Wazuh's first scan
does; every later difference becomes an ``added``, ``modified`` or ``deleted`` event.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from wazuhd.events import Event

from wazuhd_syscheck import baseline
from wazuhd_syscheck.diffs import DiffStore
from wazuhd_syscheck.events import fim_event
from wazuhd_syscheck.files import Entry, Problem, Walk, look
from wazuhd_syscheck.options import DirectoryOptions, Settings, display

log = logging.getLogger("wazuhd.syscheck")

BATCH = 256
#: Problems listed in one scan's report (all are counted and logged).
MAX_REPORTED_PROBLEMS = 100
SCHEDULED, REALTIME = "scheduled", "realtime"


class Rate:
    """At most ``per_second`` units per second (0: no bound); ``take`` says how long to wait."""

    def __init__(self, per_second: int):
        self.per_second = per_second
        self.began = time.monotonic()
        self.used = 0
        self.lock = threading.Lock()

    def take(self, amount: int) -> float:
        if not self.per_second:
            return 0.0
        with self.lock:
            self.used += amount
            due = self.began + self.used / self.per_second
            now = time.monotonic()
            if now - self.began > 1.0 and due < now:
                # idle for a while: a fresh second starts (no burst of the saved budget)
                self.began, self.used = now, amount
                return 0.0
            return max(0.0, due - now)

    def block(self, amount: int) -> None:
        """From a worker thread."""
        delay = self.take(amount)
        if delay:
            time.sleep(delay)


class ScanReport(dict):
    """What one scan did: counts by outcome, and the problems met."""

    def __init__(self):
        super().__init__(files=0, added=0, modified=0, deleted=0, unchanged=0, unreadable=0,
                         problems=[], events=0)


class Monitor:
    def __init__(self, settings: Settings, db, diff_directory: Path,
                 send: Callable[[list[Event]], Awaitable[None]]):
        self.settings = settings
        self.db = db
        self.diffs = DiffStore(diff_directory)
        self.send = send
        self.index: dict[str, tuple[str, str, str]] = {}
        #: configured directories whose baseline is recorded: their changes are reported
        self.baselined: set[str] = set()
        self.scan_lock = trio.Lock()
        self.apply_lock = trio.Lock()
        self.scanning = False
        #: paths realtime recorded while a scan runs: that scan must not call them deleted
        self.touched: set[str] = set()
        self.events_rate = Rate(settings.max_eps)
        self.counters = {"scans": 0, "events": 0, "added": 0, "modified": 0, "deleted": 0,
                         "unreadable": 0, "problems": 0, "realtime_changes": 0, "file_limit_reached": 0,
                         "watches": 0, "watch_errors": 0, "inotify_overflows": 0}
        self.last_problem: str | None = None
        self.watcher = None  # the realtime Watcher, when there is one
        self._limit_warned = False

    def stats(self) -> dict:
        return {**self.counters, "entries": len(self.index), "scanning": self.scanning,
                "last_problem": self.last_problem}

    async def load(self) -> None:
        self.index = await baseline.index(self.db)
        self.baselined = await baseline.baselined(self.db)

    async def clear(self) -> int:
        """Forget the baseline (``DELETE /syscheck/000``): the next scan records it afresh."""
        async with self.scan_lock, self.apply_lock:
            removed = await baseline.clear(self.db, baseline.MANAGER)
            self.index.clear()
            self.baselined.clear()
            await trio.to_thread.run_sync(self.diffs.clear)
        return removed

    # -- scans ------------------------------------------------------------------------

    def targets(self, only: list[str] | None) -> list[tuple[DirectoryOptions, DirectoryOptions]]:
        """(what to walk, the configured directory it belongs to); raises ValueError for a
        requested directory that is not monitored."""
        if not only:
            return [(options, options) for options in self.settings.directories]
        out = []
        for text in only:
            path = os.fsencode(os.path.normpath(os.path.abspath(text)))
            owner = self.settings.owner(path)
            if owner is None:
                raise ValueError(f"{text} is not under a monitored directory (syscheck.directories)")
            below = owner.below(path)
            if below is None:
                raise ValueError(f"{text} is deeper than the recursion_level of {owner.text}")
            out.append((below, owner))
        return out

    async def scan(self, only: list[str] | None = None, mode: str = SCHEDULED) -> ScanReport:
        targets = self.targets(only)
        report = ScanReport()
        async with self.scan_lock:
            self.scanning = True
            self.touched.clear()
            try:
                await baseline.scan_started(self.db)
                for walk_options, owner in targets:
                    await self.scan_directory(walk_options, owner, mode, report)
                    if walk_options.path == owner.path and owner.text not in self.baselined:
                        await baseline.mark_baselined(self.db, owner.text)
                        self.baselined.add(owner.text)
                await baseline.scan_ended(self.db)
            finally:
                self.scanning = False
            self.counters["scans"] += 1
        log.info("syscheck scan: %(files)d files, %(added)d added, %(modified)d modified, "
                 "%(deleted)d deleted, %(unreadable)d unreadable", report)
        return report

    async def scan_directory(self, options: DirectoryOptions, owner: DirectoryOptions, mode: str,
                             report: ScanReport) -> Walk:
        """Walk ``options.path`` (inside the configured ``owner``) and apply what changed."""
        nested = frozenset(d.path for d in self.settings.directories
                           if d.path != owner.path and d.path.startswith(owner.path.rstrip(b"/") + b"/"))
        byte_rate = Rate(self.settings.max_bytes_per_second)
        walk = Walk(options, self.settings.ignore, self.settings.skip_fs, self.index, nested,
                    want_content=options.report_changes,
                    throttle_bytes=byte_rate.block if self.settings.max_bytes_per_second else None)
        file_rate = Rate(self.settings.max_files_per_second)
        batches = walk.batches(BATCH)
        seen: set[str] = set()
        try:
            while True:
                batch = await trio.to_thread.run_sync(next, batches, None)
                if batch is None:
                    break
                await self._apply(batch, owner, mode, report, seen)
                delay = file_rate.take(len(batch))
                if delay:
                    await trio.sleep(delay)
        finally:
            batches.close()
        report["files"] += walk.files
        kept = []
        for problem in walk.problems:
            self._problem(problem, report)
            if problem.keeps_baseline:
                kept.append(display(problem.path))
        await self._deletions(options, owner, mode, report, seen, kept)
        if self.watcher is not None and owner.realtime:
            self.watcher.watch_all(walk.directories, owner)
        return walk

    async def _deletions(self, options, owner, mode, report, seen, kept) -> None:
        root = options.text
        prefix = root.rstrip("/") + "/"
        owner_text = owner.text

        def gone(path: str) -> bool:
            if path in seen or path in self.touched:
                return False
            if path != root and not path.startswith(prefix):
                return False
            return not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept)

        async with self.apply_lock:
            paths = [path for path, known in self.index.items() if known[2] == owner_text and gone(path)]
            if paths:
                await self._delete(paths, owner, mode, report)

    async def _delete(self, paths: list[str], owner: DirectoryOptions, mode: str, report) -> None:
        """Apply_lock held: remove ``paths`` from the baseline and report them deleted."""
        olds = await self.db.read(lambda conn: baseline.rows_sync(conn, paths))
        await self.db.write(lambda conn: baseline.save_sync(conn, [], paths))
        if owner.report_changes:
            await trio.to_thread.run_sync(lambda: [self.diffs.forget(os.fsencode(p)) for p in paths])
        events = []
        for path in paths:
            self.index.pop(path, None)
            report["deleted"] += 1
            self.counters["deleted"] += 1
            old = olds.get(path)
            if owner.text in self.baselined and old is not None:
                events.append(fim_event("deleted", path, mode, None, old, tags=owner.tags))
        await self._send(events, report)

    async def _apply(self, entries: list[Entry], owner: DirectoryOptions, mode: str, report: ScanReport,
                     seen: set[str] | None = None) -> None:
        """Compare a batch with the baseline; write the changes and send their events."""
        async with self.apply_lock:
            candidates = []
            for entry in entries:
                text = display(entry.path)
                if seen is not None:
                    seen.add(text)
                if self.scanning and mode == REALTIME:
                    self.touched.add(text)
                known = self.index.get(text)
                if known is not None and known[1] == entry.signature:
                    report["unchanged"] += 1
                    continue
                candidates.append((text, entry, known))
            if not candidates:
                return
            known_paths = [text for text, _, known in candidates if known is not None]
            olds = await self.db.read(lambda conn: baseline.rows_sync(conn, known_paths)) if known_paths else {}
            now = time.time()
            rows, events, diff_work = [], [], []
            for text, entry, known in candidates:
                old = olds.get(text)
                if entry.unreadable is not None:
                    report["unreadable"] += 1
                    self.counters["unreadable"] += 1
                    self._problem(Problem(entry.path, f"cannot read the content: {entry.unreadable}"), report)
                    if old is not None:  # an unreadable file is not a changed one: keep what is known
                        entry.md5, entry.sha1, entry.sha256 = old["md5"], old["sha1"], old["sha256"]
                if old is None:
                    limit = self.settings.file_limit
                    if limit is not None and len(self.index) >= limit:
                        self.counters["file_limit_reached"] += 1
                        if not self._limit_warned:
                            self._limit_warned = True
                            self._problem(Problem(entry.path, f"file_limit reached ({limit} entries): "
                                                              "new files are not monitored"), report)
                        continue
                    kind = "added"
                    changes = 1
                else:
                    kind = "modified" if entry.checksum() != old["checksum"] else None
                    changes = old["changes"] + (1 if kind else 0)
                new_row = baseline.row_of(entry, text, owner.text, changes, now if kind else old["date"])
                rows.append(new_row)
                self.index[text] = (new_row[-4], entry.signature, owner.text)
                if kind is None:
                    report["unchanged"] += 1
                    continue
                report[kind] += 1
                self.counters[kind] += 1
                diff_work.append((text, entry, kind, old))
            diffs = {}
            if owner.report_changes and diff_work:
                diffs = await trio.to_thread.run_sync(self._diffs, diff_work, owner)
            await self.db.write(lambda conn: baseline.save_sync(conn, rows, []))
            if owner.text in self.baselined:
                for text, entry, kind, old in diff_work:
                    if kind == "added" and not self.settings.alert_new_files:
                        continue
                    new = dict(zip(("type", *baseline.ATTRIBUTES[1:]),
                                   (getattr(entry, name) for name in baseline.ATTRIBUTES)))
                    new["checksum"] = entry.checksum()
                    events.append(fim_event(kind, text, mode, new, old, content_changes=diffs.get(text),
                                            tags=owner.tags))
        await self._send(events, report)

    def _diffs(self, work, owner: DirectoryOptions) -> dict[str, str]:
        """Worker thread: remember new contents, and diff the modified ones."""
        out = {}
        for text, entry, kind, _old in work:
            nodiff = self.settings.nodiff.matches(entry.path)
            if kind == "added":
                if not nodiff and entry.size is not None and entry.size <= owner.diff_size_limit:
                    self.diffs.remember(entry.path, entry.content)
                continue
            change = self.diffs.changes(entry.path, entry.content, size=entry.size,
                                        limit=owner.diff_size_limit, nodiff=nodiff)
            if change is not None:
                out[text] = change
        return out

    async def _send(self, events: list[Event], report) -> None:
        if not events:
            return
        delay = self.events_rate.take(len(events))
        if delay:
            await trio.sleep(delay)
        await self.send(events)
        report["events"] += len(events)
        self.counters["events"] += len(events)

    def _problem(self, problem: Problem, report) -> None:
        message = f"{display(problem.path)}: {problem.message}"
        if len(report["problems"]) < MAX_REPORTED_PROBLEMS:
            report["problems"].append(message)
        self.counters["problems"] += 1
        self.last_problem = message
        log.warning("syscheck: %s", message)

    # -- realtime -----------------------------------------------------------------------

    async def check_paths(self, paths: set[bytes]) -> ScanReport:
        """Realtime: look at changed files again and apply what changed."""
        report = ScanReport()
        by_owner: dict[DirectoryOptions, list[Entry]] = {}
        for path in sorted(paths):
            owner = self.settings.owner(path)
            if owner is None or not owner.realtime or self.settings.ignore.matches(path):
                continue
            if owner.restrict is not None and not owner.restrict.search(
                    os.path.basename(path).decode("utf-8", "replace")):
                continue
            text = display(path)
            known = self.index.get(text)
            result = await trio.to_thread.run_sync(
                lambda: look(path, owner, want_content=owner.report_changes,
                             known_signature=known[1] if known else None))
            if result is None:
                if known is not None:
                    async with self.apply_lock:
                        if text in self.index:
                            if self.scanning:
                                self.touched.add(text)
                            await self._delete([text], owner, REALTIME, report)
            elif isinstance(result, Problem):
                self._problem(result, report)
            else:
                by_owner.setdefault(owner, []).append(result)
        for owner, entries in by_owner.items():
            await self._apply(entries, owner, REALTIME, report)
        self.counters["realtime_changes"] += len(paths)
        return report
