"""File tailing, as Wazuh's logcollector ``<localfile>``: queue ``1``
(``LOCALFILE_MQ``), location = the file's path.

The file is polled (``poll_interval``); reads run in worker threads. It is
followed across rotation (the path now names another file: the old one is
read to its end, its unterminated last line and any held multi-line event are
sent, then the new file is read from its start) and truncation (copytruncate:
the file got shorter than what was read, or its first KiB changed; reading
restarts at 0). While the
path is missing, e.g. between a rename and the new file, the old file keeps
being read.

Position. The store (database ``analysis_inputs``) keeps, per location, the
device, inode and offset just after the last line whose event is in the
channel, plus a fingerprint (SHA-1 of its first bytes) so a recycled inode is
not mistaken for the old file. It is written after each chunk read (256 KiB),
and on the way out (shielded), so a restart neither loses nor repeats a line;
after a crash at most one chunk's events are repeated. At start:

- the same file (inode and fingerprint match, not shorter): resume there;
- another file: if the old one was rotated to a sibling (``app.log.1``), read
  it from the saved offset to its end first; then read the new one from 0;
- no saved position (first time): ``only_future_events`` (Wazuh's default,
  yes) starts at the end, otherwise at the beginning. Unlike Wazuh, a saved
  position is always resumed: lines written while wazuhd was stopped are read.
Only the last file read is looked for among the siblings: a file rotated in
and out again while wazuhd was stopped (``app.log.1`` between ``.2`` and the
new ``app.log``) is not read.

Lines over ``max_size`` bytes are cut to it and counted (``truncated``), as
Wazuh's logcollector does; a trailing ``\\r`` is removed; bytes that are not
UTF-8 are replaced.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import trio

from wazuhd.events import Event
from wazuhd.store import Database, Migration

from .common import Counters, Throttle
from .formats import SyslogFormat, make_format

log = logging.getLogger("wazuhd.analysis.inputs.localfile")

QUEUE = "1"  # LOCALFILE_MQ
DATABASE = "analysis_inputs"
CHUNK = 256 * 1024
FINGERPRINT = 1024

MIGRATIONS = [
    Migration(DATABASE, "analysis-inputs-0001-localfile-positions", sql="""
        CREATE TABLE localfile_positions (
            location    TEXT PRIMARY KEY,
            device      INTEGER NOT NULL,
            inode       INTEGER NOT NULL,
            offset      INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            updated_at  REAL NOT NULL
        );
    """),
]


@dataclass
class Saved:
    device: int
    inode: int
    offset: int
    fingerprint: str


def fingerprint(fd: int, offset: int) -> str:
    """``"<n>:<sha1 of the first n bytes>"`` with n = min(offset, 1024)."""
    n = min(offset, FINGERPRINT)
    return f"{n}:{hashlib.sha1(os.pread(fd, n, 0)).hexdigest()}"


def _matches(fd: int, saved: Saved) -> bool:
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (saved.device, saved.inode) or st.st_size < saved.offset:
        return False
    n = int(saved.fingerprint.split(":", 1)[0])
    return n <= saved.offset and fingerprint(fd, n) == saved.fingerprint


def _open(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None


def _find_rotated(path: Path, saved: Saved) -> int | None:
    """Open the sibling (``app.log.1``, ``app.log-2026...``) that is the saved file."""
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return None
    for entry in entries:
        if entry.name == path.name or not entry.name.startswith(path.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (saved.device, saved.inode):
            fd = _open(Path(entry.path))
            if fd is not None and _matches(fd, saved):
                return fd
            if fd is not None:
                os.close(fd)
    return None


class FileInput:
    """One ``localfile.files[]`` entry. ``run`` may be started again after it
    stopped: it resumes from the store."""

    def __init__(self, cfg: dict, *, db: Database, event_sender, poll_interval: float):
        self.location = cfg["location"]
        self.path = Path(self.location)
        self.cfg = cfg
        self.db = db
        self.event_sender = event_sender
        self.poll_interval = poll_interval
        self.max_size = cfg["max_size"]
        self.counters = Counters("received", "invalid", "truncated", "rotations", "truncations")
        make_format(cfg, self.counters)  # refuse a bad format when the service is built

    @property
    def name(self) -> str:
        return f"localfile:{self.location}"

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with self.event_sender() as events:
            follower = _Follower(self, events)
            try:
                await follower.start()
                task_status.started()
                await follower.follow()
            finally:
                with trio.move_on_after(5) as scope:
                    scope.shield = True
                    await follower.save()
                follower.close()


class _Follower:
    """The state of one run: the open file, what was read, what was sent."""

    def __init__(self, owner: FileInput, events: trio.MemorySendChannel):
        self.owner = owner
        self.events = events
        self.format: SyslogFormat = make_format(owner.cfg, owner.counters)
        self.throttle = Throttle()
        self.fd: int | None = None
        self.ident: tuple[int, int] = (0, 0)
        self.read_offset = 0      # bytes of the file read so far
        self.partial = b""        # read bytes after the last newline
        self.overflow = False     # the partial line went over max_size: skip to its newline
        self.head = b""           # the file's first bytes as read, to notice a rewrite
        self.committed = 0        # offset after the last line whose event was sent
        self.dirty = False
        self.missing_logged = False

    # -- positions

    async def start(self) -> None:
        """Choose where to read from (see the module docstring) and record it."""
        row = await self.owner.db.fetchone(
            "SELECT device, inode, offset, fingerprint FROM localfile_positions"
            " WHERE location = ?", (self.owner.location,))
        saved = Saved(**row) if row else None
        fd = await trio.to_thread.run_sync(_open, self.owner.path)
        if saved is not None:
            if fd is not None and await trio.to_thread.run_sync(_matches, fd, saved):
                self._use(fd, saved.offset)
                return
            rotated = await trio.to_thread.run_sync(_find_rotated, self.owner.path, saved)
            if rotated is not None:
                # Resume the old file; the first poll sees the rotation and moves on.
                log.info("localfile %s: rotated while stopped; reading the rest of the old file",
                         self.owner.location)
                if fd is not None:
                    os.close(fd)
                self._use(rotated, saved.offset)
                return
            log.info("localfile %s: not the file read before the stop; reading it from "
                     "the start", self.owner.location)
            self._use(fd, 0)
        elif fd is not None and self.owner.cfg["only_future_events"]:
            self._use(fd, os.fstat(fd).st_size)
        else:
            self._use(fd, 0)
        self.dirty = True
        await self.save()

    def _use(self, fd: int | None, offset: int) -> None:
        self.fd = fd
        if fd is not None:
            st = os.fstat(fd)
            self.ident = (st.st_dev, st.st_ino)
        self.read_offset = self.committed = offset
        self.partial, self.overflow, self.head = b"", False, b""

    async def save(self) -> None:
        if not self.dirty or self.fd is None:
            return
        fd, (device, inode), offset = self.fd, self.ident, self.committed
        mark = await trio.to_thread.run_sync(fingerprint, fd, offset)
        await self.owner.db.execute(
            "INSERT INTO localfile_positions (location, device, inode, offset, fingerprint,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (location) DO UPDATE SET"
            " device = excluded.device, inode = excluded.inode, offset = excluded.offset,"
            " fingerprint = excluded.fingerprint, updated_at = excluded.updated_at",
            (self.owner.location, device, inode, offset, mark, time.time()))
        self.dirty = False

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    # -- following

    async def follow(self) -> None:
        while True:
            await self._poll()
            deadline = self.format.deadline
            if deadline is not None and time.monotonic() >= deadline:
                await self._send(self.format.flush())
            await self.save()
            delay = self.owner.poll_interval
            if self.format.deadline is not None:
                delay = min(delay, max(0.0, self.format.deadline - time.monotonic()))
            await trio.sleep(delay)

    async def _poll(self) -> None:
        path = self.owner.path
        if self.fd is None:
            fd = await trio.to_thread.run_sync(_open, path)
            if fd is None:
                if not self.missing_logged:
                    log.info("localfile %s: file not found; waiting for it", path)
                    self.missing_logged = True
                return
            self.missing_logged = False
            self._use(fd, 0)
            self.dirty = True
        await self._drain()
        try:
            st = await trio.to_thread.run_sync(os.stat, path)
        except FileNotFoundError:
            return  # renamed away and not yet replaced: keep reading the old file
        if (st.st_dev, st.st_ino) != self.ident:
            await self._drain()  # what the writer added before it moved on
            await self._finish_file()
            self.owner.counters.add("rotations")
            log.info("localfile %s: rotated; reading the new file", path)
            self.close()
            fd = await trio.to_thread.run_sync(_open, path)
            self._use(fd, 0)
            self.dirty = True
            await self._drain()

    def _read(self) -> bytes | None:
        """The next chunk, or None when the file was truncated: it is shorter than what
        was read, or its first bytes changed (truncated and written again past our
        offset, maybe while we were reading it)."""
        if len(self.head) < min(self.read_offset, FINGERPRINT):  # resumed past the head
            self.head = os.pread(self.fd, min(self.read_offset, FINGERPRINT), 0)
        data = os.pread(self.fd, CHUNK, self.read_offset)
        if os.fstat(self.fd).st_size < self.read_offset or \
                os.pread(self.fd, len(self.head), 0) != self.head:
            return None
        if len(self.head) == self.read_offset < FINGERPRINT:
            self.head += data[:FINGERPRINT - self.read_offset]
        return data

    async def _drain(self) -> None:
        while self.fd is not None:
            data = await trio.to_thread.run_sync(self._read)
            if data is None:
                await self._finish_file()
                self.owner.counters.add("truncations")
                log.info("localfile %s: truncated; reading from the start", self.owner.path)
                self._use(self.fd, 0)
                self.dirty = True
            elif not data:
                return
            else:
                await self._consume(data)
                await self.save()  # a crash repeats at most one chunk's lines

    async def _consume(self, data: bytes) -> None:
        # Newlines are only ever in ``data`` (``partial`` has none, and may have
        # been cut to max_size), so offsets are counted from where ``data`` starts.
        data_start, held = self.read_offset, len(self.partial)
        buffer = self.partial + data
        self.read_offset += len(data)
        position = 0
        while (newline := buffer.find(b"\n", position)) >= 0:
            line = buffer[position:newline]
            position = newline + 1
            await self._line(line, data_start + position - held)
        self.partial = buffer[position:]
        if len(self.partial) > self.owner.max_size:
            self.partial = self.partial[:self.owner.max_size + 1]
            self.overflow = True

    async def _line(self, raw: bytes, end: int) -> None:
        if self.overflow or len(raw) > self.owner.max_size:
            self.overflow = False
            self.owner.counters.add("truncated")
            self.throttle.warning("truncated", "localfile %s: line ending at byte %d is over "
                                  "max_size (%d bytes); sending its first %d bytes",
                                  self.owner.location, end, self.owner.max_size,
                                  self.owner.max_size)
            raw = raw[:self.owner.max_size]
        text = raw.removesuffix(b"\r").decode("utf-8", errors="replace")
        await self._send(self.format.feed(text, end))

    async def _finish_file(self) -> None:
        """The file will not grow any more: send its unterminated line and held event."""
        if self.partial:
            await self._line(self.partial, self.read_offset)
            self.partial = b""
        await self._send(self.format.flush())

    async def _send(self, items) -> None:
        for message, end in items:
            if message is not None:
                await self.events.send(Event(QUEUE, self.owner.location, message))
                self.owner.counters.add("received")
            self.committed = end
            self.dirty = True
