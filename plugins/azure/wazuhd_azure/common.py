"""What the three Azure sources share: timestamps, the time window, the watermark
checkpoint, handing a batch over with its checkpoint, and keeping secrets out of
messages."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from wazuhd.collect import parse_date
from wazuhd.logs import mask_secrets

#: The event location Wazuh's azure-logs module sends with (and the ms-graph module's).
AZURE_LOCATION = "Azure"
MS_GRAPH_LOCATION = "ms-graph"

_OFFSET = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def parse_offset(text: str) -> float:
    """Wazuh's ``time_offset`` (``30m``, ``2h``, ``50d``; plain seconds too) in seconds."""
    match = _OFFSET.match(str(text))
    if not match:
        raise ValueError(f"invalid time offset {text!r}: expected a number and a unit "
                         f"s, m, h, d or w, e.g. 2d")
    return int(match[1]) * _UNITS[match[2]]


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as Azure writes it (any number of fraction digits, ``Z`` or an
    offset) as an aware UTC datetime; the fraction is cut to microseconds."""
    match = _ISO.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not an ISO 8601 time: {text!r}")
    day, clock, fraction, zone = match.groups()
    micro = (fraction or "")[:6].ljust(6, "0")
    zone = "+00:00" if zone in (None, "Z") else zone
    parsed = datetime.fromisoformat(f"{day}T{clock}.{micro}{zone}")
    return parsed.astimezone(timezone.utc)


def iso(moment: datetime) -> str:
    """The canonical form of a time in checkpoints and queries: UTC, microseconds, ``Z``.
    Canonical strings sort as the times they name."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def window_start(only_logs_after: str | None, time_offset: str | None,
                 now: float | None = None) -> datetime | None:
    """The oldest time a source reads: the later of ``only_logs_after`` (a date) and
    now minus ``time_offset``; None when neither is set (read everything)."""
    now = time.time() if now is None else now
    bounds = []
    if only_logs_after:
        bounds.append(parse_date(only_logs_after))
    if time_offset:
        bounds.append(now - parse_offset(time_offset))
    return from_timestamp(max(bounds)) if bounds else None


def slices(lower: str, upper: str, span: float) -> list[tuple[str, str]]:
    """[lower, upper) (canonical times) cut into consecutive pieces of at most ``span``
    seconds, so that a long backlog is read, emitted and committed a piece at a time;
    one piece when there is no lower bound."""
    if not lower:
        return [("", upper)]
    start, end = parse_time(lower), parse_time(upper)
    pieces = []
    while start < end:
        stop = min(end, start + timedelta(seconds=span))
        pieces.append((iso(start), iso(stop)))
        start = stop
    return pieces


@dataclass
class Watermark:
    """A source's position: the newest time processed and the ids already read at
    exactly that time. Whatever is older, or at that time with a known id, was read."""

    time: str = ""
    seen: set[str] = field(default_factory=set)

    @classmethod
    def from_checkpoint(cls, value: dict | None) -> "Watermark":
        if not value:
            return cls()
        return cls(value.get("time", ""), set(value.get("seen", [])))

    def as_checkpoint(self) -> dict:
        return {"time": self.time, "seen": sorted(self.seen)}

    def is_new(self, when: str, ident: str) -> bool:
        return when > self.time or (when == self.time and ident not in self.seen)

    def advance(self, when: str, ident: str) -> None:
        if when > self.time:
            self.time, self.seen = when, {ident}
        elif when == self.time:
            self.seen.add(ident)


def redact(text: str, secrets: list[str | None]) -> str:
    """``text`` without the given secret values and anything that looks like one
    (``sig=``, ``AccountKey=``, bearer tokens)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "****")
    return mask_secrets(text)
