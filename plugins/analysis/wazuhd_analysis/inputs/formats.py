"""How a tailed file's lines become events: Wazuh's ``log_format`` values.

A format is fed complete lines with the file offset just after each one and
returns ``(message, end)`` pairs: ``message`` is None for a line consumed
without an event (blank, invalid JSON). A line held for a multi-line event
returns nothing yet, so the tail never records a position inside an event
that has not been sent: after a restart the held lines are read again.
"""

from __future__ import annotations

import json
import logging
import re
import time

from .common import Counters, Throttle

log = logging.getLogger("wazuhd.analysis.inputs.localfile")

Item = tuple[str | None, int]

_MULTI_LINE = re.compile(r"^multi-line:\s*(\d+)$")
# multiline_regex replace= : what stands for each newline inside an event
_JOINERS = {"no-replace": "\n", "none": "", "wspace": " ", "tab": "\t"}


class SyslogFormat:
    """One line, one event (blank lines are skipped)."""

    deadline: float | None = None

    def feed(self, line: str, end: int) -> list[Item]:
        return [(line or None, end)]

    def flush(self) -> list[Item]:
        return []


class JsonFormat(SyslogFormat):
    """One JSON object per line, re-serialised compactly as Wazuh's
    ``cJSON_PrintUnformatted`` does. A line that is not a JSON object is counted
    as ``invalid`` and logged (Wazuh only says so at debug level)."""

    def __init__(self, location: str, counters: Counters):
        self.location = location
        self.counters = counters
        self._throttle = Throttle()

    def feed(self, line: str, end: int) -> list[Item]:
        if not line:
            return [(None, end)]
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            self.counters.add("invalid")
            self._throttle.warning("invalid", "localfile %s: line ending at byte %d is not a "
                                   "JSON object, skipped: %.80r", self.location, end, line)
            return [(None, end)]
        return [(json.dumps(value, separators=(",", ":"), ensure_ascii=False), end)]


class MultiLineFormat(SyslogFormat):
    """``multi-line:N``: every N lines make one event, joined by a space (Wazuh's
    ``read_multiline``)."""

    def __init__(self, lines: int):
        self.lines = lines
        self.pending: list[str] = []
        self.end = 0

    def feed(self, line: str, end: int) -> list[Item]:
        self.pending.append(line)
        self.end = end
        return self.flush() if len(self.pending) >= self.lines else []

    def flush(self) -> list[Item]:
        if not self.pending:
            return []
        message = " ".join(self.pending)
        self.pending = []
        return [(message, self.end)]


class MultiLineRegexFormat(SyslogFormat):
    """``multi-line-regex`` (Wazuh's ``<multiline_regex match= replace= timeout=>``).

    ``match: start`` - a line matching the regex starts a new event;
    ``end`` - a line matching it ends the event; ``all`` - the event is complete
    once the lines gathered so far match it. An event with no new line for
    ``timeout`` seconds is sent as it is (``deadline`` says when).
    """

    def __init__(self, regex: str, match: str, replace: str, timeout: float):
        self.regex = re.compile(regex)
        self.match = match
        self.joiner = _JOINERS[replace]
        self.timeout = timeout
        self.pending: list[str] = []
        self.end = 0
        self.deadline = None

    def feed(self, line: str, end: int) -> list[Item]:
        out: list[Item] = []
        if self.match == "start":
            if self.pending and self.regex.search(line):
                out = self.flush()
            self._hold(line, end)
            return out
        self._hold(line, end)
        if self.match == "end" and self.regex.search(line) or \
                self.match == "all" and self.regex.search(self.joiner.join(self.pending)):
            out = self.flush()
        return out

    def _hold(self, line: str, end: int) -> None:
        self.pending.append(line)
        self.end = end
        self.deadline = time.monotonic() + self.timeout

    def flush(self) -> list[Item]:
        if not self.pending:
            return []
        message = self.joiner.join(self.pending)
        self.pending = []
        self.deadline = None
        return [(message, self.end)]


def make_format(cfg: dict, counters: Counters) -> SyslogFormat:
    """The format object for one ``localfile.files[]`` entry (validated config)."""
    name = cfg["log_format"]
    if name == "syslog":
        return SyslogFormat()
    if name == "json":
        return JsonFormat(cfg["location"], counters)
    if name == "multi-line-regex":
        ml = cfg.get("multiline_regex") or {}
        if not ml.get("regex"):
            raise ValueError(f"localfile {cfg['location']}: log_format multi-line-regex needs "
                             f"multiline_regex.regex")
        try:
            return MultiLineRegexFormat(ml["regex"], ml["match"], ml["replace"], ml["timeout"])
        except re.error as exc:
            raise ValueError(f"localfile {cfg['location']}: multiline_regex.regex "
                             f"{ml['regex']!r}: {exc}") from None
    m = _MULTI_LINE.match(name)
    if m and int(m[1]) >= 1:
        return MultiLineFormat(int(m[1]))
    raise ValueError(f"localfile {cfg['location']}: unknown log_format {name!r}")
