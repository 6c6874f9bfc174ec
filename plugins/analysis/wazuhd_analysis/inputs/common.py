"""What every input shares: its counters and warnings that cannot flood the log."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("wazuhd.analysis.inputs")


class Counters:
    """Named integers an input bumps; ``as_dict`` is what ``ctx.add_counters`` reads."""

    def __init__(self, *names: str):
        self.values = dict.fromkeys(names, 0)

    def add(self, name: str, amount: int = 1) -> None:
        self.values[name] += amount

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def as_dict(self) -> dict:
        return dict(self.values)


class Throttle:
    """Log a warning at most once per ``interval`` seconds for each key.

    A sender flooding oversized lines, or a denied network knocking all day,
    would otherwise fill the log; the next warning says how many were not logged.
    """

    def __init__(self, interval: float = 10.0):
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str, *args) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        if len(self._last) > 10_000:  # many distinct senders: forget, stay bounded
            self._last.clear()
            self._suppressed.clear()
        self._last[key] = now
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += f" ({suppressed} similar warnings not logged)"
        log.warning(message, *args)
