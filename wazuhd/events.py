"""Events as every input hands them to the analysis channel.

Wazuh's daemons exchange events as ``<queue>:<location>:<message>``: one
character naming the kind of event (``1`` local file, ``2`` syslog, ``3``
integrations, ``8`` syscheck, ...), then where it came from, then the log.
A ``:`` inside the location is escaped as ``|:``, as Wazuh escapes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


class EventFormatError(ValueError):
    """The message is not ``<queue>:<location>:<message>``."""


@dataclass(frozen=True, slots=True)
class Event:
    queue: str
    location: str
    message: str
    received: float = field(default_factory=time.time)

    def to_wire(self) -> bytes:
        """The queue form; refuses what :func:`parse_event` could not read back."""
        if len(self.queue) != 1:
            raise EventFormatError(f"the queue id must be one character, got {self.queue!r}")
        if not self.location:
            raise EventFormatError("empty location")
        if self.location.endswith("|"):
            raise EventFormatError(f"a location may not end in '|' (it would escape the "
                                   f"separator): {self.location!r}")
        location = self.location.replace(":", "|:")
        return f"{self.queue}:{location}:{self.message}".encode()


def parse_event(raw: bytes | str) -> Event:
    """Parse one queue message; raise :class:`EventFormatError` naming what is wrong."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if len(text) < 2 or text[1] != ":":
        raise EventFormatError("expected '<queue>:<location>:<message>': "
                               "no single-character queue id before the first ':'")
    position = 2
    while True:
        colon = text.find(":", position)
        if colon == -1:
            raise EventFormatError("expected '<queue>:<location>:<message>': "
                                   "no ':' after the location")
        if text[colon - 1] != "|":
            break
        position = colon + 1
    location = text[2:colon].replace("|:", ":")
    if not location:
        raise EventFormatError("expected '<queue>:<location>:<message>': empty location")
    return Event(queue=text[0], location=location, message=text[colon + 1:])
