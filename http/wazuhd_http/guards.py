"""Access limits: requests per minute per user, and login brute-force blocking per IP."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Callable


class RequestRateLimiter:
    """At most ``per_minute`` requests in any 60-second window, per caller.

    Wazuh counts all callers together, so one busy dashboard locks everyone
    out (wazuh/wazuh#21994); here each user has its own budget. Callers idle
    for a minute are forgotten, so many distinct callers (anonymous requests
    keyed by IP) cannot grow the table without bound.
    """

    WINDOW = 60.0

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._next_sweep = 0.0

    def check(self, caller: str) -> float | None:
        """Record a request; return None when allowed, else seconds until the next slot."""
        if self.per_minute <= 0:
            return None
        now = self.clock()
        self._sweep(now)
        hits = self._hits[caller]
        while hits and hits[0] <= now - self.WINDOW:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return max(0.0, hits[0] + self.WINDOW - now)
        hits.append(now)
        return None

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.WINDOW
        for caller in [c for c, hits in self._hits.items() if not hits or hits[-1] <= now - self.WINDOW]:
            del self._hits[caller]


class LoginGuard:
    """Blocks an IP for ``block_time`` seconds after ``max_attempts`` failed logins
    within ``block_time`` seconds (Wazuh's ``access.max_login_attempts``/``block_time``).

    A successful login does not wipe the count: otherwise an attacker holding any valid
    account could interleave its own logins with guesses at another account and never
    be blocked (Wazuh does not reset it either).
    """

    def __init__(self, max_attempts: int, block_time: float,
                 clock: Callable[[], float] = time.monotonic):
        self.max_attempts, self.block_time, self.clock = max_attempts, block_time, clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._blocked_until: dict[str, float] = {}
        self._next_sweep = 0.0

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
        self._sweep(now)
        failures = self._failures[ip]
        failures.append(now)
        while failures and failures[0] <= now - self.block_time:
            failures.popleft()
        if len(failures) >= self.max_attempts:
            self._blocked_until[ip] = now + self.block_time
            del self._failures[ip]

    def _sweep(self, now: float) -> None:
        """Forget IPs whose failures and block have all expired."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + max(self.block_time, 1.0)
        for ip in [ip for ip, f in self._failures.items() if not f or f[-1] <= now - self.block_time]:
            del self._failures[ip]
        for ip in [ip for ip, until in self._blocked_until.items() if until <= now]:
            del self._blocked_until[ip]
