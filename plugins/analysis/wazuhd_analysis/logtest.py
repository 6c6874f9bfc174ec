"""Logtest: try events against the running ruleset, in sessions that keep correlation state.

One implementation behind three doors: the ``logtest`` socket (Wazuh's JSON
protocol, so Wazuh's logtest clients work), ``wazuhd logtest`` and
``PUT /logtest``. A session is an :class:`Engine` of its own over the shared
ruleset, found again by its token and closed after ``session_timeout`` idle
seconds or when ``max_sessions`` are open (the least recently used goes).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

from wazuhd.errors import WazuhError
from wazuhd_analysis.engine import Engine, Result, Ruleset, format_rule_trace

LOG_FORMATS = ("syslog", "json", "snort-full", "squid", "eventlog", "eventchannel", "audit",
               "mysql_log", "postgresql_log", "nmapg", "iis", "command", "full_command",
               "djb-multilog", "multi-line")


@dataclass
class Session:
    engine: Engine
    last_used: float = field(default_factory=time.monotonic)


def event_output(result: Result) -> dict:
    """What logtest shows for an event: the alert when a rule matched, else what was decoded."""
    if result.alert is not None:
        return result.alert
    event = result.event
    output: dict = {"full_log": event.full_log, "location": event.location}
    if result.rule is not None:
        output["rule"] = {"id": result.rule.id, "level": result.rule.level,
                          "description": result.rule.description}
    if result.decoder_name:
        output["decoder"] = {"name": result.decoder_name}
    if event.fields:
        output["data"] = dict(event.fields)
    predecoder = {key: value for key, value in (("program_name", event.program_name),
                                                ("timestamp", event.pre_timestamp),
                                                ("hostname", event.hostname)) if value}
    if predecoder:
        output["predecoder"] = predecoder
    return output


class LogtestSessions:
    def __init__(self, ruleset: Callable[[], Ruleset], *, timeout: float = 900,
                 max_sessions: int = 64):
        self.ruleset, self.timeout, self.max_sessions = ruleset, timeout, max_sessions
        self.sessions: dict[str, Session] = {}

    def _expire(self) -> None:
        now = time.monotonic()
        for token, session in list(self.sessions.items()):
            if now - session.last_used > self.timeout:
                del self.sessions[token]

    def _open(self, messages: list[str]) -> tuple[str, Session]:
        if len(self.sessions) >= self.max_sessions:
            oldest = min(self.sessions, key=lambda t: self.sessions[t].last_used)
            del self.sessions[oldest]
            messages.append(f"WARNING: (7218): The session '{oldest}' was closed: "
                            f"too many open sessions ({self.max_sessions})")
        token = secrets.token_hex(4)
        session = self.sessions[token] = Session(Engine(self.ruleset()))
        messages.append(f"INFO: (7202): Session initialized with token '{token}'")
        return token, session

    def process(self, *, event: str, log_format: str, location: str,
                token: str | None = None, rules_debug: bool = False) -> dict:
        """Wazuh's ``log_processing``: the reply's ``data`` object (with ``rules_debug``,
        the rules tried and matched, as ``wazuh-logtest -v`` shows them)."""
        if not isinstance(event, str) or not event:
            raise WazuhError(7000, "'event' must be a non-empty string")
        if log_format not in LOG_FORMATS:
            raise WazuhError(7000, f"'log_format' must be one of {', '.join(LOG_FORMATS)}")
        if not isinstance(location, str) or not location:
            raise WazuhError(7000, "'location' must be a non-empty string")
        self._expire()
        messages: list[str] = []
        session = self.sessions.get(token) if token else None
        if session is None:
            if token:
                messages.append(f"WARNING: (7003): '{token}' token expires")
            token, session = self._open(messages)
        session.last_used = time.monotonic()
        trace = [] if rules_debug else None
        result = session.engine.process(event, location, log_format=log_format, trace=trace)
        data = {"token": token, "messages": messages, "output": event_output(result),
                "alert": result.alert is not None, "codemsg": 1 if messages else 0}
        if trace is not None:
            data["rules_debug"] = format_rule_trace(trace).splitlines()[1:]
        return data

    def remove(self, token: str) -> dict:
        if self.sessions.pop(token, None) is None:
            raise WazuhError(7001, f"no session '{token}'")
        return {"messages": [f"INFO: (7206): The session '{token}' was closed successfully"],
                "codemsg": 0}
