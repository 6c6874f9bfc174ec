"""Alerts in Wazuh's alert schema (one JSON object per alert)."""

from __future__ import annotations

import itertools
import re
import time as _time
from datetime import datetime, timezone

__all__ = ["build_alert", "describe", "EMAIL_ALERT_LEVEL"]

EMAIL_ALERT_LEVEL = 12
_counter = itertools.count(1)
_SUBST = re.compile(r"\$\(([^)\s]+)\)")


def describe(rule, ev) -> str:
    """The rule description with ``$(field)`` replaced by the event's values."""
    d = rule.description
    if "$(" not in d:
        return d
    return _SUBST.sub(lambda m: _field(ev, m.group(1)) or "", d)


def _field(ev, name: str):
    if name == "user":
        return ev.user
    return ev.get(name)


_ts_cache: dict[int, tuple[str, str]] = {}


def _timestamp(t: float) -> str:
    """ISO 8601 local time with milliseconds and offset, as Wazuh writes it."""
    sec = int(t)
    parts = _ts_cache.get(sec)
    if parts is None:
        dt = datetime.fromtimestamp(sec, tz=timezone.utc).astimezone()
        parts = (dt.strftime("%Y-%m-%dT%H:%M:%S."), dt.strftime("%z"))
        if len(_ts_cache) > 64:
            _ts_cache.clear()
        _ts_cache[sec] = parts
    return f"{parts[0]}{int((t - sec) * 1000):03d}{parts[1]}"


def _nest(data: dict, dotted: str, value) -> None:
    parts = dotted.split(".")
    cur = data
    for p in parts[:-1]:
        nxt = cur.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[p] = nxt
        cur = nxt
    cur.setdefault(parts[-1], value)


def build_alert(ev, rule, firedtimes: int, manager_name: str = "wazuhd") -> dict:
    r: dict = {
        "level": rule.level,
        "description": describe(rule, ev),
        "id": rule.id,
    }
    if rule.mitre:
        r["mitre"] = {"id": list(rule.mitre)}
    if rule.frequency:
        r["frequency"] = rule.frequency
    r["firedtimes"] = firedtimes
    opts = rule.options
    r["mail"] = ("alert_by_email" in opts) or (
        rule.level >= EMAIL_ALERT_LEVEL and "no_email_alert" not in opts
    )
    r["groups"] = list(rule.plain_groups)
    for key, vals in rule.compliance.items():
        r[key] = list(vals)
    if rule.info:
        r["info"] = [dict(i) for i in rule.info]
    alert: dict = {
        "timestamp": _timestamp(ev.time),
        "rule": r,
        "agent": {"id": ev.agent_id, "name": ev.agent_name or manager_name},
        "manager": {"name": manager_name},
        "id": f"{int(ev.time)}.{next(_counter)}",
    }
    if ev.agent_ip:
        alert["agent"]["ip"] = ev.agent_ip
    if "no_full_log" not in opts:
        alert["full_log"] = ev.full_log
    pre = {}
    if ev.program_name is not None:
        pre["program_name"] = ev.program_name
    if ev.pre_timestamp is not None:
        pre["timestamp"] = ev.pre_timestamp
    if ev.hostname is not None:
        pre["hostname"] = ev.hostname
    if pre:
        alert["predecoder"] = pre
    d = ev.decoder
    if d is not None:
        alert["decoder"] = d.to_dict(ev.top_decoder)
    data = build_data(ev)
    if data:
        alert["data"] = data
    alert["location"] = ev.location
    return alert


def build_data(ev) -> dict:
    """The alert's ``data``: decoded fields, dotted names nested; for JSON
    events the original structure (arrays stay arrays)."""
    js = ev.json
    if js is None:
        data: dict = {}
        for k, v in ev.fields.items():
            if "." in k:
                _nest(data, k, v)
            elif k not in data:
                data[k] = v
        return data
    data = dict(js)
    for k, v in ev.fields.items():
        if k in js or ("." in k and k.split(".", 1)[0] in js):
            continue
        _nest(data, k, v)
    return data


def now() -> float:
    return _time.time()
