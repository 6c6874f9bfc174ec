"""The MITRE ATT&CK data as Wazuh's framework serves it: lists with related objects, lookups,
alert enrichment. API-agnostic: plain functions over a SQLite connection, plus the RBAC-guarded
async operations the HTTP routes (and later the cluster) call.

Queries run in SQL (``wazuhd.query.run_sql``) whenever ``q`` and ``sort`` name only an object's
own columns, which is what clients send (``q=external_id=T1110``, ``search=brute``, ``sort=name``);
the related-object lists of the page's items then come from an index read once per import
(one query per relation; without a cache, e.g. from the CLI, one indexed query per relation and page).
Filtering or sorting *on* a related list (``q=tactics=x-mitre-tactic--...``) falls back to the
same query language in memory over every item, cached per import. ``search`` looks at an
object's own fields in both paths, so both give the same rows.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from wazuhd.query import Field, Page, Query, Schema, apply, conditions, run_sql
from wazuhd.rbac import expose_resources
from wazuhd.results import AffectedItemsResult
from wazuhd_mitre.importer import read_metadata

log = logging.getLogger("wazuhd.mitre")

DATABASE = "mitre"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # Wazuh's decimals_date_format


@dataclass(frozen=True)
class Relation:
    """``name``: item key; rows of ``table`` whose ``key`` is the item's id give ``value``."""

    name: str
    table: str
    key: str
    value: str
    where: str = ""


@dataclass(frozen=True)
class Kind:
    name: str              # URL part: techniques, tactics, ...
    table: str             # SQL table (quoted when needed)
    ids_param: str         # technique_ids, ...
    own: tuple[Field, ...]
    relations: tuple[Relation, ...] = ()
    references: bool = True
    all_msg: str = ""
    none_msg: str = ""
    schema: Schema = field(init=False, compare=False)

    def __post_init__(self):
        related = [Field(r.name) for r in self.relations] + ([Field("references")] if self.references else [])
        object.__setattr__(self, "schema", Schema([*self.own, *related], table=self.table))

    @property
    def related_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.relations) + (("references",) if self.references else ())


def _f(name: str, kind: str = "text") -> Field:
    return Field(name, name, kind)


_DATES = (_f("created_time", "date"), _f("modified_time", "date"))
_EXTERNAL = (_f("external_id"), _f("source"), _f("url"))
_VERSIONED = (_f("mitre_version"), _f("revoked_by"), _f("deprecated", "integer"))


def _base(*extra: Field) -> tuple[Field, ...]:
    return (_f("id"), _f("name"), _f("description"), *_DATES, *extra, *_EXTERNAL)


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("techniques", "technique", "technique_ids",
         _base(_f("mitre_version"), _f("mitre_detection"), _f("network_requirements", "integer"),
               _f("remote_support", "integer"), _f("revoked_by"), _f("deprecated", "integer"),
               _f("subtechnique_of")),
         (Relation("tactics", "phase", "tech_id", "tactic_id"),
          Relation("mitigations", "mitigate", "target_id", "source_id"),
          Relation("software", "use", "target_id", "source_id", "source_type = 'software'"),
          Relation("groups", "use", "target_id", "source_id", "source_type = 'group'")),
         all_msg="MITRE techniques information was returned",
         none_msg="No MITRE techniques information was returned"),
    Kind("tactics", "tactic", "tactic_ids", _base(_f("short_name")),
         (Relation("techniques", "phase", "tactic_id", "tech_id"),),
         all_msg="MITRE tactics information was returned",
         none_msg="No MITRE tactics information was returned"),
    Kind("groups", '"group"', "group_ids", _base(*_VERSIONED),
         (Relation("software", "use", "source_id", "target_id", "target_type = 'software'"),
          Relation("techniques", "use", "source_id", "target_id", "target_type = 'technique'")),
         all_msg="MITRE groups information was returned",
         none_msg="No MITRE groups information was returned"),
    Kind("software", "software", "software_ids", _base(*_VERSIONED),
         (Relation("groups", "use", "target_id", "source_id", "source_type = 'group'"),
          Relation("techniques", "use", "source_id", "target_id", "target_type = 'technique'")),
         all_msg="MITRE software information was returned",
         none_msg="No MITRE software information was returned"),
    Kind("mitigations", "mitigation", "mitigation_ids", _base(*_VERSIONED),
         (Relation("techniques", "mitigate", "source_id", "target_id"),),
         all_msg="MITRE mitigations information was returned",
         none_msg="No MITRE mitigations information was returned"),
    Kind("references", "reference", "reference_ids",
         (_f("id"), _f("source"), _f("external_id"), _f("url"), _f("description"), _f("type")),
         references=False,
         all_msg="MITRE references information was returned",
         none_msg="No MITRE references information was returned"),
)}

_DATE_NAMES = {"created_time", "modified_time"}
REFERENCE_TYPE = {"techniques": "technique", "tactics": "tactic", "groups": "group", "software": "software",
                  "mitigations": "mitigation"}


# -- reading --------------------------------------------------------------------------------


def _chunks(items: Sequence, size: int = 900) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _related(conn: sqlite3.Connection, relation: Relation, ids: Sequence[str] | None) -> dict[str, list]:
    out: dict[str, list] = {}
    base = f"SELECT {relation.key}, {relation.value} FROM {relation.table}"
    where = [relation.where] if relation.where else []
    batches = [None] if ids is None else list(_chunks(list(ids)))
    for batch in batches:
        clauses = where + ([f"{relation.key} IN ({', '.join('?' * len(batch))})"] if batch is not None else [])
        sql = base + (f" WHERE {' AND '.join(clauses)}" if clauses else "") + f" ORDER BY {relation.value}"
        for key, value in conn.execute(sql, tuple(batch or ())):
            out.setdefault(key, []).append(value)
    return out


def _references(conn: sqlite3.Connection, kind: Kind, ids: Sequence[str] | None) -> dict[str, list]:
    """Each object's references but the ATT&CK one (whose id, source and URL are item fields)."""
    out: dict[str, list] = {}
    main_seen: set[str] = set()
    batches = [None] if ids is None else list(_chunks(list(ids)))
    for batch in batches:
        sql = "SELECT id, source, external_id, url, description FROM reference WHERE type = ?"
        params: tuple = (REFERENCE_TYPE[kind.name],)
        if batch is not None:
            sql += f" AND id IN ({', '.join('?' * len(batch))})"
            params += tuple(batch)
        for id_, source, external_id, url, description in conn.execute(sql + " ORDER BY rowid", params):
            if external_id and source and source.startswith("mitre") and id_ not in main_seen:
                main_seen.add(id_)
                continue
            ref = {"source": source, "description": description, "url": url}
            if external_id:
                ref["external_id"] = external_id
            out.setdefault(id_, []).append({k: v for k, v in ref.items() if v is not None})
    return out


def attach_related(conn: sqlite3.Connection, kind: Kind, items: list[dict], names: Sequence[str]) -> None:
    ids = [item["id"] for item in items if "id" in item]
    for relation in kind.relations:
        if relation.name in names:
            found = _related(conn, relation, ids)
            for item in items:
                item[relation.name] = found.get(item.get("id"), [])
    if "references" in names and kind.references:
        found = _references(conn, kind, ids)
        for item in items:
            item["references"] = found.get(item.get("id"), [])


def _format_date(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc).strftime(DATE_FORMAT)
    return value


def present(item: dict) -> dict:
    """As Wazuh renders an item: ISO dates with microseconds, no null fields."""
    return {key: _format_date(value) if key in _DATE_NAMES else value
            for key, value in item.items() if value is not None}


def _ids_filter(ids: Sequence[str] | None) -> tuple[str | None, tuple]:
    if not ids:
        return None, ()
    marks = ", ".join("?" * len(ids))
    return f"id IN ({marks}) OR external_id IN ({marks})", (*ids, *ids)


class ItemCache:
    """Per import: the related lists of every object (a few tens of thousands of ids, read once
    instead of once per request) and, for the in-memory path, every item of a kind."""

    def __init__(self):
        self._import_id: str | None = None
        self._items: dict[str, list[dict]] = {}
        self._related: dict[tuple[str, str], dict[str, list]] = {}

    def _check(self, conn: sqlite3.Connection) -> None:
        import_id = read_metadata(conn).get("import_id")
        if import_id != self._import_id:
            self._import_id, self._items, self._related = import_id, {}, {}

    def attach(self, conn: sqlite3.Connection, kind: Kind, items: list[dict], names: Sequence[str]) -> None:
        """Like :func:`attach_related`, from the per-import index."""
        self._check(conn)
        for name in names:
            key = (kind.name, name)
            if key not in self._related:
                if name == "references":
                    self._related[key] = _references(conn, kind, None)
                else:
                    relation = next(r for r in kind.relations if r.name == name)
                    self._related[key] = _related(conn, relation, None)
            index = self._related[key]
            for item in items:
                item[name] = list(index.get(item.get("id"), ()))

    def items(self, conn: sqlite3.Connection, kind: Kind) -> list[dict]:
        self._check(conn)
        if kind.name not in self._items:
            columns = [f.name for f in kind.own]
            rows = [dict(zip(columns, row)) for row in
                    conn.execute(f"SELECT {', '.join(columns)} FROM {kind.table}")]
            self.attach(conn, kind, rows, kind.related_names)
            self._items[kind.name] = rows
        return self._items[kind.name]


def list_items(conn: sqlite3.Connection, kind: Kind, query: Query, ids: Sequence[str] | None = None,
               cache: ItemCache | None = None) -> Page:
    """One page of a kind's items (Wazuh's shape), filtered by ids (STIX or ATT&CK ids)."""
    schema = kind.schema
    selected = schema.expand_select(query.select) if query.select else None
    if query.q is not None:
        schema.check_q(query.q)
    schema.check_sort(query.sort)
    related = set(kind.related_names)
    on_related = (any(c.field in related for c in conditions(query.q)) if query.q is not None else False) \
        or any(k.field in related for k in query.sort) \
        or (query.distinct and selected is not None and bool(related & set(selected)))
    wanted = list(kind.related_names) if selected is None else [n for n in selected if n in related]
    if not on_related:
        own = None if selected is None else [n for n in selected if n not in related] or ["id"]
        sql_query = dataclasses.replace(query, select=None if own is None else tuple(own))
        where, params = _ids_filter(ids)
        page = run_sql(conn, sql_query, schema, where=where, where_params=params)
        if wanted and cache is not None:
            cache.attach(conn, kind, page.items, wanted)
        elif wanted:
            attach_related(conn, kind, page.items, wanted)
        return Page([present(item) for item in page.items], page.total)
    rows = (cache or ItemCache()).items(conn, kind)
    if ids:
        wanted_ids = set(ids)
        rows = [r for r in rows if r["id"] in wanted_ids or r.get("external_id") in wanted_ids]
    if query.search is not None:
        own_schema = Schema(kind.own, table=kind.table)
        rows = apply(rows, Query(limit=None, search=query.search), own_schema).items
    page = apply(rows, dataclasses.replace(query, search=None), schema)
    return Page([present(item) for item in page.items], page.total)


def metadata_items(conn: sqlite3.Connection) -> list[dict]:
    return [{"key": key, "value": value} for key, value in
            conn.execute("SELECT key, value FROM metadata ORDER BY key")]


# -- RBAC-guarded operations (plain arguments: usable from the API, CLI, cluster) -----------


@expose_resources(actions=["mitre:read"], resources=["*:*:*"])
async def get_metadata(rbac, *, db) -> AffectedItemsResult:
    result = AffectedItemsResult(all_msg="MITRE Metadata information was returned",
                                 none_msg="No MITRE metadata information was returned")
    result.add_affected_items(await db.read(metadata_items))
    return result


def _operation(kind: Kind):
    @expose_resources(actions=["mitre:read"], resources=["*:*:*"])
    async def operation(rbac, ids=None, *, db, cache=None, offset=0, limit=500, sort=None, search=None,
                        select=None, q=None, distinct=False) -> AffectedItemsResult:
        query = Query.from_params(offset=offset, limit=limit, sort=sort, search=search, select=select,
                                  q=q, distinct=distinct)
        page = await db.read(lambda conn: list_items(conn, kind, query, ids, cache))
        result = AffectedItemsResult(all_msg=kind.all_msg, none_msg=kind.none_msg)
        result.affected_items = page.items
        result.total_affected_items = page.total
        return result

    operation.__name__ = operation.__qualname__ = f"get_{kind.name}"
    return operation


OPERATIONS = {name: _operation(kind) for name, kind in KINDS.items()}


# -- lookups (CLI, enrichment) ----------------------------------------------------------------


def find(conn: sqlite3.Connection, ident: str) -> tuple[Kind, dict] | None:
    """The object with this STIX id or ATT&CK id (T1110, TA0006, G0016, S0002, M1036), any kind."""
    for kind in KINDS.values():
        if kind.name == "references":
            continue
        page = list_items(conn, kind, Query(limit=None), [ident])
        if page.items:
            best = sorted(page.items, key=lambda i: (bool(i.get("revoked_by")), i.get("deprecated", 0)))[0]
            return kind, best
    return None


def names_of(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, tuple[str | None, str]]:
    """STIX id -> (ATT&CK id, name), across every kind."""
    ids = list(dict.fromkeys(ids))
    out: dict[str, tuple[str | None, str]] = {}
    for kind in KINDS.values():
        if kind.name == "references":
            continue
        for batch in _chunks(ids):
            sql = f"SELECT id, external_id, name FROM {kind.table} WHERE id IN ({', '.join('?' * len(batch))})"
            for id_, external_id, name in conn.execute(sql, tuple(batch)):
                out[id_] = (external_id, name)
    return out


@dataclass(frozen=True)
class TechniqueInfo:
    id: str
    name: str
    tactics: tuple[str, ...]


def technique_map(conn: sqlite3.Connection) -> dict[str, TechniqueInfo]:
    """ATT&CK technique id (T1110, T1110.001) -> name and tactic names, current objects first."""
    tactics: dict[str, list[str]] = {}
    try:
        for tech, name in conn.execute("SELECT p.tech_id, t.name FROM phase p JOIN tactic t ON t.id = p.tactic_id"
                                       " ORDER BY p.rowid"):
            tactics.setdefault(tech, []).append(name)
        rows = conn.execute("SELECT id, external_id, name FROM technique WHERE external_id IS NOT NULL"
                            " ORDER BY (revoked_by IS NOT NULL) DESC, deprecated DESC").fetchall()
    except sqlite3.OperationalError:
        return {}
    # Later rows win: current (not revoked, not deprecated) techniques come last.
    return {external: TechniqueInfo(external, name, tuple(tactics.get(id_, ()))) for id_, external, name in rows}


class Enricher:
    """``rule.mitre: {id: [...]}`` -> ``{id, tactic, technique}`` as in Wazuh's alerts."""

    def __init__(self, techniques: dict[str, TechniqueInfo] | None = None):
        self.techniques = techniques or {}
        self.loaded = techniques is not None
        self._warned: set[str] = set()
        self.unknown = 0

    def update(self, techniques: dict[str, TechniqueInfo]) -> None:
        self.techniques, self.loaded = techniques, True
        self._warned.clear()

    def enrich(self, alert: dict) -> None:
        rule = alert.get("rule") if isinstance(alert, dict) else None
        mitre = rule.get("mitre") if isinstance(rule, dict) else None
        if not isinstance(mitre, dict) or not isinstance(mitre.get("id"), list) or not mitre["id"]:
            return
        tactics: list[str] = []
        techniques: list[str] = []
        for ident in mitre["id"]:
            info = self.techniques.get(ident)
            if info is None:
                self.unknown += 1
                self._warn(str(ident))
                continue
            techniques.append(info.name)
            tactics.extend(t for t in info.tactics if t not in tactics)
        mitre["tactic"] = tactics
        mitre["technique"] = techniques

    def _warn(self, ident: str) -> None:
        key = ident if self.techniques else ""
        if key in self._warned:
            return
        self._warned.add(key)
        if not self.techniques:
            log.warning("No MITRE ATT&CK data is loaded yet: alerts keep rule.mitre.id only "
                        "(run 'wazuhd mitre import FILE' if this lasts)")
        else:
            # Wazuh's analysisd message; the id stays in the alert.
            log.warning("Mitre Technique ID '%s' not found in database.", ident)
