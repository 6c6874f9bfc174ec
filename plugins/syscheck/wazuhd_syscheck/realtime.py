"""Realtime: inotify watches on every directory of the ``realtime`` entries, changes
gathered for ``realtime_delay`` seconds and checked at once (a burst of writes to a
file is one look, and one event)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from wazuhd_syscheck.inotify import (IN_DELETE_SELF, IN_MOVE_SELF, IN_Q_OVERFLOW, Inotify,
                                     InotifyError)
from wazuhd_syscheck.monitor import REALTIME, Monitor, ScanReport
from wazuhd_syscheck.options import DirectoryOptions, display
from wazuhd_syscheck.files import Problem

log = logging.getLogger("wazuhd.syscheck")


class Watcher:
    def __init__(self, monitor: Monitor, on_overflow: Callable[[], None]):
        self.monitor = monitor
        self.on_overflow = on_overflow
        self.inotify = Inotify()
        monitor.watcher = self

    def watch_all(self, directories: list[bytes], owner: DirectoryOptions) -> None:
        counters = self.monitor.counters
        for directory in directories:
            if directory in self.inotify:
                continue
            try:
                self.inotify.add(directory, owner.follow_symbolic_link)
            except InotifyError as exc:
                counters["watch_errors"] += 1
                self.monitor._problem(Problem(directory, f"realtime: {exc.strerror}"), ScanReport())
        counters["watches"] = len(self.inotify.watches)

    async def run(self) -> None:
        delay = self.monitor.settings.realtime_delay
        try:
            while True:
                changes = await self.inotify.read()
                with trio.move_on_after(delay):
                    while True:
                        changes += await self.inotify.read()
                try:
                    await self._handle(changes)
                except Exception:  # noqa: BLE001 - realtime goes on; the next scan catches up
                    log.exception("syscheck realtime: %d changes could not be checked", len(changes))
        finally:
            self.inotify.close()

    async def _handle(self, changes) -> None:
        files, directories = set(), set()
        for change in changes:
            if change.mask & IN_Q_OVERFLOW:
                self.monitor.counters["inotify_overflows"] += 1
                log.warning("syscheck: inotify queue overflow: a full scan checks what was missed")
                self.on_overflow()
            elif change.is_dir or change.mask & (IN_DELETE_SELF | IN_MOVE_SELF):
                directories.add(change.path)
            else:
                files.add(change.path)
        for directory in sorted(directories):
            owner = self.monitor.settings.owner(directory)
            if owner is None or not owner.realtime:
                continue
            self.inotify.remove_under(directory)
            files.discard(directory)
            below = owner.below(directory)
            if below is not None:
                # a directory came, went, or was replaced: walk what is there now
                await self.monitor.scan_directory(below, owner, REALTIME, ScanReport())
        files = {path for path in files
                 if not any(path.startswith(d.rstrip(b"/") + b"/") for d in directories)}
        if files:
            await self.monitor.check_paths(files)
        log.debug("syscheck realtime: %d files, %d directories (%s)", len(files), len(directories),
                  ", ".join(display(d) for d in sorted(directories)[:3]))
