"""``/security/roles/{role_id}/policies`` and ``/security/roles/{role_id}/rules``: ordered links.

A role's policies are evaluated in position order (the later wins), so ``position`` matters:
0 inserts first, no position appends. Default roles (id < 100) keep their links (4008).
Policy links invalidate the role's tokens; rule links invalidate every run_as token.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from wazuhd.errors import WazuhError, WazuhResourceNotFound
from wazuhd.rbac import records
from wazuhd.rbac.context import RbacContext
from wazuhd.rbac.decorators import expose_resources
from wazuhd.rbac.records import POLICIES, ROLES, RULES, Kind
from wazuhd.rbac.schema import MAX_ID_RESERVED
from wazuhd.rbac.tokens import invalidate_roles, invalidate_run_as
from wazuhd.rbac.users import insert_link
from wazuhd.results import AffectedItemsResult
from wazuhd.store import Database


@dataclass(frozen=True)
class _Link:
    table: str
    column: str
    kind: Kind
    exists: int
    missing_link: int
    plural: str


_POLICY = _Link("role_policies", "policy_id", POLICIES, 4011, 4010, "policies")
_RULE = _Link("role_rules", "rule_id", RULES, 4023, 4024, "security rules")


def _invalidate(conn: sqlite3.Connection, link: _Link, role_id: int) -> None:
    if link is _RULE:
        invalidate_run_as(conn)
    else:
        invalidate_roles(conn, [role_id])


async def _link(link: _Link, role_id, ids, position, db: Database) -> AffectedItemsResult:
    role_id = int(role_id)
    if position is not None and int(position) < 0:
        raise WazuhError(4018)
    result = AffectedItemsResult(all_msg=f"All {link.plural} were linked to role {role_id}",
                                 some_msg=f"Some {link.plural} were not linked to role {role_id}",
                                 none_msg=f"No link was created to role {role_id}")

    def work(conn: sqlite3.Connection):
        failed, linked = [], 0
        where = None if position is None else int(position)
        role = records.load_one(conn, ROLES, role_id)
        for item_id in records.ids_of(ids) or []:
            if role is None:
                failed.append((role_id, 4002))
            elif role_id <= MAX_ID_RESERVED:
                failed.append((role_id, 4008))
            elif records.load_one(conn, link.kind, item_id) is None:
                failed.append((item_id, link.kind.not_found))
            elif conn.execute(f"SELECT 1 FROM {link.table} WHERE role_id = ? AND {link.column} = ?",
                              (role_id, item_id)).fetchone():
                failed.append((item_id, link.exists))
            else:
                insert_link(conn, link.table, "role_id", role_id, link.column, item_id, where)
                where = None if where is None else where + 1
                linked += 1
        if linked:
            _invalidate(conn, link, role_id)
        return failed, linked, records.load_one(conn, ROLES, role_id) if linked else None
    failed, linked, role = await db.write(work)
    _fill(result, failed, linked, role)
    return result


async def _unlink(link: _Link, role_id, ids, db: Database, flt) -> AffectedItemsResult:
    role_id = int(role_id)
    result = AffectedItemsResult(all_msg=f"All {link.plural} were unlinked from role {role_id}",
                                 some_msg=f"Some {link.plural} were not unlinked from role {role_id}",
                                 none_msg=f"No {link.plural[:-1] if link is _RULE else 'policy'} was unlinked "
                                          f"from role {role_id}")

    def work(conn: sqlite3.Connection):
        if records.load_one(conn, ROLES, role_id) is None:
            raise WazuhResourceNotFound(4002)
        wanted = records.ids_of(ids)
        if wanted is None:
            linked = [row[0] for row in conn.execute(f"SELECT {link.column} FROM {link.table} WHERE role_id = ?",
                                                     (role_id,))]
            wanted = [item for item in linked if flt.matches([f"{link.kind.resource}:{item}"])]
        failed, linked = [], 0
        for item_id in wanted:
            if role_id <= MAX_ID_RESERVED:
                failed.append((role_id, 4008))
            elif records.load_one(conn, link.kind, item_id) is None:
                failed.append((item_id, link.kind.not_found))
            elif conn.execute(f"DELETE FROM {link.table} WHERE role_id = ? AND {link.column} = ?",
                              (role_id, item_id)).rowcount == 0:
                failed.append((item_id, link.missing_link))
            else:
                linked += 1
        if linked:
            _invalidate(conn, link, role_id)
        return failed, linked, records.load_one(conn, ROLES, role_id) if linked else None
    failed, linked, role = await db.write(work)
    _fill(result, failed, linked, role)
    return result


def _fill(result: AffectedItemsResult, failed: list, linked: int, role: dict | None) -> None:
    for id_, code in failed:
        result.add_failed_item(id_, WazuhError(code))
    if role is not None:
        result.add_affected_items([role])
        result.total_affected_items = linked


@expose_resources(actions=["security:update"], resources=["role:id:{role_id}", "policy:id:{policy_ids}"])
async def set_role_policy(rbac: RbacContext, role_id, policy_ids, *, db: Database, position: int | None = None,
                          rbac_filters=None) -> AffectedItemsResult:
    """Link policies to a role at ``position`` (4002, 4007, 4008, 4011 as failed items)."""
    return await _link(_POLICY, role_id, policy_ids, position, db)


@expose_resources(actions=["security:delete"], resources=["role:id:{role_id}", "policy:id:{policy_ids}"])
async def remove_role_policy(rbac: RbacContext, role_id, policy_ids, *, db: Database,
                             rbac_filters=None) -> AffectedItemsResult:
    """Unlink policies (4002 raised for an unknown role; 4007, 4008, 4010 as failed items)."""
    return await _unlink(_POLICY, role_id, policy_ids, db, (rbac_filters or {}).get("policy_ids"))


@expose_resources(actions=["security:update"], resources=["role:id:{role_id}", "rule:id:{rule_ids}"])
async def set_role_rule(rbac: RbacContext, role_id, rule_ids, *, db: Database,
                        rbac_filters=None) -> AffectedItemsResult:
    """Link authorization-context rules to a role (4002, 4008, 4022, 4023 as failed items)."""
    return await _link(_RULE, role_id, rule_ids, None, db)


@expose_resources(actions=["security:delete"], resources=["role:id:{role_id}", "rule:id:{rule_ids}"])
async def remove_role_rule(rbac: RbacContext, role_id, rule_ids, *, db: Database,
                           rbac_filters=None) -> AffectedItemsResult:
    """Unlink rules (4002 raised for an unknown role; 4008, 4022, 4024 as failed items)."""
    return await _unlink(_RULE, role_id, rule_ids, db, (rbac_filters or {}).get("rule_ids"))
