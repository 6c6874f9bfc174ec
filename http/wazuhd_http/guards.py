"""Access limits: requests per minute per user, and login brute-force blocking per IP."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Callable


class RequestRateLimiter:
    """At most ``per_minute`` requests in any 60-second window, per caller.

    Wazuh counts all callers together, so one busy dashboard locks everyone
    out (wazuh/wazuh#21994); here each user has its own budget.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def check(self, caller: str) -> float | None:
        """Record a request; return None when allowed, else seconds until the next slot."""
        if self.per_minute <= 0:
            return None
        now = self.clock()
        hits = self._hits[caller]
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return max(0.0, hits[0] + 60 - now)
        hits.append(now)
        return None


class LoginGuard:
    """Blocks an IP for ``block_time`` seconds after ``max_attempts`` failed logins
    within ``block_time`` seconds (Wazuh's ``access.max_login_attempts``/``block_time``)."""

    def __init__(self, max_attempts: int, block_time: float,
                 clock: Callable[[], float] = time.monotonic):
        self.max_attempts, self.block_time, self.clock = max_attempts, block_time, clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._blocked_until: dict[str, float] = {}

    def blocked(self, ip: str) -> bool:
        until = self._blocked_until.get(ip)
        if until is None:
            return False
        if self.clock() >= until:
            del self._blocked_until[ip]
            return False
        return True

    def failed(self, ip: str) -> None:
        now = self.clock()
        failures = self._failures[ip]
        failures.append(now)
        while failures and failures[0] <= now - self.block_time:
            failures.popleft()
        if len(failures) >= self.max_attempts:
            self._blocked_until[ip] = now + self.block_time
            failures.clear()

    def succeeded(self, ip: str) -> None:
        self._failures.pop(ip, None)
