"""``/security/users``: list, create, update, delete, run_as flag, ``me`` and roles of a user.

Every operation is a plain async function ``op(rbac, ..., db=...)`` guarded by
:func:`~wazuhd.rbac.decorators.expose_resources` with Wazuh's actions and resources;
``db`` is the ``security`` database. Changes invalidate the tokens of the users concerned.
"""

from __future__ import annotations

import sqlite3
import time

import trio

from wazuhd.errors import WazuhError, WazuhResourceNotFound
from wazuhd.rbac import records
from wazuhd.rbac.context import RbacContext
from wazuhd.rbac.decorators import expose_resources
from wazuhd.rbac.passwords import check_password_policy, hash_password
from wazuhd.rbac.records import ROLES, USERS
from wazuhd.rbac.schema import MAX_ID_RESERVED
from wazuhd.rbac.tokens import invalidate_users
from wazuhd.results import AffectedItemsResult
from wazuhd.store import Database


@expose_resources(actions=["security:read"], resources=["user:id:{user_ids}"])
async def get_users(rbac: RbacContext, user_ids=None, *, db: Database, offset=0, limit=500, sort=None,
                    search=None, select=None, q=None, distinct=False, rbac_filters=None) -> AffectedItemsResult:
    """Users by id (5001 for unknown ids) or all the caller may read, through the query language."""
    result = AffectedItemsResult(all_msg="All specified users were returned", some_msg="Some users were not returned",
                                 none_msg="No user was returned")
    items, missing = await db.read(lambda conn: records.select_records(
        conn, USERS, records.ids_of(user_ids), (rbac_filters or {}).get("user_ids")))
    for id_ in missing:
        result.add_failed_item(id_, WazuhError(5001))
    return records.paginate(result, items, USERS, offset=offset, limit=limit, sort=sort, search=search,
                            select=select, q=q, distinct=distinct)


@expose_resources(actions=["security:create_user"], resources=["*:*:*"])
async def create_user(rbac: RbacContext, *, db: Database, username: str, password: str) -> AffectedItemsResult:
    """A new user (id from 100, allow_run_as false, no roles); 5009/5007 for a weak password."""
    check_password_policy(password)
    result = AffectedItemsResult(all_msg="User was successfully created", none_msg="User could not be created")
    hashed = await trio.to_thread.run_sync(hash_password, password)

    def work(conn: sqlite3.Connection):
        try:
            cursor = conn.execute("INSERT INTO users (username, password, allow_run_as, created_at)"
                                  " VALUES (?, ?, 0, ?)", (username, hashed, time.time()))
        except sqlite3.IntegrityError:
            return None
        return records.load_one(conn, USERS, cursor.lastrowid)
    user = await db.write(work)
    if user is None:
        result.add_failed_item(username, WazuhError(5000))
    else:
        result.add_affected_items([user])
    return result


@expose_resources(actions=["security:update"], resources=["user:id:{user_id}"])
async def update_user(rbac: RbacContext, user_id, *, db: Database, password: str | None = None) -> AffectedItemsResult:
    """Change a password (4001 without one). Default users (id < 100) can only be changed by
    default users (5011). The user's tokens stop working."""
    if password is None:
        raise WazuhError(4001)
    check_password_policy(password)
    user_id = int(user_id)
    if user_id <= MAX_ID_RESERVED and (rbac.user_id is None or rbac.user_id > MAX_ID_RESERVED):
        raise WazuhError(5011)
    result = AffectedItemsResult(all_msg="User was successfully updated", none_msg="User could not be updated")
    hashed = await trio.to_thread.run_sync(hash_password, password)
    return await _update_user(db, result, user_id, "password", hashed)


@expose_resources(actions=["security:edit_run_as"], resources=["*:*:*"])
async def edit_run_as(rbac: RbacContext, user_id, allow_run_as, *, db: Database) -> AffectedItemsResult:
    """Enable or disable authorization-context login for a user (5010 if not a boolean)."""
    state = "enabled" if allow_run_as is True else "disabled"
    result = AffectedItemsResult(all_msg=f"Parameter allow_run_as has been {state} for the user",
                                 none_msg=f"The parameter allow_run_as could not be {state} for the user")
    user_id = int(user_id)
    if not isinstance(allow_run_as, bool):
        result.add_failed_item(user_id, WazuhError(5010))
        return result

    return await _update_user(db, result, user_id, "allow_run_as", int(allow_run_as))


async def _update_user(db: Database, result: AffectedItemsResult, user_id: int, column: str,
                       value) -> AffectedItemsResult:
    """Set one column of a user, invalidating the user's tokens; 5001 if there is no such user."""
    def work(conn: sqlite3.Connection):
        if conn.execute(f"UPDATE users SET {column} = ? WHERE id = ?", (value, user_id)).rowcount == 0:
            return None
        invalidate_users(conn, [user_id])
        return records.load_one(conn, USERS, user_id)
    user = await db.write(work)
    if user is None:
        result.add_failed_item(user_id, WazuhError(5001))
    else:
        result.add_affected_items([user])
    return result


@expose_resources(actions=["security:delete"], resources=["user:id:{user_ids}"])
async def remove_users(rbac: RbacContext, user_ids, *, db: Database, rbac_filters=None) -> AffectedItemsResult:
    """Delete users: default users are protected (5004), nobody deletes themself (5008), unknown
    ids fail with 5001; with ``all`` those are skipped silently, as in Wazuh."""
    result = AffectedItemsResult(all_msg="Users were successfully deleted", some_msg="Some users were not deleted",
                                 none_msg="No user was deleted")
    explicit = records.ids_of(user_ids)

    def work(conn: sqlite3.Connection):
        items, missing = records.select_records(conn, USERS, explicit, (rbac_filters or {}).get("user_ids"))
        failed = [(id_, 5001) for id_ in missing]
        deleted = []
        for user in items:
            if user["id"] <= MAX_ID_RESERVED:
                failed.append((user["id"], 5004))
            elif user["id"] == rbac.user_id:
                failed.append((user["id"], 5008))
            else:
                conn.execute("DELETE FROM users WHERE id = ?", (user["id"],))
                deleted.append(user)
        invalidate_users(conn, [user["id"] for user in deleted])
        return sorted(deleted, key=lambda user: user["id"]), failed
    deleted, failed = await db.write(work)
    result.add_affected_items(deleted)
    for id_, code in failed if explicit is not None else ():
        result.add_failed_item(id_, WazuhError(code))
    return result


async def get_user_me(rbac: RbacContext, *, db: Database) -> AffectedItemsResult:
    """The caller with the roles of its token, each with its policies and rules in full."""
    result = AffectedItemsResult(all_msg="Current user information was returned")

    def work(conn: sqlite3.Connection):
        user = records.load_one(conn, USERS, rbac.user_id)
        if user is None:
            return None
        user["roles"] = []
        for role in records.load(conn, ROLES, rbac.roles):
            role.pop("users")
            role["policies"] = [_without_roles(p) for p in records.load(conn, records.POLICIES, role["policies"])]
            role["rules"] = [_without_roles(r) for r in records.load(conn, records.RULES, role["rules"])]
            user["roles"].append(role)
        return user
    user = await db.read(work)
    if user is None:
        result.add_failed_item(rbac.username, WazuhError(5001))
    else:
        result.add_affected_items([user])
    return result


def _without_roles(record: dict) -> dict:
    record.pop("roles", None)
    return record


def _username(conn: sqlite3.Connection, user_id: int) -> str | None:
    row = conn.execute("SELECT username FROM users WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row else None


@expose_resources(actions=["security:update"], resources=["user:id:{user_id}", "role:id:{role_ids}"])
async def set_user_role(rbac: RbacContext, user_id, role_ids, *, db: Database, position: int | None = None,
                        rbac_filters=None) -> AffectedItemsResult:
    """Give a user roles, inserted at ``position`` (0 first; default last; 4018 if negative)."""
    if position is not None and int(position) < 0:
        raise WazuhError(4018)
    user_id = int(user_id)

    def work(conn: sqlite3.Connection):
        username = _username(conn, user_id)
        outcome = {"username": username, "linked": 0, "failed": []}
        if username is None:
            outcome["failed"].append((user_id, 5001))
            return outcome
        where = None if position is None else int(position)
        for role_id in records.ids_of(role_ids) or []:
            code = None
            if user_id <= MAX_ID_RESERVED:
                code = 4008
            elif records.load_one(conn, ROLES, role_id) is None:
                code = 4002
            elif conn.execute("SELECT 1 FROM user_roles WHERE user_id = ? AND role_id = ?",
                              (user_id, role_id)).fetchone():
                code = 4017
            if code:
                outcome["failed"].append((user_id if code == 4008 else role_id, code))
                continue
            insert_link(conn, "user_roles", "user_id", user_id, "role_id", role_id, where)
            where = None if where is None else where + 1
            outcome["linked"] += 1
        if outcome["linked"]:
            invalidate_users(conn, [user_id])
            outcome["user"] = records.load_one(conn, USERS, user_id)
        return outcome
    return _link_result(await db.write(work), "No link was created to user",
                        "Some roles were not linked to user", "All roles were linked to user")


@expose_resources(actions=["security:delete"], resources=["user:id:{user_id}", "role:id:{role_ids}"])
async def remove_user_role(rbac: RbacContext, user_id, role_ids, *, db: Database,
                           rbac_filters=None) -> AffectedItemsResult:
    """Take roles from a user (5001 if the user does not exist)."""
    user_id = int(user_id)

    def work(conn: sqlite3.Connection):
        username = _username(conn, user_id)
        if username is None:
            raise WazuhResourceNotFound(5001)
        outcome = {"username": username, "linked": 0, "failed": []}
        wanted = records.ids_of(role_ids)
        if wanted is None:
            linked = [row[0] for row in conn.execute("SELECT role_id FROM user_roles WHERE user_id = ?", (user_id,))]
            wanted = [role for role in linked if rbac_filters["role_ids"].matches([f"role:id:{role}"])]
        for role_id in wanted:
            if user_id <= MAX_ID_RESERVED:
                outcome["failed"].append((user_id, 4008))
            elif records.load_one(conn, ROLES, role_id) is None:
                outcome["failed"].append((role_id, 4002))
            elif conn.execute("DELETE FROM user_roles WHERE user_id = ? AND role_id = ?",
                              (user_id, role_id)).rowcount == 0:
                outcome["failed"].append((role_id, 4016))
            else:
                outcome["linked"] += 1
        if outcome["linked"]:
            invalidate_users(conn, [user_id])
            outcome["user"] = records.load_one(conn, USERS, user_id)
        return outcome
    return _link_result(await db.write(work), "No role was unlinked from user",
                        "Some roles were not unlinked from user", "All roles were unlinked from user")


def insert_link(conn: sqlite3.Connection, table: str, owner_col: str, owner: int, item_col: str, item: int,
                position: int | None) -> None:
    """Insert a link at ``position`` among the owner's links (shifting the rest), or last."""
    positions = [row[0] for row in conn.execute(f"SELECT position FROM {table} WHERE {owner_col} = ?"
                                                f" ORDER BY position", (owner,))]
    end = (positions[-1] + 1) if positions else 0
    if position is None or position >= end:
        position = end
    else:
        conn.execute(f"UPDATE {table} SET position = position + 1 WHERE {owner_col} = ? AND position >= ?",
                     (owner, position))
    conn.execute(f"INSERT INTO {table} ({owner_col}, {item_col}, position, created_at) VALUES (?, ?, ?, ?)",
                 (owner, item, position, time.time()))


def _link_result(outcome: dict, none_msg: str, some_msg: str, all_msg: str) -> AffectedItemsResult:
    name = outcome["username"]
    result = AffectedItemsResult(all_msg=f"{all_msg} {name}", some_msg=f"{some_msg} {name}",
                                 none_msg=f"{none_msg} {name}")
    for id_, code in outcome["failed"]:
        result.add_failed_item(id_, WazuhError(code))
    if "user" in outcome:
        result.add_affected_items([outcome["user"]])
        result.total_affected_items = outcome["linked"]
    return result
