"""The ``security`` database: users, roles, policies, rules, their ordered links, token
invalidation rules and the security configuration.

Ids below 100 are reserved for Wazuh's defaults; AUTOINCREMENT (seeded at 99 by
:func:`wazuhd.rbac.defaults.ensure_defaults`) gives user-created rows 100 and up and never
reuses an id, so a token naming a deleted role or user can never match a new one.
"""

from __future__ import annotations

from wazuhd.store import Migration

DATABASE = "security"
MAX_ID_RESERVED = 99
WAZUH_WUI_USER_ID = 2

#: The security configuration and its defaults (Wazuh's security.yaml).
DEFAULT_CONFIG = {"auth_token_exp_timeout": 900, "rbac_mode": "white"}
RBAC_MODES = ("white", "black")

_TABLES = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    allow_run_as INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE roles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
CREATE TABLE policies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    policy TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
CREATE TABLE rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (user_id, role_id)
);
CREATE TABLE role_policies (
    role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    policy_id INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (role_id, policy_id)
);
CREATE TABLE role_rules (
    role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    rule_id INTEGER NOT NULL REFERENCES rules(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (role_id, rule_id)
);
CREATE INDEX role_policies_policy ON role_policies(policy_id);
CREATE INDEX user_roles_role ON user_roles(role_id);
CREATE INDEX role_rules_rule ON role_rules(rule_id);
-- "tokens issued before invalid_before are invalid": kind is 'user' or 'role' (subject = id),
-- 'run_as' (every authorization-context token) or 'all' (revoke everything); subject 0 for globals.
CREATE TABLE token_rules (
    kind TEXT NOT NULL CHECK (kind IN ('user', 'role', 'run_as', 'all')),
    subject INTEGER NOT NULL,
    invalid_before REAL NOT NULL,
    PRIMARY KEY (kind, subject)
);
CREATE TABLE config (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

MIGRATIONS: list[Migration] = [Migration(DATABASE, "security-0001-create-tables", sql=_TABLES)]
