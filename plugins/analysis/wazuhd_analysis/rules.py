"""Wazuh rules: the model and the XML loader.

Tree layout: rules with ids below 10 are the category templates at the top;
every other rule is the child of some rule — of each rule named in ``if_sid``
(or ``if_matched_sid`` when there is no ``if_sid``), of each rule loaded
before it whose groups contain ``if_group``/``if_matched_group``, of each rule
loaded before it of level ``if_level`` or above, or else of the template of its
category.  Among siblings, level-0 rules are tried first, then the others by
decreasing level; among equal levels, rules with ``decoded_as`` first, then
load order.
"""

from __future__ import annotations

import re

from .errors import RulesetError
from .lists import ListLookup, ListRegistry
from .osregex import OSMatch, PatternError, compile_pattern
from .xmlparse import Node, parse_ruleset_file

__all__ = ["Rule", "RuleSet", "load_rules", "COMPLIANCE_PREFIXES"]

CATEGORIES = {"syslog", "firewall", "ids", "web-log", "squid", "windows", "ossec", "host-information", "json"}

# <rule option> -> event field it tests, default pattern type
TEXT_FIELDS = {
    "user": ("user", "osmatch"),
    "srcuser": ("srcuser", "osmatch"),
    "dstuser": ("dstuser", "osmatch"),
    "program_name": ("program_name", "osmatch"),
    "hostname": ("hostname", "osmatch"),
    "id": ("id", "osmatch"),
    "url": ("url", "osmatch"),
    "action": ("action", "string"),
    "status": ("status", "osmatch"),
    "location": ("location", "osmatch"),
    "system_name": ("system_name", "osmatch"),
    "protocol": ("protocol", "osmatch"),
    "extra_data": ("extra_data", "osmatch"),
    "srcport": ("srcport", "osmatch"),
    "dstport": ("dstport", "osmatch"),
    "data": ("data", "osmatch"),
    "srcgeoip": ("srcgeoip", "osmatch"),
    "dstgeoip": ("dstgeoip", "osmatch"),
}

_SAME_NAMES = {
    "source_ip": "srcip", "srcip": "srcip", "src_ip": "srcip",
    "dstip": "dstip", "dst_ip": "dstip",
    "srcport": "srcport", "src_port": "srcport",
    "dstport": "dstport", "dst_port": "dstport",
    "location": "location", "id": "id", "user": "user", "srcuser": "srcuser",
    "dstuser": "dstuser", "protocol": "protocol", "action": "action",
    "url": "url", "data": "data", "extra_data": "extra_data", "status": "status",
    "system_name": "system_name", "srcgeoip": "srcgeoip", "dstgeoip": "dstgeoip",
    "agent": "agent", "hostname": "hostname", "program_name": "program_name",
}

# Wazuh decodes these internal event kinds in C, not with XML decoders.
WAZUH_INTERNAL_DECODERS = frozenset({
    "rootcheck", "sca", "syscollector", "ciscat", "hostinfo_modified", "hostinfo_new",
    "syscheck_integrity_changed", "syscheck_deleted", "syscheck_new_entry",
})

COMPLIANCE_PREFIXES = (
    ("pci_dss_", "pci_dss"),
    ("gdpr_", "gdpr"),
    ("hipaa_", "hipaa"),
    ("nist_800_53_", "nist_800_53"),
    ("tsc_", "tsc"),
    ("gpg13_", "gpg13"),
)

_WEEKDAYS = {
    "sunday": 6, "sun": 6, "monday": 0, "mon": 0, "tuesday": 1, "tue": 1,
    "wednesday": 2, "wed": 2, "thursday": 3, "thu": 3, "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5,
}


class Condition:
    """One field test: matcher on the value of a field, maybe negated."""

    __slots__ = ("name", "matcher", "negate")

    def __init__(self, name: str, matcher, negate: bool):
        self.name = name
        self.matcher = matcher
        self.negate = negate


class CompiledCondition:
    __slots__ = ("name", "fn")

    def __init__(self, name: str, fn):
        self.name = name
        self.fn = fn


class IPCondition:
    __slots__ = ("name", "nets", "negate")

    def __init__(self, name: str, spec: str, negate: bool):
        import ipaddress

        self.name = name
        self.negate = negate
        if spec.startswith("!"):
            self.negate = not negate
            spec = spec[1:]
        self.nets = []
        for part in re.split(r"[,\s]+", spec.strip()):
            if not part:
                continue
            try:
                self.nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise PatternError(f"invalid address {part!r}")

    def test(self, value) -> bool:
        import ipaddress

        if value is None:
            return False
        try:
            a = ipaddress.ip_address(value.strip())
        except ValueError:
            return self.negate
        hit = any(a.version == n.version and a in n for n in self.nets)
        return hit != self.negate


class Rule:
    __slots__ = (
        "id", "sid", "level", "maxsize", "frequency", "timeframe", "ignore_time",
        "noalert", "overwrite", "if_sid", "if_group", "if_level", "if_matched_sid",
        "if_matched_group", "same", "different", "conditions", "decoded_as",
        "category", "lists", "time_range", "weekdays", "options", "check_if_ignored",
        "ignore_fields", "mitre", "groups", "description", "info", "if_fts",
        "check_diff", "file", "line", "children", "parents", "order_key", "firedtimes",
        "ignored_until", "ignored_values", "compliance", "plain_groups", "has_if_matched",
        "group_string", "referenced", "kid_cache", "quick", "dispatch_field",
        "exact", "has_extra", "rest", "quick_lits", "quick_any",
    )

    def __init__(self, sid: int, level: int, file: str, line: int):
        self.id = str(sid)
        self.sid = sid
        self.level = level
        self.maxsize = 0
        self.frequency = 0
        self.timeframe = 0
        self.ignore_time = 0
        self.noalert = False
        self.overwrite = False
        self.if_sid: list[int] = []
        self.if_group: list[str] = []
        self.if_level = None
        self.if_matched_sid = None
        self.if_matched_group = None
        self.same: list[str] = []
        self.different: list[str] = []
        self.conditions: list = []  # Condition / IPCondition, tested in order
        self.decoded_as = None
        self.category = None
        self.lists: list[ListLookup] = []
        self.time_range = None
        self.weekdays = None
        self.options: set[str] = set()
        self.check_if_ignored: list[str] = []
        self.ignore_fields: list[str] = []
        self.mitre: list[str] = []
        self.groups: list[str] = []
        self.description = ""
        self.info: list[dict] = []
        self.if_fts = False
        self.check_diff = False
        self.file = file
        self.line = line
        self.children: list[Rule] = []
        self.parents: list[Rule] = []
        self.order_key = 0
        self.firedtimes = 0
        self.ignored_until = 0.0
        self.ignored_values: dict = {}
        self.compliance: dict[str, list[str]] = {}
        self.plain_groups: list[str] = []
        self.has_if_matched = False
        self.group_string = ""
        self.referenced = False
        self.kid_cache: dict = {}
        self.quick = None  # matcher of the first plain <match>/<regex>: fast reject
        self.dispatch_field = None  # field whose exact value selects children
        self.exact: dict[str, list] = {}  # field -> its conditions (for dispatch)
        self.has_extra = True
        self.rest: list = []  # conditions other than `quick`
        self.quick_lits = None  # literals the lower-cased log must all contain
        self.quick_any = None  # OS_Match quick: the log matches iff it contains one of these

    def __repr__(self) -> str:
        return f"<Rule {self.id} level={self.level}>"

    def could_match(self, decoder_name, program_name, dfield=None, dvalue=None) -> bool:
        """Cheap static test used to pre-select candidate children: the
        decoder name (decoded_as), the program name condition and, when the
        parent dispatches on a field, an exact-value condition on it."""
        if self.decoded_as is not None and self.decoded_as != decoder_name:
            return False
        for c in self.conditions:
            if c.__class__ is Condition and c.name == "program_name":
                if program_name is None:
                    return False
                if c.matcher.search(program_name) == c.negate:
                    return False
        if dfield is not None:
            conds = self.exact.get(dfield)
            if conds:
                if dvalue is None:
                    return False
                for c in conds:
                    if c.matcher.search(dvalue) == c.negate:
                        return False
        return True

    def candidates(self, decoder_name, program_name, dvalue=None) -> list["Rule"]:
        key = (decoder_name, program_name, dvalue)
        lst = self.kid_cache.get(key)
        if lst is None:
            df = self.dispatch_field
            lst = [c for c in self.children if c.could_match(decoder_name, program_name, df, dvalue)]
            if len(self.kid_cache) > 4096:
                self.kid_cache.clear()
            self.kid_cache[key] = lst
        return lst

    def prepare(self) -> None:
        """Precompute the fast paths used while matching."""
        self.quick = None
        self.rest = list(self.conditions)
        for c in self.conditions:
            if c.__class__ is Condition and c.name == "log" and not c.negate:
                self.quick = c.matcher
                self.rest.remove(c)
                break
        self.quick_lits = None
        self.quick_any = None
        if isinstance(self.quick, OSMatch) and not self.quick.negate:
            subs = self.quick._subs
            if all(not a and not b and body for a, b, body in subs):
                self.quick_any = tuple(body for _, _, body in subs)
        pre = getattr(self.quick, "pre", None)
        if pre is not None and len(pre) == 1 and pre[0][0] is None and pre[0][1]:
            self.quick_lits = tuple(pre[0][1])
        self.exact = {}
        for c in self.conditions:
            if c.__class__ is Condition and c.name.startswith("f:"):
                self.exact.setdefault(c.name[2:], []).append(c)
        self.has_extra = bool(
            self.lists or self.time_range is not None or self.weekdays is not None
            or self.if_fts or self.check_if_ignored or self.has_if_matched or self.ignore_time
            or self.maxsize or (self.category is not None and self.sid >= 10) or self.check_diff
        )
        counts: dict[str, int] = {}
        for ch in self.children:
            for f in ch.exact:
                counts[f] = counts.get(f, 0) + 1
        self.dispatch_field = None
        if counts:
            f, n = max(counts.items(), key=lambda kv: kv[1])
            if n >= 6:
                self.dispatch_field = f

    def finish_groups(self) -> None:
        comp: dict[str, list[str]] = {}
        plain: list[str] = []
        for g in self.groups:
            for prefix, key in COMPLIANCE_PREFIXES:
                if g.startswith(prefix):
                    comp.setdefault(key, []).append(g[len(prefix):])
                    break
            else:
                plain.append(g)
        self.compliance = comp
        self.plain_groups = plain
        self.group_string = ",".join(self.groups) + ","


def _int_attr(node: Node, name: str, file: str, rid, lo: int = 0, hi: int = 10**9, variables=None) -> int | None:
    v = node.get(name)
    if v is None:
        return None
    v = _subst(v, variables or {})
    try:
        n = int(v.strip())
    except ValueError:
        raise RulesetError(f"invalid {name}={v!r}", file=file, line=node.line, rule_id=rid)
    if not lo <= n <= hi:
        raise RulesetError(f"{name}={n} out of range {lo}-{hi}", file=file, line=node.line, rule_id=rid)
    return n


def _negate(node: Node, file: str, rid) -> bool:
    v = node.get("negate")
    if v is None:
        return False
    v = v.strip().lower()
    if v not in ("yes", "no"):
        raise RulesetError(f"invalid negate={v!r}", file=file, line=node.line, rule_id=rid)
    return v == "yes"


def _parse_time(spec: str):
    """'6 pm - 8:30 am' / '18:00-22:00' -> (start_minutes, end_minutes)."""
    def one(s: str) -> int:
        s = s.strip().lower()
        m = re.fullmatch(r"(\d{1,2})(?::(\d\d))?\s*(am|pm)?", s)
        if not m:
            raise PatternError(f"invalid time {s!r}")
        h = int(m.group(1))
        mi = int(m.group(2) or 0)
        if m.group(3) == "pm" and h < 12:
            h += 12
        if m.group(3) == "am" and h == 12:
            h = 0
        return h * 60 + mi

    a, sep, b = spec.partition("-")
    if not sep:
        raise PatternError(f"invalid time range {spec!r}")
    neg = a.strip().startswith("!")
    return one(a.strip().lstrip("!")), one(b), neg


def _parse_weekdays(spec: str):
    s = spec.strip().lower()
    if s == "weekdays":
        return {0, 1, 2, 3, 4}
    if s == "weekends":
        return {5, 6}
    days: set[int] = set()
    for part in re.split(r"[,\s]+", s):
        if not part:
            continue
        if part not in _WEEKDAYS:
            if "-" in part:
                continue
            raise PatternError(f"invalid weekday {part!r}")
        days.add(_WEEKDAYS[part])
    m = re.fullmatch(r"(\w+)\s*-\s*(\w+)", s)
    if m and m.group(1) in _WEEKDAYS and m.group(2) in _WEEKDAYS:
        a, b = _WEEKDAYS[m.group(1)], _WEEKDAYS[m.group(2)]
        days = set()
        d = a
        while True:
            days.add(d)
            if d == b:
                break
            d = (d + 1) % 7
    return days


def _subst(text: str, variables: dict[str, str]) -> str:
    if "$" not in text or not variables:
        return text
    return re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", lambda m: variables.get(m.group(1), m.group(0)), text)


class RuleSet:
    def __init__(self, lists: ListRegistry | None = None, decoder_names: set[str] | None = None):
        self.rules: dict[int, Rule] = {}
        self.order: list[Rule] = []  # load order
        self.roots: list[Rule] = []
        self.lists = lists or ListRegistry()
        self.decoder_names = decoder_names
        self.warnings: list[str] = []
        self._seq = 0
        self.dependents_sid: dict[int, list] = {}
        self.dependents_group: dict[str, list] = {}

    # -- loading --------------------------------------------------------
    def add_file(self, path: str) -> None:
        roots = parse_ruleset_file(path, "rule")
        variables: dict[str, str] = {}
        for node in roots:
            if node.tag == "var":
                variables[node.get("name", "")] = node.text.strip()
            elif node.tag == "group":
                gname = node.get("name")
                if gname is None:
                    raise RulesetError("<group> without a name", file=path, line=node.line)
                groups = [g.strip() for g in gname.split(",") if g.strip()]
                for child in node.children:
                    if child.tag == "rule":
                        r = self._parse_rule(child, path, groups, variables)
                        if r is not None:
                            self._add(r)
                    elif child.tag == "var":
                        variables[child.get("name", "")] = child.text.strip()
                    else:
                        raise RulesetError(f"invalid element <{child.tag}> in <group>", file=path, line=child.line)
            elif node.tag == "rule":
                r = self._parse_rule(node, path, [], variables)
                if r is not None:
                    self._add(r)
            else:
                raise RulesetError(f"invalid element <{node.tag}> in a rule file", file=path, line=node.line)

    def _parse_rule(self, node: Node, file: str, groups: list[str], variables: dict[str, str]) -> Rule | None:
        rid_s = node.get("id")
        if rid_s is None:
            raise RulesetError("rule without an id", file=file, line=node.line)
        try:
            sid = int(rid_s)
        except ValueError:
            raise RulesetError(f"invalid rule id {rid_s!r}", file=file, line=node.line)
        if not 0 <= sid <= 999999:
            raise RulesetError(f"rule id {sid} out of range", file=file, line=node.line, rule_id=rid_s)
        level = _int_attr(node, "level", file, rid_s, 0, 16, variables)
        if level is None:
            raise RulesetError("rule without a level", file=file, line=node.line, rule_id=rid_s)
        r = Rule(sid, level, file, node.line)
        r.maxsize = _int_attr(node, "maxsize", file, rid_s, 1, 99999, variables) or 0
        r.frequency = _int_attr(node, "frequency", file, rid_s, 1, 9999, variables) or 0
        r.timeframe = _int_attr(node, "timeframe", file, rid_s, 1, 10**7, variables) or 0
        r.ignore_time = _int_attr(node, "ignore", file, rid_s, 0, 10**7, variables) or 0
        na = node.get("noalert")
        r.noalert = na is not None and na.strip() not in ("0", "no")
        r.overwrite = (node.get("overwrite") or "").strip().lower() == "yes"
        r.groups = list(groups)
        multi: dict[str, list] = {}
        for c in node.children:
            tag = c.tag
            text = _subst(c.text.strip(), variables)
            try:
                if tag == "description":
                    r.description = text
                elif tag == "if_sid":
                    for s in re.split(r"[,\s]+", text):
                        if not s:
                            continue
                        if not s.isdigit():
                            # Wazuh reports an invalid if_sid and discards the rule
                            self.warnings.append(f"{file}:{c.line}: rule {rid_s}: invalid if_sid {text!r}; rule ignored")
                            return None
                        r.if_sid.append(int(s))
                elif tag == "if_group":
                    r.if_group.extend(g.strip() for g in text.split(",") if g.strip())
                elif tag == "if_level":
                    r.if_level = int(text)
                elif tag == "if_matched_sid":
                    r.if_matched_sid = int(text)
                elif tag == "if_matched_group":
                    r.if_matched_group = text
                elif tag.startswith("same_") or tag.startswith("different_") or tag == "not_same_field":
                    kind, name = ("different", tag[len("not_same_"):]) if tag.startswith("not_same_") else tag.split("_", 1)
                    if name == "field":
                        if not text:
                            raise PatternError(f"<{tag}> needs a field name")
                        fname = "f:" + text
                    else:
                        if name not in _SAME_NAMES:
                            raise PatternError(f"invalid option <{tag}>")
                        fname = _SAME_NAMES[name]
                    (r.same if kind == "same" else r.different).append(fname)
                elif tag in ("match", "regex"):
                    multi.setdefault(tag, []).append((_subst(c.text, variables), c))
                elif tag == "field":
                    fname = c.get("name")
                    if not fname:
                        raise PatternError("<field> needs a name")
                    r.conditions.append(Condition("f:" + fname, compile_pattern(text, c.get("type"), "osregex"), _negate(c, file, rid_s)))
                elif tag in ("srcip", "dstip"):
                    r.conditions.append(IPCondition(tag, text, _negate(c, file, rid_s)))
                elif tag in TEXT_FIELDS:
                    multi.setdefault(tag, []).append((_subst(c.text, variables).strip(), c))
                elif tag == "decoded_as":
                    r.decoded_as = text
                elif tag == "category":
                    if text not in CATEGORIES:
                        raise PatternError(f"invalid category {text!r}")
                    r.category = text
                elif tag == "list":
                    lst = self.lists.resolve(text)
                    if lst is None:
                        # as Wazuh: the list is reported and the rule is not loaded
                        # (an overwrite="yes" rule then leaves the original in place)
                        self.warnings.append(f"{file}:{c.line}: rule {rid_s}: list {text!r} is not among "
                                             "the configured list files; rule not loaded")
                        return None
                    cv = c.get("check_value")
                    r.lists.append(ListLookup(
                        c.get("field", ""), c.get("lookup", "match_key"),
                        compile_pattern(cv, None, "osregex") if cv else None, lst, text,
                    ))
                elif tag == "time":
                    r.time_range = _parse_time(text)
                elif tag == "weekday":
                    r.weekdays = _parse_weekdays(text)
                elif tag == "options":
                    for o in text.split(","):
                        if o.strip():
                            r.options.add(o.strip())
                elif tag == "check_if_ignored":
                    r.check_if_ignored = [f.strip() for f in text.split(",") if f.strip()]
                elif tag == "ignore":
                    r.ignore_fields = [f.strip() for f in text.split(",") if f.strip()]
                elif tag == "mitre":
                    r.mitre.extend(i.text.strip() for i in c.children if i.tag == "id")
                elif tag == "group":
                    r.groups.extend(g.strip() for g in text.split(",") if g.strip())
                elif tag == "info":
                    r.info.append({"type": c.get("type", "text"), "value": text})
                elif tag == "if_fts":
                    r.if_fts = True
                elif tag == "check_diff":
                    r.check_diff = True
                elif tag == "compiled_rule":
                    from .compiled import COMPILED_RULES

                    fn = COMPILED_RULES.get(text)
                    if fn is None:
                        raise PatternError(f"unknown compiled_rule {text!r}")
                    r.conditions.append(CompiledCondition(text, fn))
                elif tag == "var":
                    pass
                else:
                    raise PatternError(f"invalid rule option <{tag}>")
            except PatternError as exc:
                raise RulesetError(str(exc), file=file, line=c.line, rule_id=rid_s) from exc
            except ValueError as exc:
                raise RulesetError(f"invalid value in <{tag}>: {exc}", file=file, line=c.line, rule_id=rid_s) from exc
        # repeated <match>/<regex> concatenate; the last type/negate given decides
        # (Wazuh appends the contents of repeated elements)
        front = []
        for tag, parts in multi.items():
            kind = next((c.get("type") for _, c in reversed(parts) if c.get("type")), None)
            neg_node = next((c for _, c in reversed(parts) if c.get("negate") is not None), None)
            if tag == "match":
                fname, default = "log", "osmatch"
            elif tag == "regex":
                fname, default = "log", "osregex"
            else:
                fname, default = TEXT_FIELDS[tag]
            try:
                m = compile_pattern("".join(t for t, _ in parts), kind, default)
                neg = _negate(neg_node, file, rid_s) if neg_node is not None else False
            except PatternError as exc:
                raise RulesetError(str(exc), file=file, line=parts[0][1].line, rule_id=rid_s) from exc
            front.append(Condition(fname, m, neg))
        r.conditions[0:0] = front
        r.has_if_matched = r.if_matched_sid is not None or r.if_matched_group is not None
        r.finish_groups()
        return r

    def _add(self, r: Rule) -> None:
        old = self.rules.get(r.sid)
        if old is not None:
            if not r.overwrite:
                # Wazuh reports the duplicate and keeps the first definition
                self.warnings.append(
                    f"{r.file}:{r.line}: duplicate rule id {r.id} (first defined at "
                    f"{old.file}:{old.line}) ignored; use overwrite=\"yes\" to replace it"
                )
                return
            # keep the original parents and position (Wazuh ignores if_* on overwrite)
            r.if_sid, r.if_group, r.if_level = old.if_sid, old.if_group, old.if_level
            r.if_matched_sid, r.if_matched_group = old.if_matched_sid, old.if_matched_group
            r.has_if_matched = old.has_if_matched
            r.order_key = old.order_key
            self.rules[r.sid] = r
            self.order[self.order.index(old)] = r
            return
        self._seq += 1
        r.order_key = self._seq
        self.rules[r.sid] = r
        self.order.append(r)

    def finish(self) -> None:
        """Build the tree once every file is loaded."""
        for r in self.order:
            r.children = []
            r.parents = []
            r.kid_cache = {}
        self.roots = []
        templates: dict[str, Rule] = {}
        for r in self.order:
            if r.sid < 10:
                self.roots.append(r)
                templates.setdefault(r.category or "syslog", r)
        for r in self.order:
            if r.sid < 10:
                continue
            parents: list[Rule] = []
            sids = r.if_sid or ([r.if_matched_sid] if r.if_matched_sid is not None and not r.if_group and r.if_level is None else [])
            for s in sids:
                p = self.rules.get(s)
                if p is None:
                    # Wazuh warns and ignores the unknown id
                    self.warnings.append(f"{r.file}:{r.line}: rule {r.id}: signature id {s} not found; ignored")
                    continue
                parents.append(p)
            if sids and not parents:
                self.warnings.append(f"{r.file}:{r.line}: rule {r.id}: no valid if_sid/if_matched_sid; rule ignored")
                continue
            groups = r.if_group or ([r.if_matched_group] if r.if_matched_group and not r.if_sid and r.if_level is None else [])
            for g in groups:
                # as Wazuh attaches children while reading: only rules loaded
                # before this one are its parents
                found = [p for p in self.order if p is not r and g in p.group_string and p.order_key < r.order_key]
                parents.extend(found)
            if r.if_level is not None:
                parents.extend(p for p in self.order if p is not r and p.level >= r.if_level
                               and p.order_key < r.order_key)
            if not parents and not (r.if_sid or r.if_group or r.if_level is not None or r.has_if_matched):
                t = templates.get(r.category or "syslog")
                if t is None:
                    raise RulesetError(f"no template rule for category {r.category or 'syslog'!r}", file=r.file, line=r.line, rule_id=r.id)
                parents.append(t)
            if not parents:
                self.warnings.append(f"rule {r.id}: no parent rule found ({r.file}:{r.line})")
            seen = set()
            for p in parents:
                if id(p) in seen:
                    continue
                seen.add(id(p))
                p.children.append(r)
                r.parents.append(p)
            if r.if_matched_sid is not None:
                src = self.rules.get(r.if_matched_sid)
                if src is None:
                    self.warnings.append(f"{r.file}:{r.line}: rule {r.id}: if_matched_sid {r.if_matched_sid} not found")
                else:
                    src.referenced = True
        # siblings: level-0 rules first, then by decreasing level; among equal
        # levels, rules tied to a decoder (decoded_as) first, then load order
        key = lambda x: (x.level != 0, -x.level, x.decoded_as is None, x.order_key)  # noqa: E731
        for r in self.order:
            r.children.sort(key=key)
        self.roots.sort(key=key)
        # prepare children before parents (a parent's dispatch uses its children's data)
        for _ in range(2):
            for r in self.order:
                r.prepare()
        if self.decoder_names is not None:
            known = set(self.decoder_names) | {"windows_eventchannel"}
            for r in self.order:
                if r.decoded_as is None or r.decoded_as in known:
                    continue
                d = r.decoded_as
                if d in WAZUH_INTERNAL_DECODERS or d.startswith(("syscheck_", "hostinfo_")):
                    why = "is a Wazuh built-in decoder for internal events, not provided here"
                else:
                    why = "names no loaded decoder"
                self.warnings.append(f"{r.file}:{r.line}: rule {r.id}: decoded_as {d!r} {why}; "
                                     "the rule cannot match")
        self.dependents_sid = {}
        self.dependents_group = {}
        for r in self.order:
            if not (r.same or r.different):
                continue
            if r.if_matched_sid is not None:
                self.dependents_sid.setdefault(r.if_matched_sid, []).append(r)
            elif r.if_matched_group:
                self.dependents_group.setdefault(r.if_matched_group, []).append(r)

    def groups_referenced(self) -> set[str]:
        return {r.if_matched_group for r in self.order if r.if_matched_group}


def load_rules(files: list[str], lists: ListRegistry | None = None) -> RuleSet:
    rs = RuleSet(lists)
    for f in files:
        rs.add_file(f)
    rs.finish()
    return rs
