"""The ``syscheck`` section of ``etc/wazuhd.yaml``: Wazuh's options, in YAML.

A directory entry takes Wazuh's ``<directories>`` attributes as keys. ``check_all``
(on by default, as in Wazuh) turns on every check; a ``check_*`` key given explicitly
wins over it, so ``{check_all: true, check_mtime: false}`` checks all but the mtime.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field

from wazuhd.config import ConfigSection

#: The checks of a directory entry; ``sum`` stands for the three hashes.
CHECKS = ("md5sum", "sha1sum", "sha256sum", "size", "owner", "group", "perm", "mtime", "inode",
          "attrs")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_PATTERN = {"oneOf": [
    {"type": "string", "minLength": 1, "description": "A path: the file, or the directory and all below it."},
    {"type": "object", "required": ["sregex"],
     "properties": {"sregex": {"type": "string", "minLength": 1,
                               "description": "A regular expression searched in the full path."}}},
]}

_DIRECTORY = {
    "type": "object",
    "required": ["path"],
    "properties": {
        "path": {"type": "string", "minLength": 1},
        "check_all": {"type": "boolean", "default": True},
        **{f"check_{name}": {"type": ["boolean", "null"], "default": None}
           for name in ("sum", *CHECKS)},
        "realtime": {"type": "boolean", "default": False,
                     "description": "Watch with inotify and report changes as they happen."},
        "report_changes": {"type": "boolean", "default": False,
                           "description": "Report what changed in text files (a diff)."},
        "diff_size_limit": {"type": "integer", "minimum": 1, "default": 50 * 1024 * 1024,
                            "description": "Bytes: bigger files get no diff."},
        "recursion_level": {"type": "integer", "minimum": 0, "maximum": 320, "default": 256},
        "restrict": {"type": ["string", "null"], "default": None,
                     "description": "A regular expression: only files whose name matches it."},
        "tags": {"type": ["string", "null"], "default": None},
        "follow_symbolic_link": {"type": "boolean", "default": False},
    },
}

SECTION = ConfigSection("syscheck", description="File integrity monitoring of this host.", schema={
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean", "default": True},
        "frequency": {"type": "number", "exclusiveMinimum": 0, "default": 43200,
                      "description": "Seconds between scheduled scans (when scan_time is unset)."},
        "scan_time": {"type": ["string", "null"], "pattern": r"^\d{1,2}:\d{2}$", "default": None,
                      "description": "HH:MM (local time): scan at this time instead of every frequency."},
        "scan_day": {"type": ["string", "null"], "enum": [*WEEKDAYS, None], "default": None,
                     "description": "Scan on this weekday only (with scan_time, or at midnight)."},
        "scan_on_start": {"type": "boolean", "default": True},
        "alert_new_files": {"type": "boolean", "default": True},
        "directories": {"type": "array", "items": _DIRECTORY, "default": []},
        "ignore": {"type": "array", "items": _PATTERN, "default": [
            "/etc/mtab", "/etc/hosts.deny", "/etc/mail/statistics", "/etc/random-seed",
            "/etc/random.seed", "/etc/adjtime", "/etc/httpd/logs", "/etc/utmpx", "/etc/wtmpx",
            "/etc/cups/certs", "/etc/dumpdates", "/etc/svc/volatile"]},
        "nodiff": {"type": "array", "items": _PATTERN, "default": ["/etc/ssl/private.key"],
                   "description": "Files whose content changes are never shown (secrets)."},
        "skip_nfs": {"type": "boolean", "default": True},
        "skip_dev": {"type": "boolean", "default": True},
        "skip_proc": {"type": "boolean", "default": True},
        "skip_sys": {"type": "boolean", "default": True},
        "file_limit": {"type": "object", "properties": {
            "enabled": {"type": "boolean", "default": True},
            "entries": {"type": "integer", "minimum": 1, "default": 100000}}, "default": {}},
        "max_files_per_second": {"type": "integer", "minimum": 0, "default": 0,
                                 "description": "Files a scan may look at per second (0: no limit)."},
        "max_bytes_per_second": {"type": "integer", "minimum": 0, "default": 0,
                                 "description": "Bytes a scan may read for hashing per second (0: no limit)."},
        "max_eps": {"type": "integer", "minimum": 0, "default": 0,
                    "description": "Events per second sent to analysis (0: no limit)."},
        "realtime_delay": {"type": "number", "minimum": 0, "default": 0.05,
                           "description": "Seconds inotify events are gathered before they are checked."},
    },
})


@dataclass(frozen=True)
class DirectoryOptions:
    """One monitored directory (or file) with its checks resolved."""

    path: bytes
    checks: frozenset[str]
    realtime: bool = False
    report_changes: bool = False
    diff_size_limit: int = 50 * 1024 * 1024
    recursion_level: int = 256
    restrict: re.Pattern | None = None
    tags: str | None = None
    follow_symbolic_link: bool = False

    @property
    def text(self) -> str:
        return display(self.path)

    def below(self, path: bytes) -> "DirectoryOptions | None":
        """These options for walking ``path``, a directory inside this one: the recursion
        left below it (None when ``path`` is already deeper than ``recursion_level``)."""
        relative = path[len(self.path.rstrip(b"/")):].strip(b"/")
        depth = len(relative.split(b"/")) if relative else 0
        if depth > self.recursion_level:
            return None
        return dataclasses.replace(self, path=path, recursion_level=self.recursion_level - depth)

    def hashes(self) -> bool:
        return bool(self.checks & {"md5sum", "sha1sum", "sha256sum"})


@dataclass(frozen=True)
class Patterns:
    """``ignore``/``nodiff``: paths (the path and everything below) and regular expressions."""

    paths: tuple[bytes, ...] = ()
    regexes: tuple[re.Pattern, ...] = ()

    def matches(self, path: bytes) -> bool:
        for prefix in self.paths:
            if path == prefix or path.startswith(prefix.rstrip(b"/") + b"/"):
                return True
        if self.regexes:
            text = display(path)
            return any(regex.search(text) for regex in self.regexes)
        return False


@dataclass(frozen=True)
class Settings:
    directories: tuple[DirectoryOptions, ...]
    ignore: Patterns = field(default_factory=Patterns)
    nodiff: Patterns = field(default_factory=Patterns)
    skip_fs: frozenset[str] = frozenset()
    file_limit: int | None = None
    max_files_per_second: int = 0
    max_bytes_per_second: int = 0
    max_eps: int = 0
    alert_new_files: bool = True
    realtime_delay: float = 0.05

    @classmethod
    def from_config(cls, section: dict) -> "Settings":
        skip = set()
        for key, types in (("skip_nfs", ("nfs", "nfs4", "cifs", "smb3", "smbfs", "sshfs", "fuse.sshfs")),
                           ("skip_dev", ("devtmpfs", "devpts")), ("skip_proc", ("proc",)),
                           ("skip_sys", ("sysfs", "cgroup", "cgroup2", "securityfs", "debugfs"))):
            if section.get(key, True):
                skip.update(types)
        limit = section.get("file_limit") or {}
        return cls(directories=tuple(directory(entry) for entry in section.get("directories", [])),
                   ignore=patterns(section.get("ignore", []), "syscheck.ignore"),
                   nodiff=patterns(section.get("nodiff", []), "syscheck.nodiff"),
                   skip_fs=frozenset(skip),
                   file_limit=limit.get("entries", 100000) if limit.get("enabled", True) else None,
                   max_files_per_second=section.get("max_files_per_second", 0),
                   max_bytes_per_second=section.get("max_bytes_per_second", 0),
                   max_eps=section.get("max_eps", 0),
                   alert_new_files=section.get("alert_new_files", True),
                   realtime_delay=section.get("realtime_delay", 0.05))

    def owner(self, path: bytes) -> DirectoryOptions | None:
        """The most specific configured directory that holds ``path``."""
        best = None
        for entry in self.directories:
            root = entry.path.rstrip(b"/") or b"/"
            if path == root or path.startswith(root.rstrip(b"/") + b"/"):
                if best is None or len(root) > len(best.path.rstrip(b"/")):
                    best = entry
        return best


def display(path: bytes) -> str:
    """A path as text: names that are not UTF-8 keep their bytes as ``\\xNN``."""
    return path.decode("utf-8", "backslashreplace")


def _regex(text: str, where: str) -> re.Pattern:
    try:
        return re.compile(text)
    except re.error as exc:
        raise ValueError(f"{where}: invalid regular expression {text!r}: {exc}") from None


def patterns(items: list, where: str) -> Patterns:
    paths, regexes = [], []
    for item in items:
        if isinstance(item, str):
            paths.append(os.fsencode(os.path.normpath(item)))
        else:
            regexes.append(_regex(item["sregex"], where))
    return Patterns(tuple(paths), tuple(regexes))


def directory(entry: dict) -> DirectoryOptions:
    checks = set(CHECKS) - {"attrs"} if entry.get("check_all", True) else set()
    explicit_sum = entry.get("check_sum")
    if explicit_sum is not None:
        for name in ("md5sum", "sha1sum", "sha256sum"):
            (checks.add if explicit_sum else checks.discard)(name)
    for name in CHECKS:
        value = entry.get(f"check_{name}")
        if value is not None:
            (checks.add if value else checks.discard)(name)
    where = f"syscheck.directories[{entry['path']}]"
    restrict = entry.get("restrict")
    return DirectoryOptions(
        path=os.fsencode(os.path.normpath(entry["path"])),
        checks=frozenset(checks),
        realtime=entry.get("realtime", False),
        report_changes=entry.get("report_changes", False),
        diff_size_limit=entry.get("diff_size_limit", 50 * 1024 * 1024),
        recursion_level=entry.get("recursion_level", 256),
        restrict=_regex(restrict, where) if restrict else None,
        tags=entry.get("tags"),
        follow_symbolic_link=entry.get("follow_symbolic_link", False))
