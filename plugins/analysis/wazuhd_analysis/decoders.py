"""Wazuh decoders: loading from XML and decoding events.

Decoding follows Wazuh's documented model: the first top-level decoder whose
``program_name`` and ``prematch`` match owns the event; its children are then
tried in order (the first child whose prematch matches, or that has none, is
chosen); consecutive children with the same name are *siblings* whose regexes
all run in turn, each extracting its fields.  A child reports its parent's
name unless it sets ``use_own_name``.
"""

from __future__ import annotations

import os

from .errors import RulesetError
from .event import Event
from .osregex import PatternError, compile_pattern
from .plugin_decoders import PLUGIN_DECODERS
from .xmlparse import Node, parse_ruleset_file

__all__ = ["Decoder", "DecoderSet", "load_decoders"]

OFFSETS = ("after_parent", "after_prematch", "after_regex")
DECODER_TYPES = {
    "syslog", "firewall", "ids", "web-log", "squid", "windows", "host-information",
    "ossec", "json", "apache", "ossec_alert",
}


class Decoder:
    __slots__ = (
        "name", "own_name", "parent_name", "parent", "type", "program_name",
        "prematch", "prematch_offset", "regex", "regex_offset", "order", "fts",
        "ftscomment", "accumulate", "plugin", "plugin_name", "plugin_offset",
        "json_null_field", "json_array_structure", "file", "line", "children",
        "get_next", "use_own_name", "index", "type_set", "_heads", "pm_lits", "rx_lits",
    )

    def __init__(self, name: str, file: str, line: int):
        self.name = name
        self.own_name = name
        self.parent_name = None
        self.parent = None
        self.type = "syslog"
        self.type_set = False
        self.program_name = None
        self.prematch = None
        self.prematch_offset = None
        self.regex = None
        self.regex_offset = None
        self.order: list[list[str]] = []
        self.fts: list[str] = []
        self.ftscomment = None
        self.accumulate = False
        self.plugin = None
        self.plugin_name = None
        self.plugin_offset = None
        self.json_null_field = "string"
        self.json_array_structure = "csv"
        self.file = file
        self.line = line
        self.children: list[Decoder] = []
        self.get_next = False
        self.use_own_name = False
        self.index = 0
        self._heads: dict = {}
        self.pm_lits = None  # literals a one-alternative prematch needs (lower-case)
        self.rx_lits = None  # same for the regex

    def __repr__(self) -> str:
        return f"<Decoder {self.own_name!r} {os.path.basename(self.file)}:{self.line}>"

    def heads_for(self, c0, cp) -> list[int]:
        """Indexes of the children tried in the prematch loop (the first of
        each run of same-name siblings) that can match a text starting with
        ``c0`` (or ``cp`` after the parent's prematch); None = unknown."""
        key = (c0, cp)
        h = self._heads.get(key)
        if h is None:
            h = []
            kids = self.children
            for i, k in enumerate(kids):
                if i and kids[i - 1].get_next:
                    continue
                pm = k.prematch
                if c0 is not None and pm is not None:
                    pre = getattr(pm, "pre", None)
                    if pre is not None and all(fc is not None for fc, _ in pre):
                        c = cp if k.prematch_offset == "after_parent" else c0
                        if not any(c in fc for fc, _ in pre):
                            continue
                h.append(i)
            if len(self._heads) > 1024:
                self._heads.clear()
            self._heads[key] = h
        return h

    def to_dict(self, top: "Decoder | None" = None) -> dict:
        d = {"name": self.name}
        if self.parent is not None:
            d["parent"] = (top or self.parent).name
        return d


def _bool(text: str) -> bool:
    return text.strip().lower() in ("yes", "true", "1", "")


def _parse_decoder(node: Node, file: str, variables: dict[str, str]) -> Decoder:
    name = node.get("name")
    if not name:
        raise RulesetError("decoder without a name", file=file, line=node.line)
    d = Decoder(name, file, node.line)
    regex_parts: list[tuple[str, str | None, str | None, int]] = []
    prematch_parts: list[tuple[str, str | None, str | None, int]] = []
    pname_parts: list[tuple[str, str | None, str | None, int]] = []
    for c in node.children:
        text = c.text.strip() if c.tag not in ("regex", "prematch") else c.text
        if c.tag in ("regex", "prematch"):
            text = _subst_vars(text, variables)
        tag = c.tag
        try:
            if tag == "parent":
                d.parent_name = text
            elif tag == "program_name":
                pname_parts.append((_subst_vars(c.text, variables), c.get("offset"), c.get("type"), c.line))
            elif tag == "prematch":
                prematch_parts.append((text, c.get("offset"), c.get("type"), c.line))
            elif tag == "regex":
                regex_parts.append((text, c.get("offset"), c.get("type"), c.line))
            elif tag == "order":
                d.order = [[n.strip() for n in f.split("|") if n.strip()] for f in text.split(",")]
            elif tag == "type":
                t = text.lower()
                if t not in DECODER_TYPES:
                    raise RulesetError(f"invalid decoder type {text!r}", file=file, line=c.line, decoder=name)
                d.type = t
                d.type_set = True
            elif tag == "fts":
                d.fts = [f.strip() for f in text.split(",") if f.strip()]
            elif tag == "ftscomment":
                d.ftscomment = text
            elif tag == "accumulate":
                d.accumulate = True
            elif tag == "use_own_name":
                d.use_own_name = _bool(text)
            elif tag == "plugin_decoder":
                fn = PLUGIN_DECODERS.get(text)
                if fn is None:
                    raise RulesetError(f"unknown plugin decoder {text!r}", file=file, line=c.line, decoder=name)
                d.plugin = fn
                d.plugin_name = text
                d.plugin_offset = c.get("offset")
                if d.plugin_offset and d.plugin_offset not in OFFSETS:
                    raise RulesetError(f"invalid offset {d.plugin_offset!r}", file=file, line=c.line, decoder=name)
            elif tag == "json_null_field":
                if text not in ("discard", "empty", "string"):
                    raise RulesetError(f"invalid json_null_field {text!r}", file=file, line=c.line, decoder=name)
                d.json_null_field = text
            elif tag == "json_array_structure":
                if text not in ("array", "csv"):
                    raise RulesetError(f"invalid json_array_structure {text!r}", file=file, line=c.line, decoder=name)
                d.json_array_structure = text
            elif tag in ("description", "info", "var"):
                pass
            else:
                raise RulesetError(f"invalid decoder option <{tag}>", file=file, line=c.line, decoder=name)
        except PatternError as exc:
            raise RulesetError(str(exc), file=file, line=c.line, decoder=name) from exc
    # repeated elements concatenate (Wazuh appends their contents); the last
    # element that names a type/offset decides it
    for parts, attr in ((pname_parts, "program_name"), (prematch_parts, "prematch"), (regex_parts, "regex")):
        if not parts:
            continue
        pattern = "".join(p[0] for p in parts)
        offset = next((p[1] for p in reversed(parts) if p[1]), None)
        kind = next((p[2] for p in reversed(parts) if p[2]), None)
        if offset is not None and offset not in OFFSETS:
            raise RulesetError(f"invalid offset {offset!r}", file=file, line=parts[0][3], decoder=name)
        if attr == "prematch" and offset == "after_prematch":
            raise RulesetError("prematch cannot use offset after_prematch", file=file, line=parts[0][3], decoder=name)
        try:
            matcher = compile_pattern(pattern, kind, "osmatch" if attr == "program_name" else "osregex")
        except PatternError as exc:
            raise RulesetError(str(exc), file=file, line=parts[0][3], decoder=name) from exc
        setattr(d, attr, matcher)
        if attr != "program_name":
            setattr(d, attr + "_offset", offset)
    if d.regex is not None and not d.order and d.plugin is None:
        pass  # Wazuh accepts a regex without order (nothing is extracted)
    return d


def _subst_vars(text: str, variables: dict[str, str]) -> str:
    if "$" not in text or not variables:
        return text
    for k in sorted(variables, key=len, reverse=True):
        text = text.replace("$" + k, variables[k])
    return text


class DecoderSet:
    """All decoders, ready to decode events."""

    def __init__(self):
        self.decoders: list[Decoder] = []  # every decoder in load order
        self.top: list[Decoder] = []
        self.by_name: dict[str, list[Decoder]] = {}
        self._pname_cache: dict[str, list[Decoder]] = {}
        self._nopname: list[Decoder] = []
        self._with_pname: list[Decoder] = []

    # -- loading --------------------------------------------------------
    def add_file(self, path: str) -> None:
        roots = parse_ruleset_file(path, "decoder")
        variables: dict[str, str] = {}
        for node in roots:
            if node.tag == "var":
                variables[node.get("name", "")] = node.text.strip()
            elif node.tag == "decoder":
                self._add(_parse_decoder(node, path, variables))
            else:
                raise RulesetError(f"invalid element <{node.tag}> in a decoder file", file=path, line=node.line)

    def _add(self, d: Decoder) -> None:
        d.index = len(self.decoders)
        if d.parent_name:
            parents = [p for p in self.by_name.get(d.parent_name, []) if p.parent is None]
            if not parents:
                raise RulesetError(
                    f"parent decoder {d.parent_name!r} is not defined before it",
                    file=d.file, line=d.line, decoder=d.own_name,
                )
            parent = parents[0]
            d.parent = parent
            if not d.use_own_name:
                d.name = parent.name
            for p in parents:
                kids = p.children
                if kids and kids[-1].own_name == d.own_name:
                    kids[-1].get_next = True
                kids.append(d)
        else:
            if d.program_name is None and d.prematch is None and d.plugin is None:
                raise RulesetError(
                    "a decoder without a parent needs a program_name or a prematch",
                    file=d.file, line=d.line, decoder=d.own_name,
                )
            self.top.append(d)
        self.decoders.append(d)
        self.by_name.setdefault(d.own_name, []).append(d)

    def finish(self) -> None:
        for d in self.decoders:
            d.pm_lits = _required_literals(d.prematch)
            d.rx_lits = _required_literals(d.regex)
        self._nopname = [d for d in self.top if d.program_name is None]
        self._with_pname = [d for d in self.top if d.program_name is not None]
        self._pname_cache.clear()

    def names(self) -> set[str]:
        return {d.name for d in self.decoders}

    # -- decoding -------------------------------------------------------
    def _candidates(self, pname: str | None, first: str) -> list[Decoder]:
        """Top-level decoders that could own an event with this program name
        whose (lower-cased) log starts with ``first``, in load order.  As in
        Wazuh, an event with a program name is offered only to decoders with a
        ``program_name`` (the ruleset's ``<program_name />`` means "any
        program"); an event without one only to decoders without it, those
        whose prematch can start with that character."""
        key = (pname, first)
        c = self._pname_cache.get(key)
        if c is None:
            c = [d for d in self._with_pname if d.program_name.search(pname)] if pname is not None else []
            for d in (self._nopname if pname is None else ()):
                pm = d.prematch
                pre = getattr(pm, "pre", None)
                if pre is not None and all(fc is not None for fc, _ in pre):
                    if not any(first in fc for fc, _ in pre):
                        continue
                c.append(d)
            if len(self._pname_cache) > 20000:
                self._pname_cache.clear()
            self._pname_cache[key] = c
        return c

    def decode(self, ev: Event) -> Decoder | None:
        log = ev.log
        low = log.lower()
        if len(low) != len(log):
            low = None
        ev.low = low
        first = (low if low is not None else log[:1].lower())[:1]
        for node in self._candidates(ev.program_name, first):
            pmatch = 0
            pm = node.prematch
            if pm is not None:
                if low is not None:
                    lits = node.pm_lits
                    if lits is not None:
                        # inline pre-check: every literal of the prematch is there
                        for lit in lits:
                            if lit not in low:
                                break
                        else:
                            lits = None
                        if lits is not None:
                            continue
                    elif not pm.possible(low):
                        continue
                r = pm.execute(log)
                if r is None:
                    continue
                pmatch = r[0]
            ev.decoder = node
            ev.top_decoder = node
            ev.dtype = node.type
            if not node.children:
                if node.regex is not None:
                    off = pmatch if node.regex_offset in ("after_prematch", "after_parent") else 0
                    r = node.regex.execute(log[off:] if off else log)
                    if r is not None:
                        _set_fields(ev, node, r[1])
                if node.plugin is not None:
                    off = pmatch if node.plugin_offset else 0
                    _run_plugin(node, ev, log[off:] if off else log)
                return node
            self._decode_children(ev, node, log, pmatch)
            return ev.decoder
        return None

    def _decode_children(self, ev: Event, parent: Decoder, log: str, pmatch: int) -> None:
        low = ev.low
        kids = parent.children
        n = len(kids)
        chosen = None
        cmatch = pmatch
        # only the first child of each run of same-name siblings is ever
        # tried here; pre-select those whose prematch can start with the
        # text's first character (at 0, or after the parent's prematch)
        if low is not None:
            heads = parent.heads_for(low[:1], low[pmatch:pmatch + 1])
        else:
            heads = parent.heads_for(None, None)
        i = 0
        for i in heads:
            k = kids[i]
            if k.program_name is not None and (ev.program_name is None or not k.program_name.search(ev.program_name)):
                continue
            if k.prematch is not None:
                base = pmatch if k.prematch_offset == "after_parent" else 0
                if low is not None:
                    lits = k.pm_lits
                    if lits is not None:
                        miss = False
                        for lit in lits:
                            if lit not in low:
                                miss = True
                                break
                        if miss:
                            continue
                    elif not k.prematch.possible(low, base):
                        continue
                r = k.prematch.execute(log[base:] if base else log)
                if r is not None:
                    chosen = k
                    cmatch = base + r[0]
                    break
                continue
            chosen = k
            cmatch = pmatch
            break
        if chosen is None:
            return
        ev.decoder = chosen
        if chosen.type_set:
            ev.dtype = chosen.type
        if chosen.plugin is not None:
            off = cmatch if chosen.plugin_offset == "after_prematch" else (pmatch if chosen.plugin_offset == "after_parent" else 0)
            _run_plugin(chosen, ev, log[off:] if off else log)
            return
        regex_prev = None
        k = chosen
        while True:
            if k.regex is None:
                return
            ro = k.regex_offset
            if ro == "after_parent":
                off = pmatch
            elif ro == "after_prematch":
                off = cmatch
            elif ro == "after_regex":
                off = cmatch if regex_prev is None else regex_prev
            else:
                off = 0
            r = None
            lits = k.rx_lits
            if low is None:
                r = k.regex.execute(log[off:] if off else log)
            elif lits is not None:
                for lit in lits:
                    if lit not in low:
                        break
                else:
                    r = k.regex.execute(log[off:] if off else log)
            elif k.regex.possible(low, off):
                r = k.regex.execute(log[off:] if off else log)
            if r is None:
                if k.get_next and i + 1 < n:
                    i += 1
                    k = kids[i]
                    continue
                return
            regex_prev = off + r[0]
            _set_fields(ev, k, r[1])
            if k.get_next and i + 1 < n:
                i += 1
                k = kids[i]
                continue
            return

    @staticmethod
    def _skip_siblings(kids: list[Decoder], i: int) -> int:
        while i < len(kids) and kids[i].get_next:
            i += 1
        return i + 1


def _run_plugin(d: Decoder, ev: Event, text: str) -> None:
    """Run a plugin decoder; a hostile input (e.g. JSON nested beyond the
    parser's depth) leaves the event with what was decoded so far."""
    try:
        d.plugin(ev, d, text)
    except (RecursionError, ValueError, TypeError, MemoryError):
        pass


def _required_literals(m):
    """Lower-case literals any match of an OS_Regex must contain (checked
    inline before the regex runs), or None."""
    if m is not None and not hasattr(m, "pre"):  # PCRE2
        return getattr(m, "required", None) or None
    pre = getattr(m, "pre", None)
    if pre is None:
        return None
    if len(pre) == 1:
        return tuple(pre[0][1]) if pre[0][1] else None
    req = getattr(m, "required", ())
    return req or None


def _set_fields(ev: Event, d: Decoder, groups) -> None:
    order = d.order
    if not order:
        return
    n = len(order)
    for j, g in enumerate(groups):
        if j >= n:
            break
        if g is None:
            continue
        for name in order[j]:
            ev.set_field(name, g)


def load_decoders(files: list[str]) -> DecoderSet:
    ds = DecoderSet()
    for f in files:
        ds.add_file(f)
    ds.finish()
    return ds
