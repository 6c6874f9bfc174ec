"""The one query layer of every list endpoint: offset, limit, sort, search, select, q, distinct.

``q`` is Wazuh's API query language: ``field<op>value`` terms with the operators
``=  !=  <  >  ~`` (``~``: contains), joined by ``;`` (AND, binds tighter) and ``,`` (OR),
grouped with parentheses; fields are dotted paths (``os.name``). A value runs up to the
next separator; balanced ``( )`` and ``[ ]`` groups may be part of it (``[a,b]`` may hold
commas) and ``null`` means "no value". wazuhd also accepts a double-quoted value
(``name="a;b"``, with ``\\"`` and ``\\\\`` escapes) for text the bare form cannot carry.

One parsed AST, two evaluators that return the same rows: :func:`apply` over a list of dicts
and :func:`to_sql`/:func:`run_sql` pushing the query into SQLite with bound parameters only
(column expressions come from the plugin's :class:`Field` declarations, never from the user).

Semantics, the same in both (Wazuh's, made exact):
- comparisons ignore ASCII case (SQLite ``NOCASE``/``LIKE``); ``<``/``>`` compare text
  character by character unless both the stored value and the query value are numbers;
- a missing or null value matches nothing, except ``field=null`` (and ``!=null`` for "has one");
- in memory a list on the path matches when any element does;
- ``date`` fields take a date (``YYYY-MM-DD[ HH:MM:SS]``, ``YYYY-MM-DDTHH:MM:SS[.f]Z``) or a
  timeframe (``30``, ``1d``, ``12h``: ``<``/``=`` mean "within that time", ``>``/``!=`` "before");
  in SQL a date column holds epoch seconds;
- sort is ASCII-case-insensitive, missing values first ascending, ties broken by the id field;
- search is a case-insensitive substring over every declared field (all values when undeclared).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from wazuhd.errors import WazuhError

DEFAULT_LIMIT = 500
MAX_LIMIT = 100_000
OPERATORS = ("=", "!=", "<", ">", "~")
FIELD_TYPES = ("text", "integer", "real", "boolean", "date")

_FIELD_RE = re.compile(r"\w+(?:\.\w+)*")
_OP_CHARS = "=!<>~"
_VALUE_CHAR = re.compile(r"[\w _\-.:?\\/'\"=@%<>{}$\[\]]")      # Wazuh's value alphabet
_BRACKET_CHAR = re.compile(r"[\w _\-.:?\\/'\"=@%<>{},\[\]]")    # ... and ',' inside [ ]
_BARE_VALUE = re.compile(r"[\w _\-.:?\\/'=@%<>{}$]+")            # renders without quotes
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_TIMEFRAME = re.compile(r"(\d+)([dhms]?)", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z?)?", re.ASCII)
_TIMEFRAME_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ISO = "%Y-%m-%dT%H:%M:%SZ"


# ---------------------------------------------------------------------------------------
# AST
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str | None          # None is the keyword null
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


Node = Condition | And | Or


def _query_error(problem: str, text: str) -> WazuhError:
    return WazuhError(1407, f"Parameter 'q' is not valid: {problem} in {text!r}")


class _Parser:
    """Recursive descent over ``or := and (',' and)*; and := primary (';' primary)*``."""

    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def fail(self, problem: str) -> WazuhError:
        return _query_error(problem, self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse(self) -> Node:
        if not self.text:
            raise self.fail("empty query")
        node = self.or_expr()
        if self.pos < len(self.text):
            raise self.fail(f"unexpected {self.peek()!r} at position {self.pos}")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.peek() == ",":
            self.pos += 1
            items.append(self.and_expr())
        return _group(Or, items)

    def and_expr(self) -> Node:
        items = [self.primary()]
        while self.peek() == ";":
            self.pos += 1
            items.append(self.primary())
        return _group(And, items)

    def primary(self) -> Node:
        if self.peek() != "(":
            return self.condition()
        opened = self.pos
        self.pos += 1
        node = self.or_expr()
        if self.peek() != ")":
            raise self.fail(f"'(' at position {opened} is never closed")
        self.pos += 1
        return node

    def condition(self) -> Condition:
        start = self.pos
        match = _FIELD_RE.match(self.text, self.pos)
        if not match:
            where = f"at position {self.pos}" if self.pos < len(self.text) else "at the end"
            raise self.fail(f"expected a field name {where}")
        self.pos = match.end()
        op_start = self.pos
        while self.pos < len(self.text) and self.pos - op_start < 2 and self.text[self.pos] in _OP_CHARS:
            self.pos += 1
        op = self.text[op_start:self.pos]
        if not op:
            raise self.fail(f"expected an operator after field {match.group()!r} at position {op_start}")
        if op not in OPERATORS:
            raise WazuhError(1409, f"Valid operators: {', '.join(OPERATORS)}. Used operator: {op} "
                                   f"(position {op_start})")
        value = self.quoted_value() if self.peek() == '"' else self.bare_value(match.group())
        return Condition(match.group(), op, value, start)

    def quoted_value(self) -> str:
        opened, chars = self.pos, []
        self.pos += 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                if self.peek() not in ("", ";", ",", ")"):
                    raise self.fail(f"unexpected {self.peek()!r} after the quoted value at position {self.pos}")
                return "".join(chars)
            if char == "\\":
                if self.pos + 1 == len(self.text):
                    break
                self.pos += 1
            chars.append(self.text[self.pos])
            self.pos += 1
        raise self.fail(f"the quoted value opened at position {opened} is never closed")

    def bare_value(self, field_name: str) -> str | None:
        start, depth = self.pos, 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in ";," or (char == ")" and depth == 0):
                break
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            elif char == "[" and (end := self._bracket_end(self.pos)) is not None:
                self.pos = end
            elif not _VALUE_CHAR.match(char):
                raise self.fail(f"character {char!r} at position {self.pos} is not allowed in a value "
                                "(quote the value to use it)")
            self.pos += 1
        if depth:
            raise self.fail(f"a '(' in the value at position {start} is never closed")
        value = self.text[start:self.pos]
        if not value:
            raise self.fail(f"missing value for field {field_name!r} at position {start}")
        return None if value == "null" else value

    def _bracket_end(self, pos: int) -> int | None:
        """Index of the ']' closing the '[' at pos, or None when it is a lone literal '['."""
        depth = 0
        for index in range(pos, len(self.text)):
            char = self.text[index]
            if not _BRACKET_CHAR.match(char):
                return None
            depth += {"[": 1, "]": -1}.get(char, 0)
            if depth == 0:
                return index
        return None


def _group(kind: type, items: list) -> Node:
    """One canonical shape: no single-item groups, no And directly inside And (Or in Or)."""
    flat: list = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def parse_q(text: str) -> Node:
    """Parse a q expression; WazuhError 1407 (syntax) or 1409 (operator) when invalid."""
    return _Parser(text).parse()


def render_value(value: str | None) -> str:
    if value is None:
        return "null"
    if value != "null" and _BARE_VALUE.fullmatch(value) and value[0] not in "=<>":
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_q(node: Node) -> str:
    """The q text of an AST; parse_q(render_q(node)) == node for every canonical node."""
    if isinstance(node, Condition):
        return f"{node.field}{node.op}{render_value(node.value)}"
    if isinstance(node, And):
        return ";".join(f"({render_q(item)})" if not isinstance(item, Condition) else render_q(item)
                        for item in node.items)
    return ",".join(f"({render_q(item)})" if isinstance(item, Or) else render_q(item) for item in node.items)


def conditions(node: Node) -> Iterable[Condition]:
    if isinstance(node, Condition):
        yield node
    else:
        for item in node.items:
            yield from conditions(item)


# ---------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SortKey:
    field: str
    ascending: bool = True


@dataclass(frozen=True)
class Search:
    text: str
    negate: bool = False


@dataclass(frozen=True)
class Query:
    """Validated list parameters; build it with :meth:`from_params` from request values."""

    offset: int = 0
    limit: int | None = DEFAULT_LIMIT
    sort: tuple[SortKey, ...] = ()
    search: Search | None = None
    select: tuple[str, ...] | None = None
    q: Node | None = None
    distinct: bool = False

    @classmethod
    def from_params(cls, *, offset=0, limit=DEFAULT_LIMIT, sort: str | None = None, search: str | None = None,
                    select: str | Sequence[str] | None = None, q: str | None = None,
                    distinct: bool = False) -> Query:
        return cls(offset=_check_offset(offset), limit=_check_limit(limit), sort=parse_sort(sort),
                   search=parse_search(search), select=parse_select(select),
                   q=parse_q(q) if q else None, distinct=bool(distinct))


def _as_int(value, code: int) -> int:
    if isinstance(value, bool):
        raise WazuhError(code, repr(value))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise WazuhError(code, repr(value)) from None


def _check_offset(offset) -> int:
    offset = _as_int(offset, 1400)
    if offset < 0:
        raise WazuhError(1400, str(offset))
    return offset


def _check_limit(limit) -> int | None:
    """None means no limit (internal callers); the API always passes one (default 500)."""
    if limit is None:
        return None
    limit = _as_int(limit, 1401)
    if limit == 0:
        raise WazuhError(1406)
    if limit < 0:
        raise WazuhError(1401, str(limit))
    if limit > MAX_LIMIT:
        raise WazuhError(1405, str(limit))
    return limit


def parse_sort(text: str | None) -> tuple[SortKey, ...]:
    """``+a,-b.c``: a sign sets the direction of its field and of the unsigned ones after it,
    so Wazuh's ``-a,b`` (all descending) keeps its meaning."""
    if not text:
        return ()
    keys, ascending = [], True
    for raw in text.split(","):
        name = raw.strip()
        if name[:1] in ("+", "-"):
            ascending, name = name[0] == "+", name[1:].strip()
        if not _FIELD_RE.fullmatch(name):
            raise WazuhError(1403, f"Invalid sort field {raw.strip()!r} in {text!r}")
        keys.append(SortKey(name, ascending))
    return tuple(keys)


def parse_search(text: str | None) -> Search | None:
    if not text:
        return None
    negate = text.startswith("-")
    text = text[1:] if negate else text
    return Search(text, negate) if text else None


def parse_select(select: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if not select:
        return None
    parts = select.split(",") if isinstance(select, str) else [p for s in select for p in s.split(",")]
    names = tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))
    for name in names:
        if not _FIELD_RE.fullmatch(name):
            raise WazuhError(1724, f"Invalid select field {name!r}")
    return names or None


# ---------------------------------------------------------------------------------------
# Fields
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """A queryable field: API name (dotted when nested), SQL expression and type.

    ``column`` is trusted SQL written by the plugin (a column or an expression over the
    ``table`` of the Schema); None keeps the field out of SQL pushdown. Use the default
    BINARY collation on columns so distinct/sort agree with the in-memory evaluator.
    """

    name: str
    column: str | None = None
    type: str = "text"

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: type must be one of {FIELD_TYPES}")


class Schema:
    """The fields an endpoint exposes. ``fields=None``: any field of the rows (in memory only)."""

    def __init__(self, fields: Iterable[Field] | None = None, *, id_field: str | None = "id",
                 table: str | None = None):
        self.fields = None if fields is None else {f.name: f for f in fields}
        self.id_field, self.table = id_field, table
        if self.fields is not None and id_field is not None and id_field not in self.fields:
            raise ValueError(f"id field {id_field!r} is not declared")

    def type_of(self, name: str) -> str | None:
        return self.fields[name].type if self.fields and name in self.fields else None

    def _names(self) -> str:
        return ", ".join(sorted(self.fields))

    def check_q(self, node: Node) -> None:
        for cond in conditions(node):
            if self.fields is not None and cond.field not in self.fields:
                raise WazuhError(1408, f"Available fields: {self._names()}. Field: {cond.field} "
                                       f"(position {cond.pos})")
            if cond.op == "~" and cond.value is not None and self.type_of(cond.field) == "date":
                raise WazuhError(1409, f"Operator '~' cannot filter date field {cond.field!r} "
                                       f"(position {cond.pos})")

    def check_sort(self, keys: Sequence[SortKey]) -> None:
        wrong = [k.field for k in keys if self.fields is not None and k.field not in self.fields]
        if wrong:
            raise WazuhError(1403, f"Allowed sort fields: {self._names()}. Fields: {', '.join(wrong)}")

    def expand_select(self, names: Sequence[str]) -> list[str]:
        """Declared leaf fields named by select (``os`` selects every ``os.*`` field)."""
        leaves, wrong = [], []
        for name in names:
            found = [f for f in self.fields if f == name or f.startswith(name + ".")]
            wrong.extend([] if found else [name])
            leaves.extend(f for f in found if f not in leaves)
        if wrong:
            raise WazuhError(1724, f"Allowed select fields: {self._names()}. Fields: {', '.join(wrong)}")
        return leaves


# ---------------------------------------------------------------------------------------
# Value semantics shared by both evaluators
# ---------------------------------------------------------------------------------------
def _fold(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(text: str) -> int | float | None:
    if not _NUMBER.fullmatch(text):
        return None
    if any(c in text for c in ".eE"):
        return float(text)
    number = int(text)
    return number if abs(number) < 2**63 else float(number)


def _real_text(value: float) -> str:
    """SQLite's CAST(real AS TEXT) (printf ``%!.15g``), so ``~`` sees the same text in both."""
    if value in (float("inf"), float("-inf")):
        return "Inf" if value > 0 else "-Inf"
    text = "%.15g" % value
    mantissa, exp = (text.split("e") + [None])[:2]
    if "." not in mantissa:
        mantissa = ("0" if value == 0 else mantissa) + ".0"
    return mantissa if exp is None else f"{mantissa}e{exp}"


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _real_text(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def _epoch(value) -> float | None:
    """A stored date as epoch seconds: numbers as they are, datetimes and ISO text parsed."""
    if _is_number(value):
        return value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return _epoch(parsed)
    return None


def _iso(epoch: float) -> str | None:
    try:
        return datetime.fromtimestamp(epoch, timezone.utc).strftime(_ISO)
    except (OverflowError, OSError, ValueError):
        return None


def _date_filter(cond: Condition, now: float) -> tuple[str, float]:
    """(operator, epoch) a date condition compares stored epochs with; 1412 when unreadable."""
    value = cond.value
    if match := _TIMEFRAME.fullmatch(value):
        cutoff = now - int(match.group(1)) * _TIMEFRAME_SECONDS[match.group(2)]
        return (">" if cond.op in ("<", "=") else "<"), cutoff
    if _DATE.fullmatch(value) and (epoch := _epoch(value.replace(" ", "T"))) is not None:
        return cond.op, epoch
    raise WazuhError(1412, f"{value!r} for field {cond.field!r}")


_COMPARE: dict[str, Callable] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, ">": lambda a, b: a > b,
}


def _resolve(value, parts: Sequence[str]) -> list:
    """Every non-null value at the path; lists along the way contribute each element."""
    if isinstance(value, list):
        return [leaf for item in value for leaf in _resolve(item, parts)]
    if not parts:
        return [] if value is None else [value]
    if isinstance(value, Mapping) and parts[0] in value:
        return _resolve(value[parts[0]], parts[1:])
    return []


_MISSING = object()


def _get(row, parts: Sequence[str]):
    for part in parts:
        if not isinstance(row, Mapping) or part not in row:
            return _MISSING
        row = row[part]
    return row


# ---------------------------------------------------------------------------------------
# In-memory evaluator
# ---------------------------------------------------------------------------------------
def _leaves(row: Mapping, name: str, ftype: str | None) -> list:
    values = _resolve(row, name.split("."))
    return [bool(v) if _is_number(v) else v for v in values] if ftype == "boolean" else values


def _condition_predicate(cond: Condition, schema: Schema, now: float) -> Callable[[Mapping], bool]:
    parts, ftype = cond.field.split("."), schema.type_of(cond.field)
    if cond.value is None:
        present = cond.op == "!="
        return lambda row: bool(_resolve(row, parts)) == present
    if ftype == "date":
        op, epoch = _date_filter(cond, now)
        compare = _COMPARE[op]
        return lambda row: any((e := _epoch(v)) is not None and compare(e, epoch) for v in _resolve(row, parts))
    wanted = _fold(cond.value)
    if cond.op == "~":
        return lambda row: any(wanted in _fold(_text(v)) for v in _leaves(row, cond.field, ftype))
    number, compare = _number(cond.value), _COMPARE[cond.op]

    def leaf_matches(value) -> bool:
        if number is not None and _is_number(value):
            return compare(value, number)
        return compare(_fold(_text(value)), wanted)
    return lambda row: any(leaf_matches(v) for v in _leaves(row, cond.field, ftype))


def _predicate(node: Node, schema: Schema, now: float) -> Callable[[Mapping], bool]:
    if isinstance(node, Condition):
        return _condition_predicate(node, schema, now)
    children = [_predicate(item, schema, now) for item in node.items]
    combine = all if isinstance(node, And) else any
    return lambda row: combine(child(row) for child in children)


def _search_texts(row: Mapping, schema: Schema) -> Iterable[str]:
    if schema.fields is None:
        stack = [row]
        while stack:
            value = stack.pop()
            if isinstance(value, Mapping):
                stack.extend(value.values())
            elif isinstance(value, list):
                stack.extend(value)
            elif value is not None:
                yield _text(value)
        return
    for name, declared in schema.fields.items():
        for value in _leaves(row, name, declared.type):
            if declared.type != "date":
                yield _text(value)
            elif (epoch := _epoch(value)) is not None and (iso := _iso(epoch)) is not None:
                yield iso


def _sort_value(value, ftype: str | None) -> tuple:
    """SQLite's order: null, numbers (booleans as 0/1, dates as epochs), text (NOCASE then binary)."""
    if value is _MISSING or value is None:
        return (0,)
    if ftype == "date" and not _is_number(value):
        epoch = _epoch(value)
        return (0,) if epoch is None else (1, epoch)
    if isinstance(value, (int, float)):
        return (1, int(value) if isinstance(value, bool) else value)
    if isinstance(value, str):
        return (2, _fold(value), value)
    return (3, _text(value))


def sort_rows(rows: Iterable[Mapping], keys: Sequence[SortKey], schema: Schema | None = None) -> list:
    """Rows ordered by keys (stable; each key ascending or descending on its own)."""
    schema = schema or Schema()
    rows = list(rows)
    for key in reversed(keys):
        parts, ftype = key.field.split("."), schema.type_of(key.field)
        rows.sort(key=lambda row: _sort_value(_get(row, parts), ftype), reverse=not key.ascending)
    return rows


def _project(row: Mapping, names: Sequence[str]) -> dict:
    projected: dict = {}
    for name in names:
        parts = name.split(".")
        value = _get(row, parts)
        if value is _MISSING:
            continue
        target = projected
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return projected


def _frozen(value):
    """A hashable stand-in that is equal exactly when the values are (1 == 1.0 == True included)."""
    if isinstance(value, Mapping):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


@dataclass
class Page:
    """One page of a list and the count of all matching items (Wazuh's totalItems)."""

    items: list
    total: int


def _order_keys(query: Query, schema: Schema, selected: Sequence[str] | None) -> list[SortKey]:
    """The user's keys, then a tiebreak that makes the order total in both evaluators."""
    keys = list(query.sort)
    if query.distinct:
        if selected is not None:
            outside = [k.field for k in keys if not any(k.field == s or k.field.startswith(s + ".")
                                                        for s in selected)]
            if outside:
                raise WazuhError(1403, f"In distinct mode sort only by selected fields. Fields: {', '.join(outside)}")
        tiebreak = selected if selected is not None else list(schema.fields or ())
    else:
        tiebreak = [schema.id_field] if schema.id_field else []
    return keys + [SortKey(name) for name in tiebreak if all(k.field != name for k in keys)]


def apply(rows: Iterable[Mapping], query: Query, schema: Schema | None = None, *,
          now: float | None = None) -> Page:
    """Filter, sort, project, dedupe and paginate rows in memory."""
    schema = schema or Schema()
    rows = list(rows)
    now = time.time() if now is None else now
    selected = _selected(query, schema, rows)
    schema.check_sort(query.sort)
    if schema.fields is None and rows:
        wrong = [k.field for k in query.sort if all(_get(r, k.field.split(".")) is _MISSING for r in rows)]
        if wrong:
            raise WazuhError(1403, f"Fields: {', '.join(wrong)}")
    keys = _order_keys(query, schema, selected)
    if query.q is not None:
        schema.check_q(query.q)
        matches = _predicate(query.q, schema, now)
        rows = [row for row in rows if matches(row)]
    if query.search is not None:
        wanted = _fold(query.search.text)
        rows = [row for row in rows
                if any(wanted in _fold(text) for text in _search_texts(row, schema)) != query.search.negate]
    if query.distinct:
        projected = [_project(row, selected) if selected is not None else row for row in rows]
        unique: dict = {}
        for item in projected:
            unique.setdefault(_frozen(item), item)
        rows = sort_rows(unique.values(), keys, schema)
    else:
        rows = sort_rows(rows, keys, schema)
        rows = [_project(row, selected) for row in rows] if selected is not None else [dict(r) for r in rows]
    end = None if query.limit is None else query.offset + query.limit
    return Page(rows[query.offset:end], len(rows))


def _selected(query: Query, schema: Schema, rows: Sequence[Mapping]) -> list[str] | None:
    """Fields to keep: the selected ones plus the id field (not in distinct mode), as Wazuh."""
    if query.select is None:
        return None
    if schema.fields is not None:
        names = schema.expand_select(query.select)
    else:
        names = list(query.select)
        wrong = [n for n in names if rows and all(_get(r, n.split(".")) is _MISSING for r in rows)]
        if wrong:
            raise WazuhError(1724, f"Fields: {', '.join(wrong)}")
    if not query.distinct and schema.id_field and schema.id_field not in names:
        names.insert(0, schema.id_field)
    return names


# ---------------------------------------------------------------------------------------
# SQL evaluator
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SqlQuery:
    """Statements and parameters for one page; ``columns`` names each selected column."""

    sql: str
    params: tuple
    count_sql: str
    count_params: tuple
    columns: tuple[str, ...]


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _text_sql(declared: Field) -> str:
    column = f"({declared.column})"
    return {
        "text": column,
        "integer": f"CAST({column} AS TEXT)",
        "real": f"CAST({column} AS TEXT)",
        "boolean": f"(CASE WHEN {column} IS NULL THEN NULL WHEN {column} THEN 'true' ELSE 'false' END)",
        "date": f"strftime('{_ISO}', {column}, 'unixepoch')",
    }[declared.type]


def _condition_sql(cond: Condition, declared: Field, now: float) -> tuple[str, list]:
    column = f"({declared.column})"
    if cond.value is None:
        return f"{column} IS {'NOT ' if cond.op == '!=' else ''}NULL", []
    if declared.type == "date":
        op, epoch = _date_filter(cond, now)
        return f"{column} {op} ?", [epoch]
    if cond.op == "~":
        return f"{_text_sql(declared)} LIKE ? ESCAPE '\\'", [_like_pattern(cond.value)]
    number = _number(cond.value)
    if number is not None and declared.type in ("integer", "real"):
        return f"{column} {cond.op} ?", [number]
    return f"{_text_sql(declared)} {cond.op} ? COLLATE NOCASE", [cond.value]


def _node_sql(node: Node, fields: Mapping[str, Field], now: float) -> tuple[str, list]:
    if isinstance(node, Condition):
        return _condition_sql(node, fields[node.field], now)
    parts, params = [], []
    for item in node.items:
        sql, item_params = _node_sql(item, fields, now)
        parts.append(f"({sql})")
        params.extend(item_params)
    return (" AND " if isinstance(node, And) else " OR ").join(parts), params


def _order_sql(field: Field, direction: str) -> str:
    """Text sorts case-insensitively, then exactly (as in memory); other types sort plainly,
    which gives the same order and lets SQLite use an ordinary index on the column."""
    if field.type == "text":
        return f"({field.column}) COLLATE NOCASE {direction}, ({field.column}) {direction}"
    return f"({field.column}) {direction}"


def to_sql(query: Query, schema: Schema, *, where: str | None = None, where_params: Sequence = (),
           now: float | None = None) -> SqlQuery:
    """SELECT and COUNT statements for a page. ``where`` is an extra trusted condition from the
    caller (e.g. the RBAC-allowed ids) with its own parameters; user input only binds values."""
    if schema.fields is None or schema.table is None:
        raise ValueError("SQL pushdown needs a Schema with declared fields and a table")
    sql_schema = Schema([f for f in schema.fields.values() if f.column is not None],
                        id_field=schema.id_field, table=schema.table)
    fields = sql_schema.fields
    now = time.time() if now is None else now
    selected = _selected(query, sql_schema, [])
    columns = tuple(selected if selected is not None else fields)
    sql_schema.check_sort(query.sort)
    order = ", ".join(_order_sql(fields[k.field], "ASC" if k.ascending else "DESC")
                      for k in _order_keys(query, sql_schema, selected))
    clauses, params = ([f"({where})"], list(where_params)) if where else ([], [])
    if query.q is not None:
        sql_schema.check_q(query.q)
        sql, q_params = _node_sql(query.q, fields, now)
        clauses.append(f"({sql})")
        params.extend(q_params)
    if query.search is not None:
        tests = [f"({_text_sql(f)} IS NOT NULL AND {_text_sql(f)} LIKE ? ESCAPE '\\')" for f in fields.values()]
        clauses.append(f"{'NOT ' if query.search.negate else ''}({' OR '.join(tests)})")
        params.extend([_like_pattern(query.search.text)] * len(tests))
    body = (f"SELECT {'DISTINCT ' if query.distinct else ''}"
            f"{', '.join(f'({fields[c].column})' for c in columns)} FROM {schema.table}"
            + (f" WHERE {' AND '.join(clauses)}" if clauses else ""))
    page_sql = body + (f" ORDER BY {order}" if order else "") + " LIMIT ? OFFSET ?"
    limit = -1 if query.limit is None else query.limit
    return SqlQuery(page_sql, (*params, limit, query.offset), f"SELECT COUNT(*) FROM ({body})",
                    tuple(params), columns)


def nest(columns: Sequence[str], values: Sequence) -> dict:
    """A flat SQL row as the nested dict the API returns (``os.name`` -> {"os": {"name"}})."""
    row: dict = {}
    for name, value in zip(columns, values):
        *parents, leaf = name.split(".")
        target = row
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return row


def run_sql(conn: sqlite3.Connection, query: Query, schema: Schema, **kwargs) -> Page:
    """Run :func:`to_sql` on a connection (blocking: call it off the event loop)."""
    statement = to_sql(query, schema, **kwargs)
    total = conn.execute(statement.count_sql, statement.count_params).fetchone()[0]
    items = [nest(statement.columns, values) for values in conn.execute(statement.sql, statement.params)]
    return Page(items, total)
