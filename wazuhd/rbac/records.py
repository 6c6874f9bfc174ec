"""Reading the security records in their API shape, and what the list operations share.

Users ``{id, username, allow_run_as, roles}``, roles ``{id, name, policies, users, rules}``,
policies ``{id, name, policy, roles}``, security rules ``{id, name, rule, roles}``: ids of
linked records in link order, as Wazuh answers them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wazuhd import results
from wazuhd.query import Field, Schema
from wazuhd.rbac.context import ResourceFilter
from wazuhd.results import AffectedItemsResult


@dataclass(frozen=True)
class Kind:
    """One kind of security record: its table, RBAC resource type and Wazuh's error codes."""

    table: str
    resource: str
    not_found: int
    protected: int
    schema: Schema


USERS = Kind("users", "user:id", 5001, 5004, Schema([
    Field("id", type="integer"), Field("username"), Field("allow_run_as", type="boolean"),
    Field("roles", type="integer")]))
ROLES = Kind("roles", "role:id", 4002, 4008, Schema([
    Field("id", type="integer"), Field("name"), Field("policies", type="integer"),
    Field("users", type="integer"), Field("rules", type="integer")]))
POLICIES = Kind("policies", "policy:id", 4007, 4008, Schema([
    Field("id", type="integer"), Field("name"), Field("policy.actions"), Field("policy.resources"),
    Field("policy.effect"), Field("roles", type="integer")]))
RULES = Kind("rules", "rule:id", 4022, 4008, Schema([
    Field("id", type="integer"), Field("name"), Field("rule"), Field("roles", type="integer")]))


def _column(conn: sqlite3.Connection, sql: str, params: Sequence) -> list:
    return [row[0] for row in conn.execute(sql, params)]


def _user(conn, row) -> dict:
    return {"id": row[0], "username": row[1], "allow_run_as": bool(row[2]),
            "roles": _column(conn, "SELECT role_id FROM user_roles WHERE user_id = ? ORDER BY position, created_at",
                             (row[0],))}


def _role(conn, row) -> dict:
    return {"id": row[0], "name": row[1],
            "policies": _column(conn, "SELECT policy_id FROM role_policies WHERE role_id = ?"
                                      " ORDER BY position, created_at", (row[0],)),
            "users": _column(conn, "SELECT user_id FROM user_roles WHERE role_id = ? ORDER BY user_id", (row[0],)),
            "rules": _column(conn, "SELECT rule_id FROM role_rules WHERE role_id = ? ORDER BY position, created_at",
                             (row[0],))}


def _policy(conn, row) -> dict:
    return {"id": row[0], "name": row[1], "policy": json.loads(row[2]),
            "roles": _column(conn, "SELECT role_id FROM role_policies WHERE policy_id = ? ORDER BY role_id",
                             (row[0],))}


def _rule(conn, row) -> dict:
    return {"id": row[0], "name": row[1], "rule": json.loads(row[2]),
            "roles": _column(conn, "SELECT role_id FROM role_rules WHERE rule_id = ? ORDER BY role_id", (row[0],))}


_SHAPES = {
    "users": ("SELECT id, username, allow_run_as FROM users", _user),
    "roles": ("SELECT id, name FROM roles", _role),
    "policies": ("SELECT id, name, policy FROM policies", _policy),
    "rules": ("SELECT id, name, rule FROM rules", _rule),
}


def load(conn: sqlite3.Connection, kind: Kind, ids: Iterable | None = None,
         where: str | None = None, params: Sequence = ()) -> list[dict]:
    """Records by id (missing or non-numeric ids skipped), or every record passing a trusted ``where``."""
    select, shape = _SHAPES[kind.table]
    if ids is not None:
        rows = [conn.execute(f"{select} WHERE id = ?", (int(i),)).fetchone() for i in ids if _numeric(i)]
        return [shape(conn, row) for row in rows if row is not None]
    sql = f"{select}{f' WHERE {where}' if where else ''} ORDER BY id"
    return [shape(conn, row) for row in conn.execute(sql, params)]


def _numeric(value) -> bool:
    return isinstance(value, int) or (isinstance(value, str) and value.isdigit())


def load_one(conn: sqlite3.Connection, kind: Kind, id_) -> dict | None:
    found = load(conn, kind, [id_])
    return found[0] if found else None


def select_records(conn: sqlite3.Connection, kind: Kind, ids: list | None,
                   flt: ResourceFilter | None) -> tuple[list[dict], list]:
    """(records, missing ids): the explicit ids, or every record the filter lets through (in SQL)."""
    if ids is not None:
        found = {record["id"]: record for record in load(conn, kind, ids)}
        return [found[i] for i in ids if i in found], [i for i in ids if i not in found]
    if flt is not None and flt.allows_nothing:
        return [], []
    where, params = flt.sql({kind.resource: f"{kind.table}.id"}) if flt and not flt.allows_all else (None, ())
    return load(conn, kind, where=where, params=params), []


def ids_of(values) -> list | None:
    """Ids from an API list: numbers as ints (other text kept, it matches no record);
    None stays None (a list operation)."""
    if values is None:
        return None
    values = values if isinstance(values, (list, tuple)) else [values]
    return [int(v) if _numeric(v) else v for v in values]


def paginate(result: AffectedItemsResult, items: list[dict], kind: Kind, **params) -> AffectedItemsResult:
    """Apply the one query language to ``items`` and fill ``result`` (total before the limit)."""
    return results.paginate(result, items, kind.schema, **params)
