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


_ALL = frozenset(chr(i) for i in range(128)) | {"<non-ascii>"}
_WSET = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-@_")
_PSET = frozenset("""()*+,-.:;<=>?[]!"'#$%&|{}""")
_CLASS_SETS = {
    "w": _WSET,
    "W": _ALL - _WSET,
    "d": frozenset("0123456789"),
    "D": _ALL - frozenset("0123456789"),
    "s": frozenset(" "),
    "S": _ALL - frozenset(" "),
    "t": frozenset("\t"),
    "p": _PSET,
    ".": _ALL | {"\n"},
}


def _tokenize(alternative: str):
    """OS_Regex alternative -> tokens: ('lit', ch) ('cls', letter, quant)
    ('open',) ('close',) and a flag for the leading '^'."""
    toks = []
    i = 0
    n = len(alternative)
    anchored = alternative.startswith("^")
    if anchored:
        i = 1
    depth = 0
    while i < n:
        c = alternative[i]
        if c == "\\":
            if i + 1 >= n:
                toks.append(("lit", "\\"))
                i += 1
                continue
            e = alternative[i + 1]
            i += 2
            if e in _CLASSES:
                q = ""
                if i < n and alternative[i] in "+*":
                    q = alternative[i]
                    i += 1
                toks.append(("cls", e, q))
            else:
                toks.append(("lit", e))
            continue
        if c == "(":
            depth += 1
            toks.append(("open",))
        elif c == ")":
            if depth == 0:
                raise PatternError(f"unbalanced ')' in OS_Regex {alternative!r}")
            depth -= 1
            toks.append(("close",))
        elif c == "$" and i == n - 1:
            toks.append(("end",))
        else:
            toks.append(("lit", c))
        i += 1
    if depth:
        raise PatternError(f"unbalanced '(' in OS_Regex {alternative!r}")
    return anchored, toks


def _next_set(toks, j):
    """Characters the element after position j must start with, or None if
    unknown/optional (then no shortcut is taken)."""
    while j < len(toks) and toks[j][0] in ("open", "close"):
        j += 1
    if j >= len(toks):
        return None
    t = toks[j]
    if t[0] == "lit":
        return frozenset({t[1].lower(), t[1].upper()})
    if t[0] == "cls" and t[2] != "*":
        return _CLASS_SETS[t[1]]
    return None


def translate_osregex(alternative: str) -> str:
    """Translate ONE OS_Regex alternative (no top-level ``|``) to Python ``re``.

    A repeated class extends only as far as it must for the rest of the
    pattern to match (lazy), except when nothing follows it, where it takes
    all it can.  When the next element cannot start with a character of the
    class, lazy, greedy and possessive agree, and the possessive form (no
    backtracking) is used for speed."""
    anchored, toks = _tokenize(alternative)
    out: list[str] = [r"\A"] if anchored else []
    for j, t in enumerate(toks):
        kind = t[0]
        if kind == "lit":
            out.append(re.escape(t[1]))
        elif kind == "open":
            out.append("(")
        elif kind == "close":
            out.append(")")
        elif kind == "end":
            out.append(r"\Z")
        else:
            _, e, q = t
            out.append(_CLASSES[e])
            if not q:
                continue
            rest = [x for x in toks[j + 1 :] if x[0] != "close"]
            if not rest or rest == [("end",)]:
                out.append(q)  # greedy to the end
                continue
            nxt = _next_set(toks, j + 1)
            if nxt is not None and not (nxt & _CLASS_SETS[e]):
                out.append(q + "+")  # possessive: nothing to give back
            else:
                out.append(q + "?")
    return "".join(out)


def _literal_hint(alternative: str):
    """The literal runs (lower-cased) that every match of this alternative
    contains, or () when there are none."""
    try:
        _, toks = _tokenize(alternative)
    except PatternError:
        return ()
    runs = []
    cur = []
    for t in toks:
        if t[0] == "lit":
            cur.append(t[1].lower())
        elif t[0] in ("open", "close"):
            continue
        else:
            if cur:
                runs.append("".join(cur))
            cur = []
    if cur:
        runs.append("".join(cur))
    runs = [r for r in dict.fromkeys(runs) if r.strip()]
    runs.sort(key=len, reverse=True)
    return tuple(runs[:4])


_SETS = {
    "w": frozenset("abcdefghijklmnopqrstuvwxyz0123456789-@_"),
    "d": frozenset("0123456789"),
    "s": frozenset(" "),
    "t": frozenset("\t"),
    "p": frozenset("""()*+,-.:;<=>?[]!"'#$%&|{}"""),
}


def _first_chars(alternative: str):
    """For an anchored alternative, the set of (lower-case) characters the
    text can start with, or None when that is not cheap to know."""
    if not alternative.startswith("^"):
        return None
    i = 1
    while i < len(alternative) and alternative[i] == "(":
        i += 1
    if i >= len(alternative):
        return None
    c = alternative[i]
    if c == "\\":
        if i + 1 >= len(alternative):
            return None
        e = alternative[i + 1]
        nxt = alternative[i + 2 : i + 3]
        if e in _CLASSES:
            if nxt == "*":
                return None
            return _SETS.get(e)
        return frozenset(e.lower())
    if c in ")$|":
        return None
    return frozenset(c.lower())


class OSRegex:
    """A compiled OS_Regex pattern."""

    __slots__ = ("pattern", "_alts", "_any", "ngroups", "hints", "pre", "search_low", "required")

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
        # cheap pre-checks on the lower-cased text: (first chars, literal)
        pre = []
        for a, h in zip(alts, hints):
            fc = _first_chars(a)
            if fc is None and not h:
                pre = None
                break
            pre.append((fc, h or None))
        self.pre = pre
        # literals every alternative contains: required whichever one matches
        req = ()
        if hints and all(hints):
            req = tuple(r for r in hints[0] if all(any(r in x for x in h) for h in hints[1:]))
        self.required = req
        self.search_low = self._make_search_low()

    def _make_search_low(self):
        """``search_low(text, low)``: search() given the lower-cased text too,
        which lets the literal/first-character pre-checks reject most texts
        without running the regex.  Built once, specialised for the common
        shapes (one alternative with one or two literals)."""
        rx = self._any.search
        pre = self.pre
        if pre is None:
            return lambda text, low: rx(text) is not None
        if len(pre) == 1:
            fc, h = pre[0]
            if fc is None and h is not None and len(h) == 1:
                (a,) = h

                def one(text, low):
                    if low is not None and a not in low:
                        return False
                    return rx(text) is not None
                return one
            if fc is None and h is not None and len(h) >= 2:
                a, b = h[0], h[1]

                def two(text, low):
                    if low is not None and (a not in low or b not in low):
                        return False
                    return rx(text) is not None
                return two
        possible = self.possible

        def general(text, low):
            if low is not None and not possible(low):
                return False
            return rx(text) is not None
        return general

    def possible(self, low: str, off: int = 0) -> bool:
        """False when no alternative can match ``low[off:]`` (``low`` being
        the lower-cased text)."""
        pre = self.pre
        if pre is None:
            return True
        for fc, h in pre:
            if fc is not None and (off >= len(low) or low[off] not in fc):
                continue
            if h is not None:
                for lit in h:
                    if lit not in low:
                        break
                else:
                    return True
                continue
            return True
        return False

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

    def possible(self, low: str, off: int = 0) -> bool:
        return True

    def search(self, text: str) -> bool:
        return (self._re.search(text) is not None) != self.negate

    def search_low(self, text: str, low: str | None) -> bool:
        """Like search(), given the text lower-cased (or None)."""
        if low is None:
            low = text.lower()
            if len(low) != len(text):
                return self.search(text)
        hit = False
        for start, end, body in self._subs:
            if start:
                if end:
                    if low == body:
                        hit = True
                        break
                elif low.startswith(body):
                    hit = True
                    break
            elif end:
                if low.endswith(body):
                    hit = True
                    break
            elif body in low:
                hit = True
                break
        return hit != self.negate

    def execute(self, text: str):
        m = self._re.search(text)
        if self.negate:
            return None if m is not None else (0, ())
        if m is None:
            return None
        return m.end(), ()

    def __repr__(self) -> str:
        return f"OSMatch({self.pattern!r})"


# PCRE2 constructs Python's re lacks or reads differently: such patterns stay
# on the PCRE2 engine.
_PCRE_ONLY_ESCAPES = set("QEhHKRXGzZgckvVNeoxpP0123456789")
_PCRE_ONLY_SEQ = ("(?<", "(?|", "(*", "[[:", "{,", "(?x", "(?J", "(?U", "(?-", "(?m", "(?s")


def _has_pcre_only(pattern: str) -> bool:
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 < n and pattern[i + 1] in _PCRE_ONLY_ESCAPES:
                return True
            i += 2
            continue
        if c in "([{" and pattern.startswith(_PCRE_ONLY_SEQ, i):
            if not pattern.startswith(("(?<=", "(?<!"), i):
                return True
        i += 1
    return False


def _python_equivalent(pattern: str):
    """A Python ``re`` pattern with the same meaning as the PCRE2 one, or None."""
    if _has_pcre_only(pattern):
        return None
    try:
        pcre2.compile(pattern)
    except Exception:
        return None
    try:
        return re.compile(pattern, re.ASCII)
    except (re.error, OverflowError, RecursionError):
        return None


def _pcre_required_literals(pattern: str) -> tuple:
    """Literal runs every match of a PCRE2 pattern contains (lower-cased, for a
    test against the lower-cased text), or () when that is not simple to know
    (alternation, optional groups, lookarounds...)."""
    if "|" in pattern or "(?" in pattern.replace("(?:", "") or "\\Q" in pattern:
        return ()
    for bad in (")?", ")*", "){0", "){,"):
        if bad in pattern:
            return ()
    runs: list[str] = []
    cur: list[str] = []
    i = 0
    n = len(pattern)

    def flush():
        if cur:
            runs.append("".join(cur))
        cur.clear()

    while i < n:
        c = pattern[i]
        nxt = pattern[i + 1] if i + 1 < n else ""
        if c == "\\":
            e = nxt
            i += 2
            q = pattern[i] if i < n else ""
            if e.isalnum() or e == "":
                flush()
                continue
            if q in "?*{":
                flush()
                continue
            cur.append(e)
            continue
        if c == "[":
            flush()
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c in "().^$+*?{}":
            flush()
            if c == "{":
                j = pattern.find("}", i)
                i = (j + 1) if j > 0 else n
                continue
            i += 1
            continue
        if nxt in "?*" or nxt == "{":
            flush()
            i += 1
            continue
        cur.append(c)
        i += 1
    flush()
    runs = [r.lower() for r in dict.fromkeys(runs) if len(r) >= 2 or (r and not r.isalnum() and r != " ")]
    runs.sort(key=len, reverse=True)
    return tuple(runs[:3])


class PCRE2Regex:
    """A compiled PCRE2 pattern (case-sensitive, as in Wazuh).  Patterns whose
    meaning is the same in Python's ``re`` run there (much lower per-call
    cost); the others run on the PCRE2 library."""

    __slots__ = ("pattern", "_re", "ngroups", "hints", "engine", "required")

    def __init__(self, pattern: str):
        self.pattern = pattern
        py = _python_equivalent(pattern)
        if py is not None:
            self._re = py
            self.engine = "re"
        else:
            try:
                self._re = pcre2.compile(pattern, jit=True)
            except Exception as exc:
                raise PatternError(f"invalid PCRE2 {pattern!r}: {exc}") from exc
            self.engine = "pcre2"
        self.ngroups = self._re.groups
        self.hints = None
        self.required = _pcre_required_literals(pattern)

    def possible(self, low: str, off: int = 0) -> bool:
        for lit in self.required:
            if lit not in low:
                return False
        return True

    def search(self, text: str) -> bool:
        return self._re.search(text) is not None

    def search_low(self, text: str, low: str | None) -> bool:
        if low is not None and self.required:
            for lit in self.required:
                if lit not in low:
                    return False
        return self._re.search(text) is not None

    def execute(self, text: str):
        m = self._re.search(text)
        if m is None:
            return None
        return m.end(), m.groups()

    def __repr__(self) -> str:
        return f"PCRE2Regex({self.pattern!r})"


class ExactString:
    """Whole-value comparison (Wazuh's default for <action>)."""

    __slots__ = ("pattern", "hints", "pre")

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.hints = None
        self.pre = None

    def possible(self, low: str, off: int = 0) -> bool:
        return True

    def search(self, text: str) -> bool:
        return text == self.pattern

    def search_low(self, text: str, low) -> bool:
        return text == self.pattern

    def execute(self, text: str):
        return (len(text), ()) if text == self.pattern else None

    def __repr__(self) -> str:
        return f"ExactString({self.pattern!r})"


_KINDS = {"osregex": OSRegex, "osmatch": OSMatch, "pcre2": PCRE2Regex, "string": ExactString}


def compile_pattern(pattern: str, kind: str | None, default: str):
    """Compile ``pattern`` as ``kind`` (``osregex``/``osmatch``/``pcre2``), or
    ``default`` when the element has no ``type`` attribute."""
    k = (kind or default).strip().lower()
    cls = _KINDS.get(k)
    if cls is None:
        raise PatternError(f"unknown pattern type {kind!r}")
    return cls(pattern)
