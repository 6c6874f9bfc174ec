"""``/security/roles``, ``/security/policies``, ``/security/rules``: list, create, update, delete.

Default records (id < 100) cannot be changed or deleted (4008). Changing a role, a policy or
a rule invalidates the tokens of the roles concerned (and every run_as token for a rule),
as in Wazuh.
"""

from __future__ import annotations

import sqlite3
import time

from wazuhd.errors import WazuhError
from wazuhd.rbac import records
from wazuhd.rbac.authcontext import validate_rule
from wazuhd.rbac.context import RbacContext, sanitize_policy
from wazuhd.rbac.decorators import expose_resources
from wazuhd.rbac.defaults import policy_json, rule_json
from wazuhd.rbac.records import POLICIES, ROLES, RULES, Kind
from wazuhd.rbac.schema import MAX_ID_RESERVED
from wazuhd.rbac.tokens import invalidate_roles, invalidate_run_as
from wazuhd.results import AffectedItemsResult
from wazuhd.store import Database

#: table -> (singular, plural) as Wazuh words its messages.
_WORDS = {"roles": ("Role", "role", "roles"), "policies": ("Policy", "policy", "policies"),
          "rules": ("Security rule", "security rule", "security rules")}
#: table -> (code when the name/body exists on create, on update)
_EXISTS = {"roles": (4005, 4005), "policies": (4009, 4013), "rules": (4005, 4005)}
_INVALID = {"roles": 4003, "policies": 4006, "rules": 4003}


async def _get(kind: Kind, ids, db: Database, flt, query: dict) -> AffectedItemsResult:
    _, word, plural = _WORDS[kind.table]
    result = AffectedItemsResult(all_msg=f"All specified {plural} were returned",
                                 some_msg=f"Some {plural} were not returned", none_msg=f"No {word} was returned")
    items, missing = await db.read(lambda conn: records.select_records(conn, kind, records.ids_of(ids), flt))
    for id_ in missing:
        result.add_failed_item(id_, WazuhError(kind.not_found))
    return records.paginate(result, items, kind, **query)


def _invalidate_for(conn: sqlite3.Connection, kind: Kind, record: dict) -> None:
    """Whose tokens a change to ``record`` invalidates."""
    if kind is ROLES:
        invalidate_roles(conn, [record["id"]])
    else:
        invalidate_roles(conn, record["roles"])
    if kind is RULES:
        invalidate_run_as(conn)


async def _remove(kind: Kind, ids, db: Database, flt) -> AffectedItemsResult:
    _, word, plural = _WORDS[kind.table]
    result = AffectedItemsResult(all_msg=f"All specified {plural} were deleted",
                                 some_msg=f"Some {plural} were not deleted", none_msg=f"No {word} was deleted")
    explicit = records.ids_of(ids)

    def work(conn: sqlite3.Connection):
        items, missing = records.select_records(conn, kind, explicit, flt)
        failed = [(id_, kind.not_found) for id_ in missing]
        deleted = []
        for record in items:
            if record["id"] <= MAX_ID_RESERVED:
                failed.append((record["id"], kind.protected))
                continue
            _invalidate_for(conn, kind, record)
            conn.execute(f"DELETE FROM {kind.table} WHERE id = ?", (record["id"],))
            deleted.append(record)
        return sorted(deleted, key=lambda record: record["id"]), failed
    deleted, failed = await db.write(work)
    result.add_affected_items(deleted)
    for id_, code in failed if explicit is not None else ():
        result.add_failed_item(id_, WazuhError(code))
    return result


async def _create(kind: Kind, db: Database, name: str, body_column: str | None = None,
                  body: str | None = None) -> AffectedItemsResult:
    title = _WORDS[kind.table][0]
    result = AffectedItemsResult(all_msg=f"{title} was successfully created", none_msg=f"{title} was not created")
    columns = ["name", "created_at"] + ([body_column] if body_column else [])
    values = [name, time.time()] + ([body] if body_column else [])

    def work(conn: sqlite3.Connection):
        try:
            cursor = conn.execute(f"INSERT INTO {kind.table} ({', '.join(columns)}) VALUES "
                                  f"({', '.join('?' * len(values))})", values)
        except sqlite3.IntegrityError:
            return None
        return records.load_one(conn, kind, cursor.lastrowid)
    record = await db.write(work)
    if record is None:
        result.add_failed_item(name, WazuhError(_EXISTS[kind.table][0]))
    else:
        result.add_affected_items([record])
    return result


async def _update(kind: Kind, id_, db: Database, changes: dict) -> AffectedItemsResult:
    title = _WORDS[kind.table][0]
    result = AffectedItemsResult(all_msg=f"{title} was successfully updated", none_msg=f"{title} was not updated")
    id_ = int(id_)

    def work(conn: sqlite3.Connection):
        before = records.load_one(conn, kind, id_)
        if before is None:
            return kind.not_found
        if id_ <= MAX_ID_RESERVED:
            return kind.protected
        try:
            conn.execute(f"UPDATE {kind.table} SET {', '.join(f'{c} = ?' for c in changes)} WHERE id = ?",
                         [*changes.values(), id_])
        except sqlite3.IntegrityError:
            return _EXISTS[kind.table][1]
        _invalidate_for(conn, kind, before)
        return records.load_one(conn, kind, id_)
    outcome = await db.write(work)
    if isinstance(outcome, int):
        result.add_failed_item(id_, WazuhError(outcome))
    else:
        result.add_affected_items([outcome])
    return result


# -- roles --------------------------------------------------------------------------------
@expose_resources(actions=["security:read"], resources=["role:id:{role_ids}"])
async def get_roles(rbac: RbacContext, role_ids=None, *, db: Database, rbac_filters=None, **query) -> AffectedItemsResult:
    """Roles by id (4002 for unknown ids) or all the caller may read; ``query``: offset, limit,
    sort, search, select, q, distinct."""
    return await _get(ROLES, role_ids, db, (rbac_filters or {}).get("role_ids"), query)


@expose_resources(actions=["security:create"], resources=["*:*:*"])
async def add_role(rbac: RbacContext, *, db: Database, name: str) -> AffectedItemsResult:
    return await _create(ROLES, db, name)


@expose_resources(actions=["security:update"], resources=["role:id:{role_id}"])
async def update_role(rbac: RbacContext, role_id, *, db: Database, name: str | None = None) -> AffectedItemsResult:
    if name is None:
        raise WazuhError(4001)
    return await _update(ROLES, role_id, db, {"name": name})


@expose_resources(actions=["security:delete"], resources=["role:id:{role_ids}"])
async def remove_roles(rbac: RbacContext, role_ids, *, db: Database, rbac_filters=None) -> AffectedItemsResult:
    return await _remove(ROLES, role_ids, db, (rbac_filters or {}).get("role_ids"))


# -- policies -----------------------------------------------------------------------------
@expose_resources(actions=["security:read"], resources=["policy:id:{policy_ids}"])
async def get_policies(rbac: RbacContext, policy_ids=None, *, db: Database, rbac_filters=None,
                       **query) -> AffectedItemsResult:
    return await _get(POLICIES, policy_ids, db, (rbac_filters or {}).get("policy_ids"), query)


@expose_resources(actions=["security:create"], resources=["*:*:*"])
async def add_policy(rbac: RbacContext, *, db: Database, name: str, policy: dict) -> AffectedItemsResult:
    """A new policy; 4006 when its body is not ``{actions, resources, effect}`` well formed,
    4009 when its name or body already exists."""
    try:
        body = policy_json(sanitize_policy(policy))
    except WazuhError as error:
        result = AffectedItemsResult(none_msg="Policy was not created")
        result.add_failed_item(name, error)
        return result
    return await _create(POLICIES, db, name, "policy", body)


@expose_resources(actions=["security:update"], resources=["policy:id:{policy_id}"])
async def update_policy(rbac: RbacContext, policy_id, *, db: Database, name: str | None = None,
                        policy: dict | None = None) -> AffectedItemsResult:
    if name is None and policy is None:
        raise WazuhError(4001)
    changes = {} if name is None else {"name": name}
    if policy is not None:
        try:
            changes["policy"] = policy_json(sanitize_policy(policy))
        except WazuhError as error:
            result = AffectedItemsResult(none_msg="Policy was not updated")
            result.add_failed_item(int(policy_id), error)
            return result
    return await _update(POLICIES, policy_id, db, changes)


@expose_resources(actions=["security:delete"], resources=["policy:id:{policy_ids}"])
async def remove_policies(rbac: RbacContext, policy_ids, *, db: Database, rbac_filters=None) -> AffectedItemsResult:
    return await _remove(POLICIES, policy_ids, db, (rbac_filters or {}).get("policy_ids"))


# -- security rules -----------------------------------------------------------------------
@expose_resources(actions=["security:read"], resources=["rule:id:{rule_ids}"])
async def get_rules(rbac: RbacContext, rule_ids=None, *, db: Database, rbac_filters=None, **query) -> AffectedItemsResult:
    return await _get(RULES, rule_ids, db, (rbac_filters or {}).get("rule_ids"), query)


def _rule_body(rule, none_msg: str, id_) -> tuple[str | None, AffectedItemsResult | None]:
    try:
        validate_rule(rule)
    except WazuhError as error:
        result = AffectedItemsResult(none_msg=none_msg)
        result.add_failed_item(id_, error)
        return None, result
    return rule_json(rule), None


@expose_resources(actions=["security:create"], resources=["*:*:*"])
async def add_rule(rbac: RbacContext, *, db: Database, name: str, rule: dict) -> AffectedItemsResult:
    """A new authorization-context rule; 4003 when malformed, 4005 when it already exists."""
    body, failed = _rule_body(rule, "Security rule was not created", name)
    return failed or await _create(RULES, db, name, "rule", body)


@expose_resources(actions=["security:update"], resources=["rule:id:{rule_id}"])
async def update_rule(rbac: RbacContext, rule_id, *, db: Database, name: str | None = None,
                      rule: dict | None = None) -> AffectedItemsResult:
    if name is None and rule is None:
        raise WazuhError(4001)
    changes = {} if name is None else {"name": name}
    if rule is not None:
        body, failed = _rule_body(rule, "Security rule was not updated", int(rule_id))
        if failed:
            return failed
        changes["rule"] = body
    return await _update(RULES, rule_id, db, changes)


@expose_resources(actions=["security:delete"], resources=["rule:id:{rule_ids}"])
async def remove_rules(rbac: RbacContext, rule_ids, *, db: Database, rbac_filters=None) -> AffectedItemsResult:
    return await _remove(RULES, rule_ids, db, (rbac_filters or {}).get("rule_ids"))
