"""Wazuh's default RBAC resources: created once, equal to Wazuh's YAML files, protected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wazuhd.rbac import RbacContext, ensure_defaults, load_context
from wazuhd.rbac import defaults, links, roles, users

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "wazuh-api" / "rbac-default"


async def admin(db) -> RbacContext:
    return await load_context(db, 1, [1])


def _yaml(name: str) -> dict:
    if not SHARED.is_dir():
        pytest.skip(f"Wazuh's default RBAC files are not at {SHARED} (the ../shared reference checkout)")
    with open(SHARED / f"{name}.yaml") as stream:
        return next(iter(yaml.safe_load(stream).values()))


def test_defaults_are_created_once(db):
    assert ensure_defaults(db) == 0
    counts = {table: db.fetchall_sync(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]
              for table in ("users", "roles", "policies", "rules", "user_roles", "role_rules")}
    assert counts == {"users": 2, "roles": 7, "policies": 35, "rules": 2, "user_roles": 2, "role_rules": 2}


def test_defaults_recreate_what_is_missing(db):
    db.execute_sync("DELETE FROM role_rules")
    assert ensure_defaults(db) == 2
    assert ensure_defaults(db) == 0


def test_default_ids_are_wazuhs(db):
    assert db.fetchall_sync("SELECT id, username, allow_run_as FROM users ORDER BY id") == [
        {"id": 1, "username": "wazuh", "allow_run_as": 1}, {"id": 2, "username": "wazuh-wui", "allow_run_as": 1}]
    assert [r["name"] for r in db.fetchall_sync("SELECT name FROM roles ORDER BY id")] == [
        "administrator", "readonly", "users_admin", "agents_readonly", "agents_admin", "cluster_readonly",
        "cluster_admin"]
    policy = {r["name"]: r["id"] for r in db.fetchall_sync("SELECT id, name FROM policies")}
    assert policy["agents_all_resourceless"] == 1 and policy["events_ingest_resourceless"] == 35
    # Wazuh's spec lists the administrator's policies in this order.
    admin_policies = [r["policy_id"] for r in db.fetchall_sync(
        "SELECT policy_id FROM role_policies WHERE role_id = 1 ORDER BY position")]
    assert admin_policies == [1, 2, 3, 6, 7, 8, 29, 30, 12, 14, 15, 18, 19, 21, 23, 24, 16, 25, 27, 28, 33, 34, 35]


def test_defaults_equal_wazuh_yaml():
    assert {name: {"description": d, "allow_run_as": run_as} for name, (d, run_as) in defaults.USERS.items()} == {
        name: {"description": u["description"], "allow_run_as": u["allow_run_as"]}
        for name, u in _yaml("users").items()}
    assert defaults.ROLES == {name: r["description"] for name, r in _yaml("roles").items()}
    assert {name: {"description": d, "rule": rule} for name, (d, rule) in defaults.RULES.items()} == _yaml("rules")
    wazuh_policies = _yaml("policies")
    assert list(defaults.POLICIES) == list(wazuh_policies)
    for name, (description, subs) in defaults.POLICIES.items():
        assert description == wazuh_policies[name]["description"]
        assert list(subs.items()) == list(wazuh_policies[name]["policies"].items()), name
    relationships = _yaml("relationships")
    assert defaults.USER_ROLES == {u: r["role_ids"] for u, r in relationships["users"].items()}
    assert defaults.ROLE_LINKS == {role: (r["policy_ids"], r["rule_ids"]) for role, r in relationships["roles"].items()}


def test_default_passwords_are_hashed(db):
    rows = db.fetchall_sync("SELECT password FROM users")
    assert all(r["password"].startswith("scrypt$") and "wazuh" not in r["password"] for r in rows)


async def test_user_created_ids_start_at_100(db):
    ctx = await admin(db)
    created = await users.create_user(ctx, db=db, username="alice", password="Secret-123")
    assert created.affected_items[0]["id"] == 100
    role = await roles.add_role(ctx, db=db, name="custom")
    assert role.affected_items[0]["id"] == 100
    removed = await users.remove_users(ctx, [100], db=db)
    assert removed.total_affected_items == 1
    again = await users.create_user(ctx, db=db, username="bob", password="Secret-123")
    assert again.affected_items[0]["id"] == 101, "ids are never reused"


async def test_default_records_are_protected(db):
    ctx = await admin(db)
    for result, code in [
        (await roles.remove_roles(ctx, [1], db=db), 4008),
        (await roles.update_role(ctx, 2, db=db, name="renamed"), 4008),
        (await roles.remove_policies(ctx, [1], db=db), 4008),
        (await roles.update_policy(ctx, 1, db=db, name="renamed"), 4008),
        (await roles.remove_rules(ctx, [1], db=db), 4008),
        (await roles.update_rule(ctx, 1, db=db, name="renamed"), 4008),
        (await users.remove_users(ctx, [1, 2], db=db), 5004),
        (await links.set_role_policy(ctx, 2, [1], db=db), 4008),
        (await links.remove_role_policy(ctx, 1, [1], db=db), 4008),
        (await links.set_role_rule(ctx, 1, [1], db=db), 4008),
        (await users.set_user_role(ctx, 1, [2], db=db), 4008),
        (await users.remove_user_role(ctx, 2, [1], db=db), 4008),
    ]:
        rendered = result.render()
        assert rendered["error"] == 1 and rendered["data"]["failed_items"][0]["error"]["code"] == code, rendered
    assert ensure_defaults(db) == 0, "nothing default was lost"


async def test_bulk_delete_all_skips_defaults_silently(db):
    ctx = await admin(db)
    await roles.add_role(ctx, db=db, name="custom")
    result = await roles.remove_roles(ctx, "all", db=db)
    assert [r["name"] for r in result.affected_items] == ["custom"]
    assert result.render()["error"] == 0 and result.total_failed_items == 0
