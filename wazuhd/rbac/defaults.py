"""Wazuh's default RBAC resources (its ``rbac/default/*.yaml``), written out as data.

Ids follow Wazuh's: users, roles and rules numbered from 1 in file order; each policy group
(``agents_all``) expands into one policy per sub-policy named ``<group>_<sub>``
(``agents_all_resourceless``), numbered from 1 in file order; a role linked to a group gets its
sub-policies in order. Both default users get the password ``wazuh`` (change it after install).
"""

from __future__ import annotations

import json
import sqlite3
import time

from wazuhd.rbac.passwords import hash_password
from wazuhd.rbac.schema import DATABASE, DEFAULT_CONFIG, MAX_ID_RESERVED
from wazuhd.store import Database

DEFAULT_PASSWORD = "wazuh"

#: username -> (description, allow_run_as)
USERS = {
    "wazuh": ("Superuser of Wazuh.", True),
    "wazuh-wui": ("Superuser of Wazuh UI", True),
}

ROLES = {
    "administrator": "Administrator role of the system, this role have full access to the system.",
    "readonly": "Read only role, this role can read all the information of the system.",
    "users_admin": "Users administrator of the system, this role have full access to all users related "
                   "functionalities.",
    "agents_readonly": "Read only role for agents related functionalities.",
    "agents_admin": "Agents administrator of the system, this role have full access to all agents related "
                    "functionalities.",
    "cluster_readonly": "Read only role for manager related functionalities.",
    "cluster_admin": "Manager administrator of the system, this role have full access to all manager related "
                     "functionalities.",
}

RULES = {
    "wui_elastic_admin": ("Administrator permissions for WUI's Elastic users.", {"FIND": {"username": "elastic"}}),
    "wui_opensearch_admin": ("Administrator permissions for WUI's OpenSearch users.",
                             {"FIND": {"user_name": "admin"}}),
}

_ALL = ["*:*:*"]
_AGENTS = ["agent:id:*"]


def _p(actions: list[str], resources: list[str], effect: str = "allow") -> dict:
    return {"actions": actions, "resources": resources, "effect": effect}


#: group -> (description, {sub-policy name: policy}), in Wazuh's file order.
POLICIES = {
    "agents_all": ("Grant full access to all agents related functionalities.", {
        "resourceless": _p(["agent:create", "group:create", "agent:uninstall"], _ALL),
        "agents": _p(["agent:read", "agent:delete", "agent:modify_group", "agent:reconnect", "agent:restart",
                      "agent:upgrade"], ["agent:id:*", "agent:group:*"]),
        "groups": _p(["group:read", "group:delete", "group:update_config", "group:modify_assignments"],
                     ["group:id:*"]),
    }),
    "agents_read": ("Grant read access to all agents related functionalities.", {
        "agents": _p(["agent:read"], ["agent:id:*", "agent:group:*"]),
        "groups": _p(["group:read"], ["group:id:*"]),
    }),
    "agents_commands": ("Allow sending commands to agents.", {
        "agents": _p(["active-response:command"], _AGENTS),
    }),
    "security_all": ("Provide full access to all security related functionalities.", {
        "resourceless": _p(["security:create", "security:create_user", "security:read_config",
                            "security:update_config", "security:revoke", "security:edit_run_as"], _ALL),
        "security": _p(["security:read", "security:update", "security:delete"],
                       ["role:id:*", "policy:id:*", "user:id:*", "rule:id:*"]),
    }),
    "users_all": ("Provide full access to all users related functionalities.", {
        "resourceless": _p(["security:create_user", "security:revoke", "security:edit_run_as"], _ALL),
        "users": _p(["security:read", "security:update", "security:delete"], ["user:id:*"]),
    }),
    "users_modify_run_as": ("Allow changing the allow_run_as value of the users.", {
        "flag": _p(["security:edit_run_as"], _ALL),
    }),
    "ciscat_read": ("Allow read agent's ciscat results information.", {"ciscat": _p(["ciscat:read"], _AGENTS)}),
    "decoders_read": ("Allow reading all decoder files in the system.", {
        "decoders": _p(["decoders:read"], ["decoder:file:*"]),
    }),
    "decoders_all": ("Allow managing all decoder files in the system.", {
        "files": _p(["decoders:read", "decoders:delete"], ["decoder:file:*"]),
        "resourceless": _p(["decoders:update"], _ALL),
    }),
    "mitre_read": ("Allow read MITRE database information.", {"mitre": _p(["mitre:read"], _ALL)}),
    "lists_read": ("Allow reading all lists paths in the system.", {"rules": _p(["lists:read"], ["list:file:*"])}),
    "lists_all": ("Allow managing all CDB lists files in the system.", {
        "rules": _p(["lists:read", "lists:delete"], ["list:file:*"]),
        "resourceless": _p(["lists:update"], _ALL),
    }),
    "rootcheck_read": ("Allow read rootcheck information.", {"rootcheck": _p(["rootcheck:read"], _AGENTS)}),
    "rootcheck_all": ("Allow read, run and clear rootcheck information.", {
        "rootcheck": _p(["rootcheck:clear", "rootcheck:read", "rootcheck:run"], _AGENTS),
    }),
    "rules_read": ("Allow reading all rule files in the system.", {"rules": _p(["rules:read"], ["rule:file:*"])}),
    "rules_all": ("Allow managing all rule files in the system.", {
        "files": _p(["rules:read", "rules:delete"], ["rule:file:*"]),
        "resourceless": _p(["rules:update"], _ALL),
    }),
    "sca_read": ("Allow read agent's sca information.", {"sca": _p(["sca:read"], _AGENTS)}),
    "syscheck_read": ("Allow read syscheck information", {"syscheck": _p(["syscheck:read"], _AGENTS)}),
    "syscheck_all": ("Allow read, run and clear syscheck information", {
        "syscheck": _p(["syscheck:clear", "syscheck:read", "syscheck:run"], _AGENTS),
    }),
    "syscollector_read": ("Allow read agents information", {"syscollector": _p(["syscollector:read"], _AGENTS)}),
    "cluster_all": ("Provide full access to all cluster/manager related functionalities.", {
        "resourceless": _p(["cluster:status", "manager:read", "manager:read_api_config", "manager:update_config",
                            "manager:restart"], _ALL),
        "nodes": _p(["cluster:read_api_config", "cluster:read", "cluster:restart", "cluster:update_config"],
                    ["node:id:*"]),
    }),
    "cluster_read": ("Provide read access to all cluster/manager related functionalities.", {
        "resourceless": _p(["cluster:status", "manager:read", "manager:read_api_config"], _ALL),
        "nodes": _p(["cluster:read_api_config", "cluster:read", "cluster:read_api_config"], ["node:id:*"]),
    }),
    "logtest_all": ("Provide access to all logtest related functionalities.", {"logtest": _p(["logtest:run"], _ALL)}),
    "task_status": ("Provide permissions to check the status of tasks", {"task": _p(["task:status"], _ALL)}),
    "events_ingest": ("Allow ingesting events.", {"resourceless": _p(["event:ingest"], _ALL)}),
}

#: user -> role names; role -> (policy groups, rule names), in Wazuh's order.
USER_ROLES = {"wazuh": ["administrator"], "wazuh-wui": ["administrator"]}
ROLE_LINKS = {
    "administrator": (["agents_all", "agents_commands", "security_all", "cluster_all", "ciscat_read",
                       "decoders_all", "lists_all", "rootcheck_all", "rules_all", "mitre_read", "sca_read",
                       "syscheck_all", "syscollector_read", "logtest_all", "task_status", "events_ingest"],
                      ["wui_elastic_admin", "wui_opensearch_admin"]),
    "readonly": (["agents_read", "ciscat_read", "cluster_read", "decoders_read", "lists_read", "rootcheck_read",
                  "rules_read", "mitre_read", "sca_read", "syscheck_read", "syscollector_read"], []),
    "users_admin": (["users_all"], []),
    "agents_readonly": (["agents_read"], []),
    "agents_admin": (["agents_all"], []),
    "cluster_readonly": (["cluster_read"], []),
    "cluster_admin": (["cluster_all"], []),
}


def _ids(names) -> dict[str, int]:
    return {name: number for number, name in enumerate(names, start=1)}


USER_IDS = _ids(USERS)
ROLE_IDS = _ids(ROLES)
RULE_IDS = _ids(RULES)
POLICY_IDS = _ids(f"{group}_{sub}" for group, (_, subs) in POLICIES.items() for sub in subs)
POLICY_BODIES = {f"{group}_{sub}": body for group, (_, subs) in POLICIES.items() for sub, body in subs.items()}


def policy_json(policy: dict) -> str:
    """The stored form of a policy: fixed key order, so equal policies store equal text."""
    return json.dumps({"actions": policy["actions"], "resources": policy["resources"],
                       "effect": policy["effect"]})


def rule_json(rule: dict) -> str:
    return json.dumps(rule, sort_keys=True)


def _insert(conn: sqlite3.Connection, hashes: dict[str, str]) -> int:
    """Insert whatever default row or link is missing; return how many rows were added."""
    now, added = time.time(), 0

    def run(sql: str, params: tuple) -> None:
        nonlocal added
        added += conn.execute(sql, params).rowcount

    for name, (_, run_as) in USERS.items():
        if name in hashes:
            run("INSERT OR IGNORE INTO users (id, username, password, allow_run_as, created_at)"
                " VALUES (?, ?, ?, ?, ?)", (USER_IDS[name], name, hashes[name], int(run_as), now))
    for name in ROLES:
        run("INSERT OR IGNORE INTO roles (id, name, created_at) VALUES (?, ?, ?)", (ROLE_IDS[name], name, now))
    for name, (_, rule) in RULES.items():
        run("INSERT OR IGNORE INTO rules (id, name, rule, created_at) VALUES (?, ?, ?, ?)",
            (RULE_IDS[name], name, rule_json(rule), now))
    for name, body in POLICY_BODIES.items():
        run("INSERT OR IGNORE INTO policies (id, name, policy, created_at) VALUES (?, ?, ?, ?)",
            (POLICY_IDS[name], name, policy_json(body), now))
    for user, roles in USER_ROLES.items():
        for position, role in enumerate(roles):
            run("INSERT OR IGNORE INTO user_roles (user_id, role_id, position, created_at) VALUES (?, ?, ?, ?)",
                (USER_IDS[user], ROLE_IDS[role], position, now))
    for role, (groups, rules) in ROLE_LINKS.items():
        names = [f"{group}_{sub}" for group in groups for sub in POLICIES[group][1]]
        for position, name in enumerate(names):
            run("INSERT OR IGNORE INTO role_policies (role_id, policy_id, position, created_at)"
                " VALUES (?, ?, ?, ?)", (ROLE_IDS[role], POLICY_IDS[name], position, now))
        for position, name in enumerate(rules):
            run("INSERT OR IGNORE INTO role_rules (role_id, rule_id, position, created_at) VALUES (?, ?, ?, ?)",
                (ROLE_IDS[role], RULE_IDS[name], position, now))
    for key, value in DEFAULT_CONFIG.items():
        run("INSERT OR IGNORE INTO config (key, value) VALUES (?, ?)", (key, json.dumps(value)))
    for table in ("users", "roles", "policies", "rules"):
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ? AND seq < ?",
                     (MAX_ID_RESERVED, table, MAX_ID_RESERVED))
    return added


def ensure_defaults(db: Database) -> int:
    """Create Wazuh's default users, roles, policies, rules, links and config where missing.

    Idempotent: run at every start; existing rows (and changed passwords) are kept. Returns the
    number of rows added (0 once everything exists). ``db`` is the ``security`` database.
    """
    if not db.path.name.startswith(DATABASE):
        raise ValueError(f"ensure_defaults needs the {DATABASE!r} database, not {db.path.name}")
    present = {row["username"] for row in db.fetchall_sync("SELECT username FROM users WHERE id <= ?",
                                                           (MAX_ID_RESERVED,))}
    hashes = {name: hash_password(DEFAULT_PASSWORD) for name in USERS if name not in present}
    return db.write_sync(lambda conn: _insert(conn, hashes))
