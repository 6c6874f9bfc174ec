"""Looking at files: walk a monitored directory, stat and hash what it holds.

Everything here is blocking and runs in worker threads (``trio.to_thread``). The walk
opens each directory relative to its parent's descriptor, so paths longer than
PATH_MAX are followed; a directory already on the way down (a symbolic-link loop) is
not entered twice; names are bytes, so names that are not UTF-8 are kept exactly.
"""

from __future__ import annotations

import errno
import grp
import hashlib
import os
import pwd
import stat
from dataclasses import dataclass, field
from typing import Iterator

from wazuhd_syscheck.options import DirectoryOptions, Patterns, display

CHUNK = 64 * 1024
#: How often a file that changes while it is hashed is hashed again.
HASH_RETRIES = 2
#: Bytes looked at to tell a text file from a binary one (a NUL byte: binary).
TEXT_PROBE = 8192


@dataclass
class Entry:
    """What the baseline keeps about one file."""

    path: bytes
    type: str = "file"
    size: int | None = None
    perm: str | None = None
    uid: str | None = None
    gid: str | None = None
    uname: str | None = None
    gname: str | None = None
    mtime: int | None = None
    inode: int | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    #: (dev, inode, size, mtime_ns, ctime_ns): unchanged means the content is not read again.
    signature: str = ""
    #: The content (for report_changes), when it is text and small enough.
    content: bytes | None = field(default=None, repr=False)
    #: Why the content could not be read (e.g. permission denied), when it could not.
    unreadable: str | None = None

    def checksum(self) -> str:
        """One hash over every attribute recorded: equal checksums mean no change."""
        text = "|".join("" if value is None else str(value) for value in (
            self.type, self.size, self.perm, self.uid, self.gid, self.uname, self.gname,
            self.mtime, self.inode, self.md5, self.sha1, self.sha256))
        return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class Problem:
    """Something a scan could not look at; never a reason to stop."""

    path: bytes
    message: str
    #: The path exists but cannot be read: what the baseline holds under it is kept.
    keeps_baseline: bool = True


_names: dict[tuple[str, int], str] = {}


def _name(kind: str, number: int) -> str:
    key = (kind, number)
    name = _names.get(key)
    if name is None:
        try:
            name = pwd.getpwuid(number).pw_name if kind == "u" else grp.getgrgid(number).gr_name
        except KeyError:
            name = ""
        _names[key] = name
    return name


def permission_text(mode: int) -> str:
    """``rw-r--r--``, as Wazuh reports a Linux file's permissions."""
    return stat.filemode(mode)[1:]


def describe(path: bytes, info: os.stat_result, options: DirectoryOptions) -> Entry:
    """The attributes of a stat, as far as the directory's checks ask for them."""
    checks = options.checks
    signature = f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"
    entry = Entry(path, signature=signature)
    if "size" in checks:
        entry.size = info.st_size
    if "perm" in checks:
        entry.perm = permission_text(info.st_mode)
    if "owner" in checks:
        entry.uid, entry.uname = str(info.st_uid), _name("u", info.st_uid)
    if "group" in checks:
        entry.gid, entry.gname = str(info.st_gid), _name("g", info.st_gid)
    if "mtime" in checks:
        entry.mtime = int(info.st_mtime)
    if "inode" in checks:
        entry.inode = info.st_ino
    return entry


def hash_file(entry: Entry, open_file, options: DirectoryOptions, want_content: bool,
              throttle=None) -> None:
    """Hash the file ``open_file()`` opens; retried when it changes while it is read.

    ``throttle(nbytes)`` is called as bytes are read (the scan's I/O bound).
    """
    checks = options.checks
    for _attempt in range(HASH_RETRIES + 1):
        try:
            fd = open_file()
        except OSError as exc:
            entry.unreadable = exc.strerror or str(exc)
            return
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                return
            md5 = hashlib.md5() if "md5sum" in checks else None
            sha1 = hashlib.sha1() if "sha1sum" in checks else None
            sha256 = hashlib.sha256() if "sha256sum" in checks else None
            keep = want_content and before.st_size <= options.diff_size_limit
            content = [] if keep else None
            while True:
                try:
                    chunk = os.read(fd, CHUNK)
                except OSError as exc:
                    entry.unreadable = exc.strerror or str(exc)
                    return
                if not chunk:
                    break
                for digest in (md5, sha1, sha256):
                    if digest is not None:
                        digest.update(chunk)
                if content is not None:
                    content.append(chunk)
                if throttle is not None:
                    throttle(len(chunk))
            after = os.fstat(fd)
        finally:
            os.close(fd)
        stable = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
        entry.md5 = md5.hexdigest() if md5 else None
        entry.sha1 = sha1.hexdigest() if sha1 else None
        entry.sha256 = sha256.hexdigest() if sha256 else None
        if content is not None:
            data = b"".join(content)
            entry.content = data if b"\0" not in data[:TEXT_PROBE] else None
        if stable:
            return
        # changed while it was read: describe it again from what it is now
        fresh = describe(entry.path, after, options)
        for name in ("size", "perm", "uid", "gid", "uname", "gname", "mtime", "inode", "signature"):
            setattr(entry, name, getattr(fresh, name))


def _open_at(dir_fd: int | None, name: bytes, follow: bool):
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    return lambda: os.open(name, flags, dir_fd=dir_fd)


def look(path: bytes, options: DirectoryOptions, *, want_content: bool, known_signature: str | None = None,
         throttle=None) -> Entry | Problem | None:
    """One path, as realtime checks it: its entry, a problem, or None when it is gone."""
    try:
        info = os.stat(path) if options.follow_symbolic_link else os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            return None
        return Problem(path, exc.strerror or str(exc))
    if stat.S_ISDIR(info.st_mode):
        return None
    entry = describe(path, info, options)
    if stat.S_ISLNK(info.st_mode):
        _hash_link(entry, path, options)
    elif stat.S_ISREG(info.st_mode) and options.hashes() and entry.signature != known_signature:
        hash_file(entry, _open_at(None, path, options.follow_symbolic_link), options, want_content,
                  throttle)
    return entry


def _hash_link(entry: Entry, path: bytes, options: DirectoryOptions, dir_fd: int | None = None) -> None:
    """A link that is not followed is known by what it points to."""
    try:
        target = os.readlink(path if dir_fd is None else os.path.basename(path), dir_fd=dir_fd)
    except OSError as exc:
        entry.unreadable = exc.strerror or str(exc)
        return
    checks = options.checks
    entry.md5 = hashlib.md5(target).hexdigest() if "md5sum" in checks else None
    entry.sha1 = hashlib.sha1(target).hexdigest() if "sha1sum" in checks else None
    entry.sha256 = hashlib.sha256(target).hexdigest() if "sha256sum" in checks else None


@dataclass
class Walk:
    """One walk of one monitored directory: entries and problems, in batches.

    ``known`` is the baseline index (``{path text: (checksum, signature, dir)}``): a file
    whose stat signature did not change is not read again (its ``signature`` equals the
    baseline's, and the caller leaves it as it is).
    """

    options: DirectoryOptions
    ignore: Patterns
    skip_fs: frozenset[str]
    known: dict[str, tuple]
    nested: frozenset[bytes] = frozenset()
    want_content: bool = False
    throttle_bytes: object = None
    directories: list[bytes] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0

    def batches(self, size: int = 256) -> Iterator[list[Entry]]:
        batch: list[Entry] = []
        for entry in self._walk():
            batch.append(entry)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _walk(self) -> Iterator[Entry]:
        root = self.options.path
        follow = self.options.follow_symbolic_link
        try:
            info = os.stat(root) if follow else os.lstat(root)
        except OSError as exc:
            missing = exc.errno in (errno.ENOENT, errno.ENOTDIR)
            self.problems.append(Problem(root, exc.strerror or str(exc), keeps_baseline=not missing))
            return
        if not stat.S_ISDIR(info.st_mode):
            entry = self._file(None, root, info)
            if entry is not None:
                yield entry
            return
        mounts = Mounts() if self.skip_fs else None
        if mounts is not None and mounts.skipped(info.st_dev, self.skip_fs):
            self.problems.append(Problem(root, f"skipped: a {mounts.types[info.st_dev]} filesystem "
                                               "(skip_nfs/skip_dev/skip_proc/skip_sys)"))
            return
        try:
            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            self.problems.append(Problem(root, exc.strerror or str(exc)))
            return
        yield from self._directory(fd, root, 0, {(info.st_dev, info.st_ino)}, mounts, info.st_dev)

    def _directory(self, fd: int, path: bytes, depth: int, ancestors: set, mounts, parent_dev: int):
        self.directories.append(path)
        try:
            try:
                names = sorted(os.listdir(fd))
            except OSError as exc:
                self.problems.append(Problem(path, exc.strerror or str(exc)))
                return
            follow = self.options.follow_symbolic_link
            for name in names:
                bname = os.fsencode(name)  # listdir(fd) decodes with surrogateescape: exact bytes back
                child = path.rstrip(b"/") + b"/" + bname
                if self.ignore.matches(child) or child in self.nested:
                    continue
                try:
                    info = os.stat(bname, dir_fd=fd, follow_symlinks=follow)
                except FileNotFoundError:
                    continue  # gone between the listing and the look: the next scan sees it
                except OSError as exc:
                    if exc.errno == errno.ELOOP:
                        self.problems.append(Problem(child, "symbolic link loop", keeps_baseline=False))
                        continue
                    self.problems.append(Problem(child, exc.strerror or str(exc)))
                    continue
                if stat.S_ISDIR(info.st_mode):
                    if depth + 1 > self.options.recursion_level:
                        continue
                    key = (info.st_dev, info.st_ino)
                    if key in ancestors:
                        self.problems.append(Problem(child, "symbolic link loop (directory already "
                                                            "being scanned)", keeps_baseline=False))
                        continue
                    if mounts is not None and info.st_dev != parent_dev and mounts.skipped(info.st_dev, self.skip_fs):
                        continue
                    try:
                        child_fd = os.open(bname, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
                                           | (0 if follow else os.O_NOFOLLOW), dir_fd=fd)
                    except OSError as exc:
                        self.problems.append(Problem(child, exc.strerror or str(exc)))
                        continue
                    ancestors.add(key)
                    try:
                        yield from self._directory(child_fd, child, depth + 1, ancestors, mounts, info.st_dev)
                    finally:
                        ancestors.discard(key)
                    continue
                entry = self._file(fd, child, info, bname)
                if entry is not None:
                    yield entry
        finally:
            os.close(fd)

    def _file(self, dir_fd: int | None, path: bytes, info: os.stat_result, name: bytes | None = None):
        restrict = self.options.restrict
        if restrict is not None and not restrict.search(os.path.basename(path).decode("utf-8", "replace")):
            return None
        self.files += 1
        entry = describe(path, info, self.options)
        if stat.S_ISLNK(info.st_mode):
            _hash_link(entry, path, self.options, dir_fd)
        elif stat.S_ISREG(info.st_mode) and self.options.hashes():
            known = self.known.get(display(path))
            if known is None or known[1] != entry.signature:
                opener = _open_at(dir_fd, name or path, self.options.follow_symbolic_link)
                hash_file(entry, opener, self.options, self.want_content, self.throttle_bytes)
        return entry


class Mounts:
    """Filesystem types by device, from /proc/self/mountinfo (for skip_nfs/dev/proc/sys)."""

    def __init__(self):
        self.types: dict[int, str] = {}
        try:
            with open("/proc/self/mountinfo", "rb") as file:
                for line in file:
                    fields = line.split()
                    try:
                        major, minor = (int(x) for x in fields[2].split(b":"))
                        fstype = fields[fields.index(b"-") + 1].decode()
                    except (ValueError, IndexError):
                        continue
                    self.types[os.makedev(major, minor)] = fstype
        except OSError:
            pass

    def skipped(self, device: int, skip: frozenset[str]) -> bool:
        return self.types.get(device, "") in skip
