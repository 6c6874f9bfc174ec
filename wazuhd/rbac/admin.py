"""``/security/config``, token revocation, logout, ``me/policies``, ``actions`` and ``resources``."""

from __future__ import annotations

import json
import sqlite3

from wazuhd.errors import WazuhError
from wazuhd.rbac import catalog
from wazuhd.rbac.context import RbacContext
from wazuhd.rbac.decorators import expose_resources
from wazuhd.rbac.schema import DEFAULT_CONFIG, RBAC_MODES
from wazuhd.rbac.tokens import invalidate_users, read_config, revoke_all
from wazuhd.results import WazuhResult
from wazuhd.store import Database

_UPDATED = "Configuration was successfully updated"


def _check_config(config) -> dict:
    if not isinstance(config, dict) or not config:
        raise WazuhError(4001)
    unknown = sorted(set(config) - set(DEFAULT_CONFIG))
    if unknown:
        raise WazuhError(4021, f"unknown settings {unknown}; valid: {', '.join(DEFAULT_CONFIG)}")
    timeout = config.get("auth_token_exp_timeout", 900)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 30:
        raise WazuhError(4021, "auth_token_exp_timeout must be an integer of at least 30 (seconds)")
    if config.get("rbac_mode", "white") not in RBAC_MODES:
        raise WazuhError(4021, "rbac_mode must be white or black")
    return config


@expose_resources(actions=["security:read_config"], resources=["*:*:*"])
async def get_security_config(rbac: RbacContext, *, db: Database) -> WazuhResult:
    """``{"data": {"auth_token_exp_timeout": 900, "rbac_mode": "white"}}``."""
    return WazuhResult({"data": await db.read(read_config)})


async def security_config(db: Database) -> dict:
    """The current configuration, unguarded: for the JWT layer (token lifetime)."""
    return await db.read(read_config)


def _store(conn: sqlite3.Connection, config: dict) -> None:
    conn.executemany("INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value ="
                     " excluded.value", [(key, json.dumps(value)) for key, value in config.items()])
    revoke_all(conn)


@expose_resources(actions=["security:update_config"], resources=["*:*:*"])
async def update_security_config(rbac: RbacContext, *, db: Database, config: dict) -> WazuhResult:
    """Change settings (4001 if empty, 4021 if invalid); every token is revoked, as in Wazuh."""
    config = _check_config(config)
    await db.write(lambda conn: _store(conn, config))
    return WazuhResult({"message": _UPDATED})


@expose_resources(actions=["security:update_config"], resources=["*:*:*"])
async def restore_security_config(rbac: RbacContext, *, db: Database) -> WazuhResult:
    """``DELETE /security/config``: back to the defaults; every token is revoked."""
    await db.write(lambda conn: _store(conn, DEFAULT_CONFIG))
    return WazuhResult({"message": _UPDATED})


@expose_resources(actions=["security:revoke"], resources=["*:*:*"])
async def revoke_tokens(rbac: RbacContext, *, db: Database) -> WazuhResult:
    """``PUT /security/user/revoke``: every token issued until now stops working."""
    await db.write(revoke_all)
    return WazuhResult({"message": "Tokens were successfully revoked"})


async def logout(rbac: RbacContext, *, db: Database) -> WazuhResult:
    """``DELETE /security/user/authenticate``: the caller's tokens stop working."""
    await db.write(lambda conn: invalidate_users(conn, [rbac.user_id]))
    return WazuhResult({"message": f"User {rbac.username} was successfully logged out"})


async def get_user_me_policies(rbac: RbacContext) -> WazuhResult:
    """The caller's processed policies and the rbac_mode they were evaluated in."""
    return WazuhResult({"data": rbac.permissions(),
                        "message": "Current user processed policies information was returned"})


async def get_rbac_actions(*, endpoint: str | None = None) -> WazuhResult:
    """Every registered action (or those guarding ``endpoint``, e.g. ``GET /security/users``);
    any authenticated user may ask, as in Wazuh."""
    return WazuhResult({"data": catalog.rbac_actions(endpoint)})


async def get_rbac_resources(*, resource: str | None = None) -> WazuhResult:
    """Every registered resource type, or one (4019 if unknown); any authenticated user may ask."""
    return WazuhResult({"data": catalog.rbac_resources(resource)})
