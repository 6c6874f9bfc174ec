"""The analysis engine: a loaded ruleset plus per-session correlation state.

``Ruleset.load(...)`` reads decoders, rules and lists (raising
:class:`RulesetError` on any problem, so a caller can keep its old ruleset);
``Engine(ruleset)`` processes events one at a time and returns the matched
rule and the alert.  Several engines (logtest sessions) can share one ruleset.

    rs = Ruleset.load(decoder_dirs=[...], rule_dirs=[...], list_files=[...],
                      decoder_exclude=[...], rule_exclude=[...])
    eng = Engine(rs, manager_name="wazuhd")
    res = eng.process("Dec 1 10:00:00 host sshd[1]: ...", "/var/log/auth.log")
    res.rule, res.decoder_name, res.alert, res.should_log, res.event.fields

Speed comes from never trying most of the ruleset: top-level decoders are
pre-selected by program name and by the first character their prematch can
start with, children by their prematch's first character; a rule's children
are pre-selected (and cached) by decoder name, program name and, where many
children test one field, by that field's value; literals every match must
contain are checked on the lower-cased log before any regex runs.
"""

from __future__ import annotations

import glob
import os
import re
import time as _time
from collections import deque
from dataclasses import dataclass, field

from . import fim
from .alert import build_alert
from .decoders import DecoderSet, _run_plugin
from .errors import RulesetError
from .event import Event, predecode
from .lists import ListRegistry
from .rules import CompiledCondition, Condition, Rule, RuleSet

__all__ = ["Ruleset", "Engine", "Result", "RulesetConfig", "format_rule_trace"]

# bounded memory: events remembered per correlated rule / group
MAX_REMEMBERED = 2048
MAX_FTS = 100_000
MAX_EVENT_SIZE = 65536  # characters; Wazuh's OS_MAXSTR
ACCUMULATE_TTL = 600  # seconds an <accumulate/> id keeps its fields
MAX_ACCUMULATED = 10_000
_ACCUMULATED = frozenset({
    "srcip", "dstip", "srcport", "dstport", "srcuser", "dstuser", "protocol",
    "action", "url", "data", "extra_data", "status", "system_name",
})
MAX_KEYS = 10_000
_AGENT_LOCATION = re.compile(r"^\[(\d{3,})\] \((.*?)\) (\S*?)->(.*)$")  # distinct same_* value tuples remembered per correlated rule


@dataclass
class RulesetConfig:
    """Mirrors ossec.conf's <ruleset> block."""

    decoder_dirs: list[str] = field(default_factory=list)
    rule_dirs: list[str] = field(default_factory=list)
    list_files: list[str] = field(default_factory=list)
    decoder_files: list[str] = field(default_factory=list)
    rule_files: list[str] = field(default_factory=list)
    decoder_exclude: list[str] = field(default_factory=list)
    rule_exclude: list[str] = field(default_factory=list)
    list_dirs: list[str] = field(default_factory=list)


def _xml_files(dirs: list[str], files: list[str], exclude: list[str]) -> list[str]:
    out: list[str] = []
    excl = set(exclude)
    for d in dirs:
        if any(ch in d for ch in "*?["):
            # a glob selects files, like ossec.conf's <decoder_dir pattern=...>
            for p in sorted(glob.glob(d)):
                name = os.path.basename(p)
                if os.path.isfile(p) and name not in excl and p not in excl:
                    out.append(p)
            continue
        if not os.path.isdir(d):
            raise RulesetError("directory does not exist", file=d)
        for name in sorted(os.listdir(d)):
            if not name.endswith(".xml"):
                continue
            p = os.path.join(d, name)
            if name in excl or p in excl:
                continue
            out.append(p)
    for f in files:
        if os.path.basename(f) in excl or f in excl:
            continue
        out.append(f)
    return out


class Ruleset:
    """An immutable, fully loaded ruleset."""

    def __init__(self, decoders: DecoderSet, rules: RuleSet, lists: ListRegistry, sources: dict):
        self.decoders = decoders
        self.rules = rules
        self.lists = lists
        self.sources = sources
        self.loaded_at = _time.time()
        self._root_cache: dict = {}

    @classmethod
    def load(cls, config: RulesetConfig | None = None, **kw) -> "Ruleset":
        cfg = config or RulesetConfig(**kw)
        list_files = list(cfg.list_files)
        for d in cfg.list_dirs:
            for p in sorted(glob.glob(os.path.join(d, "**", "*"), recursive=True)):
                if os.path.isfile(p) and not p.endswith((".cdb", ".md")):
                    list_files.append(p)
        lists = ListRegistry(list_files)
        dfiles = _xml_files(cfg.decoder_dirs, cfg.decoder_files, cfg.decoder_exclude)
        rfiles = _xml_files(cfg.rule_dirs, cfg.rule_files, cfg.rule_exclude)
        ds = DecoderSet()
        for f in dfiles:
            ds.add_file(f)
        ds.finish()
        rs = RuleSet(lists, ds.names() | set(fim.DECODER_NAMES.values()))  # + the built-in FIM decoder
        for f in rfiles:
            rs.add_file(f)
        rs.finish()
        return cls(ds, rs, lists, {"decoders": dfiles, "rules": rfiles, "lists": list_files})

    @property
    def warnings(self) -> list[str]:
        """What Wazuh would log as warnings while loading (duplicate ids,
        unknown if_sid, missing lists...): the ruleset still loads."""
        return list(self.rules.warnings)

    def counts(self) -> dict:
        return {"decoders": len(self.decoders.decoders), "rules": len(self.rules.order),
                "lists": len(self.lists)}


class Result:
    __slots__ = ("event", "rule", "alert")

    def __init__(self, event: Event, rule: Rule | None, alert: dict | None):
        self.event = event
        self.rule = rule
        self.alert = alert

    @property
    def decoder_name(self) -> str:
        d = self.event.decoder
        return d.name if d is not None else ""

    @property
    def should_log(self) -> bool:
        """An alert that belongs in alerts.json/alerts.log (not ``no_log``)."""
        return self.alert is not None and "no_log" not in self.rule.options


class Engine:
    """Processes events against a ruleset, keeping correlation state."""

    def __init__(self, ruleset: Ruleset, *, manager_name: str = "wazuhd",
                 max_event_size: int = MAX_EVENT_SIZE):
        self.ruleset = ruleset
        self.max_event_size = max_event_size
        self.manager_name = manager_name
        self.by_sid: dict[int, deque] = {}
        self.by_group: dict[str, deque] = {}
        self.firedtimes: dict[int, int] = {}
        self.ignored_until: dict[int, float] = {}
        self.ignored_values: dict[int, dict] = {}
        self.fts: set = set()
        self.same_idx: dict[int, dict] = {}
        self.last_output: dict = {}
        self._prev: dict[int, list] = {}
        self.accumulated: dict = {}
        self.groups_watched = sorted(ruleset.rules.groups_referenced())
        self.counters = {"events": 0, "decoded": 0, "alerts": 0, "truncated": 0}

    # -- public ---------------------------------------------------------
    def process(self, message: str, location: str = "stdin", *, agent_id: str = "000",
                agent_name: str | None = None, agent_ip: str | None = None,
                now: float | None = None, log_format: str = "syslog",
                trace: list | None = None) -> Result:
        """Analyse one event.  ``location`` may be an agent location in
        Wazuh's queue form ``[001] (web01) 10.0.0.5->/var/log/auth.log``,
        which sets the agent fields and leaves the path as the location."""
        if location.startswith("[") and agent_id == "000":
            m = _AGENT_LOCATION.match(location)
            if m is not None:
                agent_id, agent_name, agent_ip, location = m.group(1), m.group(2), m.group(3), m.group(4)
                if agent_ip in ("any", ""):
                    agent_ip = None
        if len(message) > self.max_event_size:
            # like Wazuh's OS_MAXSTR: longer events are cut (and counted)
            message = message[: self.max_event_size]
            self.counters["truncated"] += 1
        options = dict(agent_id=agent_id, agent_name=agent_name, agent_ip=agent_ip, now=now,
                       log_format=log_format)
        # file integrity events are decoded by the built-in FIM decoder, as Wazuh's analysisd does
        ev = (fim.parse(message, location, **options) if location == fim.LOCATION else None) \
            or Event(message, location, **options)
        return self.process_event(ev, trace)

    def process_event(self, ev: Event, trace: list | None = None) -> Result:
        """Analyse a prepared event.  With ``trace`` (a list), every rule tried
        is recorded as ``(depth, "trying"|"matched", rule)`` for rule debugging
        (logtest ``-v``); see :func:`format_rule_trace`."""
        self.counters["events"] += 1
        if ev.log_format == "eventchannel":
            dec = _eventchannel_decode(ev)
        elif isinstance(ev, fim.FimEvent):
            dec = ev.decoder  # decoded from its JSON by fim.parse
        else:
            if ev.log_format not in ("json", "full_command", "command", "eventlog"):
                predecode(ev)
            dec = self.ruleset.decoders.decode(ev)
        fts_new = False  # First-time-seen is checked lazily by rules with <if_fts/>
        if dec is not None:
            self.counters["decoded"] += 1
            if dec.accumulate or (ev.top_decoder is not None and ev.top_decoder.accumulate):
                self._accumulate(ev)
        rule = self._match(ev, fts_new) if trace is None else self._match_traced(ev, trace)
        alert = None
        if rule is not None:
            ev.rule = rule
            self._remember(ev, rule)
            self._fired(rule, ev)
            n = self.firedtimes.get(rule.sid, 0) + 1
            self.firedtimes[rule.sid] = n
            if rule.level > 0 and not rule.noalert:
                self.counters["alerts"] += 1
                alert = build_alert(ev, rule, n, self.manager_name)
                if isinstance(ev, fim.FimEvent):
                    fim.complete_alert(alert, ev)
                prev = self._prev.get(rule.sid) if rule.has_if_matched else None
                if prev:
                    # the correlated events, newest first, as Wazuh's previous_output
                    alert["previous_output"] = "\n".join(p.full_log for p in prev)
        if self._prev:
            self._prev.clear()
        return Result(ev, rule, alert)

    # -- rule matching --------------------------------------------------
    def _match(self, ev: Event, fts_new: bool) -> Rule | None:
        dtype = ev.dtype
        d = ev.decoder
        key = (d.name if d is not None else None, ev.program_name, None)
        for root in self.ruleset.rules.roots:
            if (root.category or "syslog") != dtype:
                continue
            r = self._check(root, ev, fts_new, key)
            if r is not None:
                return r
        return None

    def _match_traced(self, ev: Event, trace: list) -> Rule | None:
        """The same search as :meth:`_match`, without the shortcuts, recording
        every rule it tries (the shortcuts only skip rules that cannot match)."""
        dtype = ev.dtype
        for root in self.ruleset.rules.roots:
            if (root.category or "syslog") != dtype:
                continue
            r = self._check_traced(root, ev, trace, 0)
            if r is not None:
                return r
        return None

    def _check_traced(self, rule: Rule, ev: Event, trace: list, depth: int) -> Rule | None:
        trace.append((depth, "trying", rule))
        if not self._conditions(rule, ev, False, rule.conditions):
            return None
        trace.append((depth, "matched", rule))
        for child in rule.children:
            r = self._check_traced(child, ev, trace, depth + 1)
            if r is not None:
                return r
        return rule

    def _check(self, rule: Rule, ev: Event, fts_new: bool, key, quick_done: bool = False) -> Rule | None:
        if not self._conditions(rule, ev, fts_new, rule.rest if quick_done else rule.conditions):
            return None
        if rule.children:
            df = rule.dispatch_field
            if df is None:
                lst = rule.kid_cache.get(key)
                if lst is None:
                    lst = rule.candidates(key[0], key[1])
            else:
                v = ev.get(df)
                k2 = (key[0], key[1], v)
                lst = rule.kid_cache.get(k2)
                if lst is None:
                    lst = rule.candidates(key[0], key[1], v)
            log = ev.log
            low = ev.low
            for child in lst:
                q = child.quick
                if q is not None:
                    qa = child.quick_any
                    if qa is not None and low is not None:
                        # OS_Match of plain substrings: decided right here
                        for body in qa:
                            if body in low:
                                r = self._check(child, ev, fts_new, key, True)
                                if r is not None:
                                    return r
                                break
                        continue
                    ql = child.quick_lits
                    if ql is not None and low is not None:
                        # inline literal pre-check (the regex runs only if all are there)
                        for lit in ql:
                            if lit not in low:
                                break
                        else:
                            if q.search_low(log, None if ql else low):
                                r = self._check(child, ev, fts_new, key, True)
                                if r is not None:
                                    return r
                        continue
                    if not q.search_low(log, low):
                        continue
                    r = self._check(child, ev, fts_new, key, True)
                else:
                    r = self._check(child, ev, fts_new, key)
                if r is not None:
                    return r
        return rule

    def _conditions(self, rule: Rule, ev: Event, fts_new: bool, conditions) -> bool:
        if rule.decoded_as is not None:
            d = ev.decoder
            if d is None or d.name != rule.decoded_as:
                return False
        for c in conditions:
            if c.__class__ is Condition:
                name = c.name
                if name == "log":
                    if c.matcher.search_low(ev.log, ev.low) == c.negate:
                        return False
                    continue
                elif name == "user":
                    v = ev.user
                elif name.startswith("f:"):
                    v = ev.get(name[2:])
                else:
                    v = ev.get(name)
                if v is None:
                    return False
                if c.matcher.search_low(v, None) == c.negate:
                    return False
            elif c.__class__ is CompiledCondition:
                if not c.fn(ev):
                    return False
            else:
                if not c.test(ev.get(c.name)):
                    return False
        if not rule.has_extra:
            return True
        if rule.category is not None and rule.sid >= 10:
            if rule.category != ev.dtype:
                return False
        if rule.maxsize and len(ev.full_log) <= rule.maxsize:
            return False
        for lk in rule.lists:
            if not lk.test(ev.get(lk.field)):
                return False
        if rule.time_range is not None or rule.weekdays is not None:
            lt = _time.localtime(ev.time)
            if rule.weekdays is not None and lt.tm_wday not in rule.weekdays:
                return False
            if rule.time_range is not None:
                a, b, neg = rule.time_range
                m = lt.tm_hour * 60 + lt.tm_min
                inside = (a <= m < b) if a <= b else (m >= a or m < b)
                if inside == neg:
                    return False
        if rule.if_fts and not self._fts(ev, ev.decoder):
            # like Wazuh's FTS(): the first evaluation of a combination stores
            # it, so only that one is "first time seen"
            return False
        until = self.ignored_until.get(rule.sid)
        if until is not None and ev.time < until:
            return False
        if rule.check_if_ignored:
            seen = self.ignored_values.get(rule.sid)
            if seen:
                key = tuple(ev.get(f) for f in rule.check_if_ignored)
                t = seen.get(key)
                if t is not None and ev.time < t:
                    return False
        if rule.has_if_matched:
            if not self._correlate(rule, ev):
                return False
        if rule.check_diff:
            # fires only when the output differs from the last one seen here
            key = (rule.sid, ev.agent_id, ev.location)
            prev = self.last_output.get(key)
            if prev == ev.full_log:
                return False
            if len(self.last_output) > 10000:
                self.last_output.clear()
            self.last_output[key] = ev.full_log
            if prev is None:
                return False  # the first output is the reference
        return True

    def _fired(self, rule: Rule, ev: Event) -> None:
        if rule.ignore_time:
            self.ignored_until[rule.sid] = ev.time + rule.ignore_time
        if rule.ignore_fields:
            key = tuple(ev.get(f) for f in rule.ignore_fields)
            d = self.ignored_values.setdefault(rule.sid, {})
            if len(d) > 10000:
                d.clear()
            d[key] = ev.time + (rule.ignore_time or 86400 * 365)

    def _correlate(self, rule: Rule, ev: Event) -> bool:
        need = max(rule.frequency - 1, 1) if rule.frequency else 1
        tf = rule.timeframe
        now = ev.time
        if rule.same or rule.different:
            # remembered events are indexed by this rule's same_* values, then
            # by its different_* values: only groups that qualify are visited
            skey = tuple([_val(ev, n) for n in rule.same])
            if None in skey:
                return False
            idx = self.same_idx.get(rule.sid)
            groups = idx.get(skey) if idx is not None else None
            if not groups:
                return False
            if rule.different:
                dkey = tuple([_val(ev, n) for n in rule.different])
                if None in dkey:
                    return False
            found = []
            for gkey, q in groups.items():
                if rule.different and any(a == b for a, b in zip(gkey, dkey)):
                    continue
                if _collect(q, ev, now, tf, need, found):
                    self._prev[rule.sid] = found
                    return True
            return False
        if rule.if_matched_sid is not None:
            src = self.by_sid.get(rule.if_matched_sid)
        else:
            src = self.by_group.get(rule.if_matched_group)
        if not src:
            return False
        found = []
        if _collect(src, ev, now, tf, need, found):
            self._prev[rule.sid] = found
            return True
        return False

    def _remember(self, ev: Event, rule: Rule) -> None:
        rs = self.ruleset.rules
        if rule.referenced:
            q = self.by_sid.get(rule.sid)
            if q is None:
                q = self.by_sid[rule.sid] = deque(maxlen=MAX_REMEMBERED)
            q.append(ev)
            for dep in rs.dependents_sid.get(rule.sid, ()):
                self._index_same(dep, ev)
        if self.groups_watched:
            gs = rule.group_string
            for g in self.groups_watched:
                if g in gs:
                    q = self.by_group.get(g)
                    if q is None:
                        q = self.by_group[g] = deque(maxlen=MAX_REMEMBERED)
                    q.append(ev)
                    for dep in rs.dependents_group.get(g, ()):
                        self._index_same(dep, ev)

    def _index_same(self, dep: Rule, ev: Event) -> None:
        skey = tuple([_val(ev, n) for n in dep.same])
        if None in skey:
            return
        dkey = tuple([_val(ev, n) for n in dep.different])
        if None in dkey:
            return
        idx = self.same_idx.get(dep.sid)
        if idx is None:
            idx = self.same_idx[dep.sid] = {}
        groups = idx.get(skey)
        if groups is None:
            if len(idx) >= MAX_KEYS:
                idx.pop(next(iter(idx)))  # forget the oldest key
            groups = idx[skey] = {}
        q = groups.get(dkey)
        if q is None:
            if len(groups) >= MAX_KEYS:
                groups.pop(next(iter(groups)))
            q = groups[dkey] = deque(maxlen=MAX_REMEMBERED)
        q.append(ev)

    def _accumulate(self, ev: Event) -> None:
        """Decoders with <accumulate/>: events sharing an ``id`` (e.g. an LDAP
        connection) complete each other's static fields while the id is fresh."""
        ident = ev.fields.get("id")
        if ident is None:
            return
        key = (ev.hostname or ev.location, ev.decoder.name, ident)
        acc = self.accumulated
        now = ev.time
        old = acc.pop(key, None)
        if old is not None and now - old[0] <= ACCUMULATE_TTL:
            for name, value in old[1].items():
                if name not in ev.fields:
                    ev.fields[name] = value
        keep = {k: v for k, v in ev.fields.items() if k in _ACCUMULATED}
        acc[key] = (now, keep)  # re-inserted: the dict stays in age order
        while len(acc) > MAX_ACCUMULATED:
            acc.pop(next(iter(acc)))
        # forget stale ids from the old end
        for k in list(acc)[:8]:
            if now - acc[k][0] > ACCUMULATE_TTL:
                del acc[k]

    def _fts(self, ev: Event, dec) -> bool:
        if dec is None or not dec.fts:
            return False
        parts = []
        for f in dec.fts:
            if f == "name":
                parts.append(dec.name)
            else:
                v = ev.get(f)
                parts.append("" if v is None else v)
        key = "|".join(parts)
        if key in self.fts:
            return False
        if len(self.fts) >= MAX_FTS:
            self.fts.clear()
        self.fts.add(key)
        return True


def _builtin_eventchannel():
    from .decoders import Decoder  # noqa: F401
    from .plugin_decoders import json_decoder

    d = Decoder("windows_eventchannel", "<built-in>", 0)
    d.type = "ossec"
    d.type_set = True
    d.plugin = json_decoder
    d.plugin_name = "JSON_Decoder"
    return d


_EVENTCHANNEL = _builtin_eventchannel()


def _eventchannel_decode(ev: Event):
    """Windows eventchannel events (log format ``eventchannel``) are JSON
    decoded by Wazuh's built-in ``windows_eventchannel`` decoder (category
    ``ossec``), which rule 60000 of the Windows ruleset expects."""
    d = _EVENTCHANNEL
    ev.decoder = d
    ev.top_decoder = d
    ev.dtype = d.type
    low = ev.log.lower()
    ev.low = low if len(low) == len(ev.log) else None
    _run_plugin(d, ev, ev.log)
    return d


def _val(ev: Event, name: str):
    if name.startswith("f:"):
        return ev.get(name[2:])
    if name == "user":
        # same_user/different_user compare the (destination) user; there is
        # a separate same_srcuser for the source user
        return ev.fields.get("dstuser")
    if name == "agent":
        return ev.agent_id
    return ev.get(name)


def _collect(events, ev: Event, now: float, timeframe, need: int, found: list) -> bool:
    """Add to ``found`` the remembered events (newest first) still inside ``timeframe``;
    True as soon as there are ``need`` of them."""
    for prev in reversed(events):
        if prev is ev:
            continue
        if timeframe and now - prev.time > timeframe:
            break
        found.append(prev)
        if len(found) >= need:
            return True
    return False


def format_rule_trace(trace: list) -> str:
    """Rule debugging text in the manner of ``wazuh-logtest -v``."""
    lines = ["**Rule debugging:"]
    for i, (depth, what, rule) in enumerate(trace):
        pad = "\t" * (depth + 1)
        if what == "trying":
            lines.append(f"{pad}Trying rule: {rule.id} - {rule.description}")
        else:
            lines.append(f"{pad}\t*Rule {rule.id} matched")
            if rule.children and i + 1 < len(trace) and trace[i + 1][0] > depth:
                lines.append(f"{pad}\t*Trying child rules")
    return "\n".join(lines)
