"""Authentication, login roles, token validity and the per-request RbacContext.

The HTTP layer signs the JWT; this module decides what goes in it and whether it still
holds. A token carries the user id, the role ids granted at login (in order), whether it
came from a run_as login, and ``issued_at`` with sub-second precision (a float ``iat``):
tokens issued before a change to their user, one of their roles, any authorization-context
rule (run_as tokens) or before a revoke-all are invalid, as in Wazuh.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence

import trio

from wazuhd.errors import WazuhPermissionError, WazuhResourceNotFound
from wazuhd.rbac.authcontext import rule_matches
from wazuhd.rbac.context import RbacContext
from wazuhd.rbac.passwords import DUMMY_HASH, verify_password
from wazuhd.rbac.schema import DEFAULT_CONFIG, MAX_ID_RESERVED, WAZUH_WUI_USER_ID
from wazuhd.store import Database


class AuthenticationFailed(Exception):
    """Wrong username or password: the login route answers 401 "Invalid credentials"."""

    def __init__(self) -> None:
        super().__init__("Invalid credentials")


# -- invalidation (called inside write transactions) ---------------------------------------
def _invalidate(conn: sqlite3.Connection, kind: str, subjects: Iterable[int], now: float | None = None) -> None:
    now = time.time() if now is None else now
    conn.executemany("INSERT INTO token_rules (kind, subject, invalid_before) VALUES (?, ?, ?)"
                     " ON CONFLICT (kind, subject) DO UPDATE SET invalid_before = MAX(invalid_before,"
                     " excluded.invalid_before)", [(kind, int(s), now) for s in subjects])


def invalidate_users(conn: sqlite3.Connection, user_ids: Iterable[int]) -> None:
    _invalidate(conn, "user", user_ids)


def invalidate_roles(conn: sqlite3.Connection, role_ids: Iterable[int]) -> None:
    _invalidate(conn, "role", role_ids)


def invalidate_run_as(conn: sqlite3.Connection) -> None:
    _invalidate(conn, "run_as", [0])


def revoke_all(conn: sqlite3.Connection) -> None:
    _invalidate(conn, "all", [0])


# -- reads -------------------------------------------------------------------------------
def read_config(conn: sqlite3.Connection) -> dict:
    stored = {row[0]: json.loads(row[1]) for row in conn.execute("SELECT key, value FROM config")}
    return {key: stored.get(key, default) for key, default in DEFAULT_CONFIG.items()}


def user_role_ids(conn: sqlite3.Connection, user_id: int) -> list[int]:
    return [row[0] for row in conn.execute(
        "SELECT role_id FROM user_roles WHERE user_id = ? ORDER BY position, created_at", (user_id,))]


def _user(conn: sqlite3.Connection, column: str, value) -> dict | None:
    row = conn.execute(f"SELECT id, username, password, allow_run_as FROM users WHERE {column} = ?",
                       (value,)).fetchone()
    if row is None:
        return None
    return {"id": row[0], "username": row[1], "password": row[2], "allow_run_as": bool(row[3]),
            "roles": user_role_ids(conn, row[0])}


def public_user(user: dict) -> dict:
    return {"id": user["id"], "username": user["username"], "allow_run_as": user["allow_run_as"],
            "roles": list(user["roles"])}


async def authenticate(db: Database, username: str, password: str) -> dict:
    """The user ``{id, username, allow_run_as, roles}`` if the password matches, else
    AuthenticationFailed (same cost whether or not the user exists)."""
    user = await db.read(lambda conn: _user(conn, "username", username))
    stored = user["password"] if user else DUMMY_HASH
    ok = await trio.to_thread.run_sync(verify_password, password, stored)
    if not (ok and user):
        raise AuthenticationFailed()
    return public_user(user)


def _context_roles(conn: sqlite3.Connection, user_id: int, auth_context) -> list[int]:
    """Roles whose rules match the context, by role id; default rules only serve wazuh-wui."""
    roles: dict[int, bool] = {}
    rows = conn.execute("SELECT rr.role_id, ru.id, ru.rule FROM role_rules rr JOIN rules ru ON ru.id = rr.rule_id"
                        " ORDER BY rr.role_id, rr.position").fetchall()
    for role_id, rule_id, rule in rows:
        if roles.get(role_id) or (rule_id <= MAX_ID_RESERVED and user_id != WAZUH_WUI_USER_ID):
            continue
        roles[role_id] = rule_matches(json.loads(rule), auth_context)
    return [role_id for role_id, matched in roles.items() if matched]


async def login_roles(db: Database, user_id: int, auth_context=None) -> list[int]:
    """The role ids a login grants: the user's roles in order, or for a run_as login (an
    ``auth_context`` given) the roles whose rules match it (6004 unless allow_run_as)."""
    def work(conn):
        user = _user(conn, "id", user_id)
        if user is None:
            raise WazuhResourceNotFound(5001)
        if auth_context is None:
            return user["roles"]
        if not user["allow_run_as"]:
            raise WazuhPermissionError(6004)
        return _context_roles(conn, user_id, auth_context)
    return await db.read(work)


def _token_holds(conn: sqlite3.Connection, user: dict | None, roles: Sequence[int], issued_at: float,
                 run_as: bool) -> bool:
    if user is None or (not run_as and set(user["roles"]) != set(roles)):
        return False
    checks = [("all", 0), ("user", user["id"]), *(("role", r) for r in {*roles, *user["roles"]})]
    if run_as:
        checks.append(("run_as", 0))
    for kind, subject in checks:
        row = conn.execute("SELECT invalid_before FROM token_rules WHERE kind = ? AND subject = ?",
                           (kind, subject)).fetchone()
        if row and issued_at < (int(row[0]) if isinstance(issued_at, int) else row[0]):
            return False
    return True


async def token_valid(db: Database, user_id: int, roles: Sequence[int], issued_at: float, *,
                      run_as: bool = False) -> bool:
    """Does a token issued at ``issued_at`` (epoch seconds) for these roles still hold?

    A float ``issued_at`` is compared exactly. An int (a JWT ``iat`` in whole seconds) gets
    Wazuh's second precision: a token from the very second of a change stays valid, rather
    than a token issued just after the change being refused.
    """
    return await db.read(lambda conn: _token_holds(conn, _user(conn, "id", user_id), roles,
                                                   issued_at, run_as))


def _policies_of(conn: sqlite3.Connection, roles: Sequence[int]) -> list[dict]:
    policies = []
    for role_id in roles:
        policies.extend(json.loads(row[0]) for row in conn.execute(
            "SELECT p.policy FROM role_policies rp JOIN policies p ON p.id = rp.policy_id"
            " WHERE rp.role_id = ? ORDER BY rp.position, rp.created_at", (role_id,)))
    return policies


async def load_context(db: Database, user_id: int, roles: Sequence[int], *, run_as: bool = False) -> RbacContext:
    """The RbacContext of a request: the roles' policies in order and the current rbac_mode."""
    def work(conn):
        user = _user(conn, "id", user_id)
        return (user["username"] if user else None), _policies_of(conn, roles), read_config(conn)["rbac_mode"]
    username, policies, mode = await db.read(work)
    return RbacContext.from_policies(policies, mode, user_id=user_id, username=username, roles=roles,
                                     run_as=run_as)


async def authorize(db: Database, user_id: int, roles: Sequence[int], issued_at: float, *,
                    run_as: bool = False) -> RbacContext | None:
    """:func:`token_valid` and :func:`load_context` in one read (one trip off the loop per
    request): the request's RbacContext, or None when the token no longer holds."""
    def work(conn):
        user = _user(conn, "id", user_id)
        if not _token_holds(conn, user, roles, issued_at, run_as):
            return None
        return user["username"], _policies_of(conn, roles), read_config(conn)["rbac_mode"]
    found = await db.read(work)
    if found is None:
        return None
    username, policies, mode = found
    return RbacContext.from_policies(policies, mode, user_id=user_id, username=username, roles=roles,
                                     run_as=run_as)
