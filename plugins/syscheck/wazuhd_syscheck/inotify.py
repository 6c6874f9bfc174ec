"""Linux inotify through ctypes, read from trio: a non-blocking descriptor and
``trio.lowlevel.wait_readable``, so realtime costs no thread."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
from dataclasses import dataclass

import trio

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

WATCH_MASK = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE
              | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
_HEADER = struct.Struct("iIII")


class InotifyError(OSError):
    pass


@dataclass(frozen=True)
class Change:
    """One inotify event, with the full path it concerns."""

    path: bytes
    mask: int

    @property
    def is_dir(self) -> bool:
        return bool(self.mask & IN_ISDIR)


def _libc():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    return libc


class Inotify:
    """Watches on directories; :meth:`read` waits for and returns the next changes."""

    def __init__(self):
        self.libc = _libc()
        fd = self.libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            number = ctypes.get_errno()
            raise InotifyError(number, f"inotify_init1: {os.strerror(number)}")
        self.fd = fd
        self.paths: dict[int, bytes] = {}
        self.watches: dict[bytes, int] = {}
        self.overflows = 0

    def add(self, path: bytes, follow: bool = False) -> None:
        """Watch a directory (raises InotifyError naming the path, e.g. the watch limit)."""
        mask = WATCH_MASK | (0 if follow else IN_DONT_FOLLOW)
        wd = self.libc.inotify_add_watch(self.fd, path, mask)
        if wd < 0:
            number = ctypes.get_errno()
            hint = " (raise fs.inotify.max_user_watches)" if number == errno.ENOSPC else ""
            raise InotifyError(number, f"cannot watch {path.decode('utf-8', 'backslashreplace')}: "
                                       f"{os.strerror(number)}{hint}")
        self.paths[wd] = path
        self.watches[path] = wd

    def remove_under(self, path: bytes) -> None:
        """Forget the watches of a directory and everything below it."""
        prefix = path.rstrip(b"/") + b"/"
        for watched in [p for p in self.watches if p == path or p.startswith(prefix)]:
            wd = self.watches.pop(watched)
            self.paths.pop(wd, None)
            self.libc.inotify_rm_watch(self.fd, wd)

    def __contains__(self, path: bytes) -> bool:
        return path in self.watches

    async def read(self) -> list[Change]:
        while True:
            try:
                data = os.read(self.fd, 256 * 1024)
                break
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self.fd)
        changes = []
        offset = 0
        while offset + _HEADER.size <= len(data):
            wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            offset += _HEADER.size
            name = data[offset:offset + length].rstrip(b"\0")
            offset += length
            if mask & IN_Q_OVERFLOW:
                self.overflows += 1
                changes.append(Change(b"", mask))
                continue
            directory = self.paths.get(wd)
            if directory is None:
                continue
            if mask & IN_IGNORED:
                # the directory is gone (or unmounted): its watch went with it
                self.paths.pop(wd, None)
                if self.watches.get(directory) == wd:
                    del self.watches[directory]
                continue
            path = directory.rstrip(b"/") + b"/" + name if name else directory
            changes.append(Change(path, mask))
        return changes

    def close(self) -> None:
        if self.fd >= 0:
            trio.lowlevel.notify_closing(self.fd)
            os.close(self.fd)
            self.fd = -1
