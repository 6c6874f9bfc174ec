"""Log files the way Wazuh keeps them: rotated daily and/or by size, archived gzip-compressed
under ``logs/<name>/YYYY/Mon/``, 0640 files in 0750 folders, secrets masked before anything is written.

One mechanism for every writer: :class:`RotatingFile` takes whole lines (the daemon log, the API
access log, the alerts writer's raw ``alerts.json``/``alerts.log`` lines); :class:`LogHandler`
puts :mod:`logging` records on top of it in Wazuh's ``ossec.log`` or ``ossec.json`` shape.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "RotatingFile",
    "LogHandler",
    "PlainFormatter",
    "JSONFormatter",
    "SecretMaskingFilter",
    "mask_secrets",
    "file_handlers",
    "configure_logging",
]

MASK = "****"
FILE_MODE = 0o640
DIR_MODE = 0o750
# Wazuh's archive folders use English month names whatever the locale (strftime's %b is not).
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

log = logging.getLogger("wazuhd.logs")

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


def _makedirs(path: Path) -> None:
    """Create missing folders 0750 (mkdir's mode is cut by the umask, so chmod what we create)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another writer created it meanwhile
            continue
        os.chmod(folder, DIR_MODE)


class RotatingFile:
    """An append-only line file that rotates at local midnight and/or before exceeding ``max_size``.

    Every line is one unbuffered ``O_APPEND`` write, so nothing sits in a buffer when the process
    dies and concurrent lines never interleave. A rotated file is renamed into its dated archive
    folder, the live file is reopened at once, and a background thread gzips the archive to a
    temporary file, renames it into place and only then removes the plain copy: a crash at any
    point leaves every line in some file (a plain leftover is compressed at the next start).
    Midnight is noticed on the first write of the new day; a daemon that wants the archive even
    on a silent night calls :meth:`rotate_if_due` from a timer.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        daily: bool = True,
        max_size: int = 0,
        compress: bool = True,
        mode: int = FILE_MODE,
        clock: Callable[[], float] = time.time,
        archive_dir: str | os.PathLike | None = None,
        archive_name: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.daily = daily
        self.max_size = max_size
        self.compress = compress
        self.mode = mode
        self.clock = clock
        # Wazuh keeps logs/ossec.log's archives in logs/ossec/ but logs/alerts/alerts.json's in
        # logs/alerts/ as ossec-alerts-DD.json.gz: both parts can be overridden for the alerts writer.
        self.archive_dir = Path(archive_dir) if archive_dir is not None else self.path.parent / self.path.stem
        self.archive_name = archive_name or self.path.stem
        self._lock = threading.Lock()
        self._compressors: list[threading.Thread] = []
        self._fd: int | None = None
        self._size = 0
        self._day: dt.date = self._today()
        self._closed = False
        self._retry_rotation_at = float("-inf")
        with self._lock:
            self._open()
            if self._size:  # a restart on a later day must still archive the old day's lines
                self._day = dt.date.fromtimestamp(os.fstat(self._fd).st_mtime)
        if compress:
            self._recover_leftovers()
        RotatingFile._open_files.add(self)

    def _today(self) -> dt.date:
        return dt.date.fromtimestamp(self.clock())

    def _open(self) -> None:
        _makedirs(self.path.parent)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, self.mode)
        os.fchmod(self._fd, self.mode)
        self._size = os.fstat(self._fd).st_size

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _reopen_if_replaced(self) -> None:
        """Reopen when the path no longer names our file (deleted or moved by someone else)."""
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            on_disk = None
        mine = os.fstat(self._fd) if self._fd is not None else None
        if on_disk is None or mine is None or (on_disk.st_ino, on_disk.st_dev) != (mine.st_ino, mine.st_dev):
            self._close_fd()
            self._open()

    def write(self, line: str) -> None:
        """Append ``line`` (a newline is added unless it ends with one), rotating first if due."""
        self.write_lines([line])

    def write_lines(self, lines: Iterable[str]) -> None:
        """Append several lines: one check of the file and, when no rotation falls inside
        the batch, one write (the alerts writer's path: a batch per analysed chunk)."""
        payloads = [(line if line.endswith("\n") else line + "\n").encode("utf-8", "backslashreplace")
                    for line in lines]
        if not payloads:
            return
        with self._lock:
            if self._closed:
                raise ValueError(f"write to closed log file {self.path}")
            self._reopen_if_replaced()
            total = sum(map(len, payloads))
            if self.max_size and self._size + total > self.max_size and len(payloads) > 1:
                for payload in payloads:  # a size rotation falls inside: line by line
                    self._append(payload)
            else:
                self._append(b"".join(payloads))

    def _append(self, payload: bytes) -> None:
        self._rotate_if_due(len(payload))
        view = memoryview(payload)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(payload)

    #: Every open RotatingFile of the process, so one timer can rotate them all at midnight.
    _open_files: "weakref.WeakSet[RotatingFile]" = weakref.WeakSet()

    @classmethod
    def rotate_all_due(cls) -> None:
        """Archive every open file whose day has ended (the daemon calls this each minute,
        so a quiet night still gets its archive)."""
        for file in list(cls._open_files):
            file.rotate_if_due()

    def rotate_if_due(self) -> None:
        """Archive the file if the day has changed; meant for a periodic timer."""
        with self._lock:
            if not self._closed:
                self._reopen_if_replaced()
                self._rotate_if_due(0)

    def rotate(self) -> None:
        """Archive the current contents now (e.g. on an operator's request)."""
        with self._lock:
            if not self._closed:
                self._reopen_if_replaced()
                self._rotate(self._day)

    def _rotate_if_due(self, incoming: int) -> None:
        today = self._today()
        if self.daily and today != self._day:
            self._rotate(self._day)
            self._day = today
        if self.max_size and self._size and self._size + incoming > self.max_size:
            self._rotate(today)

    def _archive_path(self, day: dt.date) -> Path:
        """``<archive_dir>/YYYY/Mon/<name>-DD<ext>``, then ``-DD-001``, ``-DD-002``... like Wazuh."""
        folder = self.archive_dir / f"{day.year:04d}" / MONTHS[day.month - 1]
        _makedirs(folder)
        ext = self.path.suffix
        counter = 0
        while True:
            stem = f"{self.archive_name}-{day.day:02d}" + (f"-{counter:03d}" if counter else "")
            plain = folder / f"{stem}{ext}"
            if not plain.exists() and not plain.with_name(plain.name + ".gz").exists():
                return plain
            counter += 1

    def _rotate(self, day: dt.date) -> None:
        if not self._size or self.clock() < self._retry_rotation_at:
            return
        try:
            target = self._archive_path(day)
            os.rename(self.path, target)
        except OSError as exc:
            # Keep the lines flowing into the live file; logging here could re-enter this lock.
            self._retry_rotation_at = self.clock() + 60
            print(f"wazuhd: cannot rotate {self.path}, retrying in 60s: {exc}", file=sys.stderr)
            return
        self._close_fd()
        self._open()
        if self.compress:
            self._start_compressing([target])

    def _start_compressing(self, plains: list[Path]) -> None:
        """Compress off the writers' path: gzip of a large file must not stall logging callers."""
        self._compressors = [t for t in self._compressors if t.is_alive()]
        thread = threading.Thread(
            target=self._compress_all, args=(plains,), name=f"gzip {self.path.name}", daemon=True
        )
        self._compressors.append(thread)
        thread.start()

    def _compress_all(self, plains: list[Path]) -> None:
        for plain in plains:
            final = plain.with_name(plain.name + ".gz")
            temp = plain.with_name(plain.name + ".gz.tmp")
            try:
                with open(plain, "rb") as source, open(os.open(temp, _NEW_FILE, self.mode), "wb") as raw:
                    os.fchmod(raw.fileno(), self.mode)
                    with gzip.GzipFile(filename=plain.name, mode="wb", fileobj=raw) as gz:
                        shutil.copyfileobj(source, gz, 1 << 20)
                    raw.flush()
                    os.fsync(raw.fileno())
                os.rename(temp, final)
                os.unlink(plain)
            except OSError as exc:
                temp.unlink(missing_ok=True)
                log.error("could not compress %s, kept uncompressed: %s", plain, exc)

    def _recover_leftovers(self) -> None:
        """Finish what a crash interrupted: drop partial .gz.tmp files, compress plain archives."""
        pattern = f"*/*/{self.archive_name}-*{self.path.suffix}"
        for temp in self.archive_dir.glob(pattern + ".gz.tmp"):
            temp.unlink(missing_ok=True)
        leftovers = sorted(self.archive_dir.glob(pattern))
        if leftovers:
            self._start_compressing(leftovers)

    def wait_compressed(self) -> None:
        """Block until every started compression has finished."""
        for thread in list(self._compressors):
            thread.join()

    def close(self) -> None:
        """Close the file and wait for pending compressions so no archive is left half-written."""
        with self._lock:
            self._closed = True
            self._close_fd()
        RotatingFile._open_files.discard(self)
        self.wait_compressed()

    def __enter__(self) -> RotatingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- secret masking ---------------------------------------------------------------------------

_NAME_WORDS = r"(?:password|passwd|pwd|passphrase|secret|token|key|sas|sig|signature|credential)s?"
_QUOTED_VALUE = r"\\\"(?:[^\\]|\\[^\"])*?\\\"|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"


def _masked_value(value: str) -> str:
    """``****`` inside the value's own quotes (plain, or escaped as in JSON nested in a string)."""
    quote = value[:2] if value.startswith("\\") else value[:1] if value[0] in "\"'" else ""
    return f"{quote}{MASK}{quote}"


_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # PEM private key blocks (or what is left of one when the line was cut): keep the armour.
    (
        re.compile(r"(-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----)(?:.*?(-----END \2PRIVATE KEY-----)|.*)", re.S),
        lambda m: f"{m[1]}{MASK}{m[3] or ''}",
    ),
    # Authorization headers, any scheme: keep the scheme, hide the credentials.
    (
        re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:[a-z][\w-]*\s+)?)([^\s\"',;]+)"),
        lambda m: m[1] + MASK,
    ),
    (re.compile(r"\b(Bearer\s+)([A-Za-z0-9\-._~+/]{8,}=*)"), lambda m: m[1] + MASK),
    # Credentials in URLs: scheme://user:password@host.
    (
        re.compile(r"(?i)((?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,31}://[^\s:/@]*:)([^\s@/]+)(@)"),
        lambda m: m[1] + MASK + m[3],
    ),
    # JWTs: base64url JSON header (always "eyJ"), payload, signature.
    (re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), lambda m: MASK),
    # name=value, "name": "value", 'name': 'value', name: value; the value keeps its quotes.
    (
        re.compile(
            r"(?i)(?<![A-Za-z0-9_.-])((?:\\?[\"'])?[A-Za-z0-9_.-]{0,64}"
            + _NAME_WORDS
            + r"(?:\\?[\"'])?\s*[:=]\s*)"
            r"(" + _QUOTED_VALUE + r"|[^\s&;,\"'{}\[\]]+)"
        ),
        lambda m: m[1] + _masked_value(m[2]),
    ),
    # Command-line options: --password hunter2.
    (
        re.compile(r"(?i)((?<![A-Za-z0-9_-])--[A-Za-z0-9_-]{0,64}" + _NAME_WORDS + r"\s+)([^\s-]\S*)"),
        lambda m: m[1] + MASK,
    ),
    # AWS secret access keys (40 characters) shortly after a key-ish name, in any notation.
    (
        re.compile(
            r"(?i)((?:secret|key)[A-Za-z0-9_.-]{0,64}[\"']?[\s:=>\"',]{1,6})([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        lambda m: m[1] + MASK,
    ),
]

_SECRET_KEY = re.compile(r"(?i)(?:" + _NAME_WORDS + r"|authorization|cookie)$")


def _mask_text(text: str) -> str:
    for pattern, replace in _PATTERNS:
        text = pattern.sub(replace, text)
    return text


def _is_secret(key: Any, value: Any) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key)) and value not in (None, "")


def mask_secrets(obj: Any) -> Any:
    """Return a copy of ``obj`` with secrets replaced by ``****``.

    Strings are searched for every form :class:`SecretMaskingFilter` knows; in dicts (nested,
    inside lists or tuples too) the whole value of a secret-named key is replaced, whatever its type.
    """
    if isinstance(obj, str):
        return _mask_text(obj)
    if isinstance(obj, dict):
        return {key: MASK if _is_secret(key, value) else mask_secrets(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(mask_secrets(item) for item in obj)
    return obj


class SecretMaskingFilter(logging.Filter):
    """Mask secrets in a record's final text, its arguments, traceback and stack.

    Put it on handlers, not loggers: a logger's filters skip records propagated from children.
    The record is rewritten in place (message formatted, args dropped) so every later handler
    sees the masked text too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_wazuhd_masked", False):
            return True
        try:  # mask structured arguments first: a secret inside a list in a dict escapes the regexes
            message = record.msg % mask_secrets(record.args) if record.args else str(record.msg)
        except (TypeError, ValueError, KeyError):
            message = record.getMessage()
        record.msg, record.args = _mask_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = _mask_text(record.stack_info)
        record._wazuhd_masked = True
        return True


# --- formatters and handler -------------------------------------------------------------------


class _WazuhFormatter(logging.Formatter):
    def __init__(self, tag: str = "wazuhd") -> None:
        super().__init__()
        self.tag = tag

    def module(self, record: logging.LogRecord) -> str:
        """``wazuhd.sockets`` -> ``sockets``; the daemon's own logger has no module, like Wazuh's."""
        if record.name in (self.tag, "root"):
            return ""
        return record.name.removeprefix(self.tag + ".")

    def stamp(self, record: logging.LogRecord) -> str:
        return time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(record.created))

    def description(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for extra in (record.exc_text, record.stack_info and self.formatStack(record.stack_info)):
            if extra:
                text = f"{text}\n{extra}"
        return text


class PlainFormatter(_WazuhFormatter):
    """``2026/11/26 16:21:11 wazuhd[4242] sockets: INFO: message`` (Wazuh's ossec.log shape)."""

    def format(self, record: logging.LogRecord) -> str:
        module = self.module(record)
        where = f"{self.tag}[{record.process}]" + (f" {module}" if module else "")
        return f"{self.stamp(record)} {where}: {record.levelname}: {self.description(record)}"


class JSONFormatter(_WazuhFormatter):
    """One JSON object per line with Wazuh's ossec.json keys: timestamp, tag, level, description."""

    def format(self, record: logging.LogRecord) -> str:
        module = self.module(record)
        return json.dumps(
            {
                "timestamp": self.stamp(record),
                "tag": f"{self.tag}:{module}" if module else self.tag,
                "level": record.levelname.lower(),
                "description": self.description(record),
            },
            ensure_ascii=False,
        )


class LogHandler(logging.Handler):
    """A :mod:`logging` handler writing formatted records to a :class:`RotatingFile`."""

    def __init__(
        self, file: RotatingFile, formatter: logging.Formatter | None = None, level: int = logging.NOTSET
    ) -> None:
        super().__init__(level)
        self.file = file
        self.setFormatter(formatter or PlainFormatter())
        self.addFilter(SecretMaskingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.file.write(self.format(record))
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self.file.close()
        super().close()


# --- wiring -----------------------------------------------------------------------------------

_FORMATS: dict[str, tuple[str, type[_WazuhFormatter]]] = {
    "plain": (".log", PlainFormatter),
    "json": (".json", JSONFormatter),
}


def _check_formats(formats: Iterable[str]) -> list[str]:
    formats = list(dict.fromkeys(formats))
    unknown = sorted(set(formats) - set(_FORMATS))
    if unknown:
        raise ValueError(f"unknown log format(s) {', '.join(unknown)}: expected plain and/or json")
    return formats


def file_handlers(
    logs_dir: str | os.PathLike,
    name: str,
    *,
    formats: Iterable[str] = ("plain",),
    tag: str | None = None,
    daily: bool = True,
    max_size: int = 0,
    compress: bool = True,
    clock: Callable[[], float] = time.time,
) -> list[LogHandler]:
    """One masking handler per format: ``<logs_dir>/<name>.log`` and/or ``<name>.json``.

    The building block for any log with Wazuh's layout (the daemon's, the API's ``api.log``);
    the caller decides which logger gets them.
    """
    handlers = []
    for fmt in _check_formats(formats):
        ext, formatter = _FORMATS[fmt]
        path = Path(logs_dir) / f"{name}{ext}"
        file = RotatingFile(path, daily=daily, max_size=max_size, compress=compress, clock=clock)
        handlers.append(LogHandler(file, formatter(tag or name)))
    return handlers


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}: expected debug, info, warning, error or critical")
    return number


def configure_logging(
    logs_dir: str | os.PathLike,
    *,
    name: str = "wazuhd",
    level: str | int = "info",
    formats: Iterable[str] = ("plain",),
    daily: bool = True,
    max_size: int = 0,
    compress: bool = True,
    also_stderr: bool = False,
) -> list[logging.Handler]:
    """Send every logger's records (plugins and libraries included) to the daemon's log files.

    Handlers go on the root logger; a second call replaces (and closes) those of the first, so
    reconfiguring never duplicates lines. Returns the handlers so callers can remove them.
    """
    root = logging.getLogger()
    number = _level(level)
    formats = _check_formats(formats)
    # Close the previous files first: two RotatingFiles on one path would race on its archives.
    for old in [h for h in root.handlers if getattr(h, "_wazuhd_configured", None) == name]:
        root.removeHandler(old)
        old.close()
    handlers: list[logging.Handler] = list(
        file_handlers(logs_dir, name, formats=formats, daily=daily, max_size=max_size, compress=compress)
    )
    if also_stderr:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setFormatter(PlainFormatter(name))
        stderr.addFilter(SecretMaskingFilter())
        handlers.append(stderr)
    for handler in handlers:
        handler._wazuhd_configured = name
        root.addHandler(handler)
    root.setLevel(number)
    return handlers
