"""Wazuh's three pattern languages, compiled once to Python matchers.

* OS_Regex (``regex``, ``type="osregex"``): a small regex language with the
  classes ``\\w \\d \\s \\t \\p \\W \\D \\S \\.``, the modifiers ``+``/``*``
  after a class, ``^``/``$`` anchors, ``|`` between whole patterns,
  ``(...)`` captures and the escapes ``\\$ \\( \\) \\\\ \\| \\<``.  Matching is
  case-insensitive.  Alternatives are tried one after the other over the whole
  text (the first alternative that matches anywhere wins, with its captures).
* OS_Match (``match``, ``type="osmatch"``, sregex): plain case-insensitive
  substrings with ``^``, ``$`` and ``|``.
* PCRE2 (``type="pcre2"``): real PCRE2 through the ``pcre2`` binding,
  case-sensitive as in Wazuh.

Every matcher offers ``search(text) -> bool`` and ``execute(text) ->
(end, captures) | None`` where ``end`` is the index just after the match (used
for decoder offsets) and ``captures`` the captured strings in order.
"""

from __future__ import annotations

import re

import pcre2

__all__ = [
    "PatternError",
    "OSRegex",
    "OSMatch",
    "PCRE2Regex",
    "compile_pattern",
    "translate_osregex",
]


class PatternError(ValueError):
    """A pattern that cannot be compiled."""


_W = r"A-Za-z0-9\-@_"
_P = r"""()*+,\-.:;<=>?\[\]!"'#$%&|{}"""
_CLASSES = {
    "w": "[" + _W + "]",
    "W": "[^" + _W + "]",
    "d": "[0-9]",
    "D": "[^0-9]",
    "s": "[ ]",
    "S": "[^ ]",
    "t": r"\t",
    "p": "[" + _P + "]",
    ".": r"(?s:.)",
}
_FLAGS = re.IGNORECASE | re.ASCII


def _split_alternatives(pattern: str) -> list[str]:
    """Split an OS_Regex/OS_Match pattern on unescaped ``|``."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            cur.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "|":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def translate_osregex(alternative: str) -> str:
    """Translate ONE OS_Regex alternative (no top-level ``|``) to Python ``re``."""
    out: list[str] = []
    i = 0
    n = len(alternative)
    depth = 0
    if alternative.startswith("^"):
        out.append(r"\A")
        i = 1
    while i < n:
        c = alternative[i]
        if c == "\\":
            if i + 1 >= n:
                out.append(re.escape("\\"))
                i += 1
                continue
            e = alternative[i + 1]
            i += 2
            cls = _CLASSES.get(e)
            if cls is not None:
                out.append(cls)
                if i < n and alternative[i] in "+*":
                    out.append(alternative[i])
                    i += 1
                    # OS_Regex extends a repeated class only as far as it must
                    # for the rest of the pattern to match (lazy), except when
                    # nothing follows it, where it takes all it can.
                    if alternative[i:].lstrip(")") not in ("", "$"):
                        out.append("?")
            else:
                # \$ \( \) \\ \| \< and any other escaped character: literal.
                out.append(re.escape(e))
            continue
        if c == "(":
            depth += 1
            out.append("(")
        elif c == ")":
            if depth == 0:
                raise PatternError(f"unbalanced ')' in OS_Regex {alternative!r}")
            depth -= 1
            out.append(")")
        elif c == "$" and i == n - 1:
            out.append(r"\Z")
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise PatternError(f"unbalanced '(' in OS_Regex {alternative!r}")
    return "".join(out)


def _literal_hint(alternative: str) -> str:
    """Longest literal run that every match of this OS_Regex alternative contains
    (lower-cased), or '' when there is none worth checking."""
    best = ""
    cur: list[str] = []
    i = 0
    n = len(alternative)
    if alternative.startswith("^"):
        i = 1
    while i < n:
        c = alternative[i]
        if c == "\\" and i + 1 < n:
            e = alternative[i + 1]
            i += 2
            if e in _CLASSES:
                if len(cur) > len(best):
                    best = "".join(cur)
                cur = []
                if i < n and alternative[i] in "+*":
                    i += 1
                continue
            cur.append(e)
            continue
        if c in "()":
            i += 1
            continue
        if c == "$" and i == n - 1:
            break
        cur.append(c)
        i += 1
    if len(cur) > len(best):
        best = "".join(cur)
    return best.lower() if len(best) >= 3 else ""


class OSRegex:
    """A compiled OS_Regex pattern."""

    __slots__ = ("pattern", "_alts", "_any", "ngroups", "hints")

    def __init__(self, pattern: str):
        self.pattern = pattern
        alts = _split_alternatives(pattern)
        try:
            self._alts = [re.compile(translate_osregex(a), _FLAGS) for a in alts]
            # one combined pattern for yes/no questions (order does not matter)
            if len(self._alts) == 1:
                self._any = self._alts[0]
            else:
                self._any = re.compile(
                    "|".join("(?:%s)" % translate_osregex(a) for a in alts), _FLAGS
                )
        except re.error as exc:  # pragma: no cover - translation bug guard
            raise PatternError(f"invalid OS_Regex {pattern!r}: {exc}") from exc
        self.ngroups = max(p.groups for p in self._alts)
        hints = [_literal_hint(a) for a in alts]
        self.hints = hints if all(hints) else None

    def search(self, text: str) -> bool:
        return self._any.search(text) is not None

    def execute(self, text: str):
        for p in self._alts:
            m = p.search(text)
            if m is not None:
                return m.end(), m.groups()
        return None

    def __repr__(self) -> str:
        return f"OSRegex({self.pattern!r})"


class OSMatch:
    """A compiled OS_Match (sregex) pattern."""

    __slots__ = ("pattern", "_re", "_subs", "hints", "negate")

    def __init__(self, pattern: str):
        self.pattern = pattern
        # a leading '!' negates the whole OS_Match expression
        self.negate = pattern.startswith("!")
        if self.negate:
            pattern = pattern[1:]
        pieces = []
        subs = []
        for alt in pattern.split("|"):
            start = alt.startswith("^")
            end = alt.endswith("$") and len(alt) > (1 if start else 0)
            body = alt[1 if start else 0 : len(alt) - 1 if end else len(alt)]
            pieces.append(
                (r"\A" if start else "") + re.escape(body) + (r"\Z" if end else "")
            )
            subs.append((start, end, body.lower()))
        self._re = re.compile("|".join(pieces), _FLAGS)
        self._subs = subs
        self.hints = None

    def search(self, text: str) -> bool:
        return (self._re.search(text) is not None) != self.negate

    def execute(self, text: str):
        m = self._re.search(text)
        if self.negate:
            return None if m is not None else (0, ())
        if m is None:
            return None
        return m.end(), ()

    def __repr__(self) -> str:
        return f"OSMatch({self.pattern!r})"


class PCRE2Regex:
    """A compiled PCRE2 pattern (case-sensitive, as in Wazuh)."""

    __slots__ = ("pattern", "_re", "ngroups", "hints")

    def __init__(self, pattern: str):
        self.pattern = pattern
        try:
            self._re = pcre2.compile(pattern, jit=True)
        except Exception as exc:
            raise PatternError(f"invalid PCRE2 {pattern!r}: {exc}") from exc
        self.ngroups = self._re.groups
        self.hints = None

    def search(self, text: str) -> bool:
        return self._re.search(text) is not None

    def execute(self, text: str):
        m = self._re.search(text)
        if m is None:
            return None
        return m.end(), m.groups()

    def __repr__(self) -> str:
        return f"PCRE2Regex({self.pattern!r})"


_KINDS = {"osregex": OSRegex, "osmatch": OSMatch, "pcre2": PCRE2Regex}


def compile_pattern(pattern: str, kind: str | None, default: str):
    """Compile ``pattern`` as ``kind`` (``osregex``/``osmatch``/``pcre2``), or
    ``default`` when the element has no ``type`` attribute."""
    k = (kind or default).strip().lower()
    cls = _KINDS.get(k)
    if cls is None:
        raise PatternError(f"unknown pattern type {kind!r}")
    return cls(pattern)
