"""RBAC end to end, over real HTTPS: Wazuh's default roles on the /security endpoints, lists
narrowed to what a caller may see, denied explicit targets as failed items, white and black
mode, and the protected default resources.

Nothing in this module revokes every token (the mode change runs on its own daemon), so the
tokens of the users made for each default role are shared by the tests.
"""

from __future__ import annotations

import pytest

from wazuhd.testing import assert_problem

PASSWORD = "Str0ng.Passw0rd"
DEFAULT_ROLES = {"administrator": 1, "readonly": 2, "users_admin": 3, "agents_readonly": 4,
                 "agents_admin": 5, "cluster_readonly": 6, "cluster_admin": 7}
SECURITY_ADMINS = {"administrator"}
USER_ADMINS = {"administrator", "users_admin"}


def ok(reply) -> dict:
    assert reply.status_code == 200, reply.text
    return reply.json()


def assert_denied(reply) -> None:
    """Wazuh's answer to a forbidden operation: 403, a problem object with error 4000."""
    body = assert_problem(reply, 403, 4000)
    assert body["title"] == "Permission Denied"
    assert body["detail"].startswith("Permission denied")
    assert "remediation" in body


def failed(body: dict) -> dict[int, list]:
    """failed_items as {error code: ids}."""
    return {group["error"]["code"]: group["id"] for group in body["data"]["failed_items"]}


def names(body: dict, key: str = "username") -> list:
    return [item[key] for item in body["data"]["affected_items"]]


def new_user(client, username: str, roles=()) -> int:
    body = ok(client.post("/security/users", json={"username": username, "password": PASSWORD}))
    user_id = body["data"]["affected_items"][0]["id"]
    if roles:
        ok(client.post(f"/security/users/{user_id}/roles",
                       params={"role_ids": ",".join(map(str, roles))}))
    return user_id


def new_role(client, name: str, *policies: dict) -> int:
    role_id = ok(client.post("/security/roles", json={"name": name}))["data"]["affected_items"][0]["id"]
    for index, policy in enumerate(policies):
        policy_id = ok(client.post("/security/policies", json={
            "name": f"{name}_{index}", "policy": policy}))["data"]["affected_items"][0]["id"]
        ok(client.post(f"/security/roles/{role_id}/policies", params={"policy_ids": str(policy_id)}))
    return role_id


def policy(actions, resources, effect="allow") -> dict:
    return {"actions": actions, "resources": resources, "effect": effect}


@pytest.fixture(scope="module")
def admin(api) -> str:
    return api.login()


@pytest.fixture(scope="module")
def as_role(api, admin):
    """role name -> a token of a user whose only role is that default role."""
    with api.client(admin) as client:
        for role, role_id in DEFAULT_ROLES.items():
            new_user(client, f"user_{role}", [role_id])
    return {role: api.login(f"user_{role}", PASSWORD) for role in DEFAULT_ROLES}


# -- each default role ----------------------------------------------------------------------


@pytest.mark.parametrize("role", DEFAULT_ROLES)
def test_default_role_on_security_endpoints(api, as_role, role):
    with api.client(as_role[role]) as client:
        users = ok(client.get("/security/users"))
        roles = ok(client.get("/security/roles"))
        config = client.get("/security/config")
        create_role = client.post("/security/roles", json={"name": f"made_by_{role}"})
        create_user = client.post("/security/users", json={"username": f"made_by_{role}",
                                                             "password": PASSWORD})
        me = ok(client.get("/security/users/me"))
        actions = client.get("/security/actions")

    # Every user sees itself and the catalog of actions, whatever its role.
    assert names(me) == [f"user_{role}"]
    assert [r["name"] for r in me["data"]["affected_items"][0]["roles"]] == [role]
    assert actions.status_code == 200
    # Lists show only what the role may read: everything, or nothing (no 403 for a list).
    if role in USER_ADMINS:
        assert {"wazuh", "wazuh-wui", f"user_{role}"} <= set(names(users))
        assert create_user.status_code == 200, create_user.text
    else:
        assert names(users) == [] and users["data"]["total_affected_items"] == 0
        assert_denied(create_user)
    if role in SECURITY_ADMINS:
        assert set(DEFAULT_ROLES) <= set(names(roles, "name"))
        assert ok(config)["data"]["rbac_mode"] == "white"
        assert create_role.status_code == 200, create_role.text
    else:
        assert names(roles, "name") == []
        assert_denied(config)
        assert_denied(create_role)


@pytest.mark.parametrize("role, allowed, refused", [
    ("readonly", ["agent:read", "group:read", "cluster:read", "rules:read", "mitre:read"],
     ["agent:delete", "security:read", "cluster:restart", "rules:update"]),
    ("users_admin", ["security:create_user", "security:read", "security:revoke"],
     ["security:create", "security:read_config", "agent:read"]),
    ("agents_readonly", ["agent:read", "group:read"], ["agent:delete", "security:read", "cluster:read"]),
    ("agents_admin", ["agent:read", "agent:delete", "agent:create", "group:update_config"],
     ["security:read", "cluster:read"]),
    ("cluster_readonly", ["cluster:read", "manager:read"], ["cluster:restart", "agent:read"]),
    ("cluster_admin", ["cluster:read", "cluster:restart", "manager:update_config"],
     ["agent:read", "security:read"]),
    ("administrator", ["agent:delete", "security:update_config", "cluster:restart", "logtest:run"], []),
])
def test_default_role_policies_as_the_user_sees_them(api, as_role, role, allowed, refused):
    with api.client(as_role[role]) as client:
        policies = ok(client.get("/security/users/me/policies"))["data"]
    assert policies["rbac_mode"] == "white"
    for action in allowed:
        assert "allow" in policies.get(action, {}).values(), action
    for action in refused:
        assert action not in policies, action


def test_users_admin_manages_users_but_not_roles(api, admin, as_role):
    with api.client(admin) as client:
        victim = new_user(client, "victim_of_users_admin")
    with api.client(as_role["users_admin"]) as client:
        ok(client.put(f"/security/users/{victim}/run_as", params={"allow_run_as": "true"}))
        assert_denied(client.put("/security/roles/3", json={"name": "renamed"}))
        assert_denied(client.delete("/security/roles", params={"role_ids": "3"}))
        deleted = ok(client.delete("/security/users", params={"user_ids": str(victim)}))
    assert names(deleted) == ["victim_of_users_admin"]
    with api.client(as_role["readonly"]) as client:
        assert_denied(client.delete("/security/users", params={"user_ids": "1"}))
        assert_denied(client.put("/security/users/1/run_as", params={"allow_run_as": "false"}))
        assert_denied(client.put("/security/user/revoke"))


# -- narrowed lists and explicit targets ------------------------------------------------------


def test_lists_and_explicit_ids_follow_resource_policies(api, admin):
    with api.client(admin) as client:
        alice = new_user(client, "alice_visible")
        bob = new_user(client, "bob_hidden")
        reader = new_role(client, "reads_alice_only",
                          policy(["security:read"], [f"user:id:{alice}"]))
        new_user(client, "narrow_reader", [reader])
        denier = new_role(client, "reads_all_but_bob",
                          policy(["security:read"], ["user:id:*"]),
                          policy(["security:read"], [f"user:id:{bob}"], "deny"))
        new_user(client, "wide_reader", [denier])
    with api.client(api.login("narrow_reader", PASSWORD)) as client:
        listed = ok(client.get("/security/users"))
        mixed = ok(client.get("/security/users", params={"user_ids": f"{alice},{bob}"}))
        only_bob = client.get("/security/users", params={"user_ids": str(bob)})
    assert names(listed) == ["alice_visible"]
    assert listed["data"]["total_affected_items"] == 1
    assert names(mixed) == ["alice_visible"]
    assert failed(mixed) == {4000: [bob]}
    assert mixed["data"]["total_failed_items"] == 1 and mixed["error"] == 2
    assert_denied(only_bob)

    with api.client(api.login("wide_reader", PASSWORD)) as client:
        listed = ok(client.get("/security/users"))
        mixed = ok(client.get("/security/users", params={"user_ids": f"1,{bob},{alice}"}))
    assert "bob_hidden" not in names(listed)
    assert {"wazuh", "alice_visible", "wide_reader"} <= set(names(listed))
    assert names(mixed) == ["wazuh", "alice_visible"]
    assert failed(mixed) == {4000: [bob]}


def test_delete_all_only_touches_what_the_caller_may_delete(api, admin):
    with api.client(admin) as client:
        keep = new_user(client, "kept_by_deny")
        gone = new_user(client, "gone_by_all")
        deleter = new_role(client, "deletes_all_but_one",
                           policy(["security:delete", "security:read"], ["user:id:*"]),
                           policy(["security:delete"], [f"user:id:{keep}"], "deny"))
        me = new_user(client, "the_deleter", [deleter])
    with api.client(api.login("the_deleter", PASSWORD)) as client:
        explicit = ok(client.delete("/security/users", params={"user_ids": f"{keep},{gone}"}))
        assert names(explicit) == ["gone_by_all"] and failed(explicit) == {4000: [keep]}
        everything = ok(client.delete("/security/users", params={"user_ids": "all"}))
        left = names(ok(client.get("/security/users")))
    assert "kept_by_deny" in left and "the_deleter" in left  # nobody deletes itself
    assert {"wazuh", "wazuh-wui"} <= set(left)               # defaults are protected
    assert me not in [u["id"] for u in everything["data"]["affected_items"]]
    assert everything["data"]["failed_items"] == []          # 'all' skips them silently


# -- protected defaults ----------------------------------------------------------------------


def test_default_resources_are_protected(api, admin):
    with api.client(admin) as client:
        policy_id = ok(client.post("/security/policies", json={
            "name": "protect_probe", "policy": policy(["security:read"], ["user:id:77"])}))[
            "data"]["affected_items"][0]["id"]
        answers = {
            5004: client.delete("/security/users", params={"user_ids": "1,2"}),
            4008: [
                client.delete("/security/roles", params={"role_ids": "1"}),
                client.delete("/security/policies", params={"policy_ids": "1"}),
                client.delete("/security/rules", params={"rule_ids": "1"}),
                client.put("/security/roles/2", json={"name": "readonly_renamed"}),
                client.put("/security/policies/1", json={"name": "renamed_policy"}),
                client.put("/security/rules/1", json={"name": "renamed_rule"}),
                client.post("/security/users/1/roles", params={"role_ids": "2"}),
                client.post("/security/roles/1/policies", params={"policy_ids": str(policy_id)}),
                client.delete("/security/roles/1/policies", params={"policy_ids": "1"}),
            ],
        }
        roles = names(ok(client.get("/security/roles")), "name")
        users = names(ok(client.get("/security/users")))
        wazuh_roles = ok(client.get("/security/users", params={"user_ids": "1"}))[
            "data"]["affected_items"][0]["roles"]
    deleted = ok(answers[5004])
    assert deleted["error"] == 1 and failed(deleted) == {5004: [1, 2]}
    for reply in answers[4008]:
        body = ok(reply)
        assert body["error"] == 1, (reply.request.url, body)
        assert 4008 in failed(body), (reply.request.url, body)
    assert set(DEFAULT_ROLES) <= set(roles)
    assert {"wazuh", "wazuh-wui"} <= set(users)
    assert wazuh_roles == [1]


def test_default_users_only_changed_by_default_users(api, admin):
    with api.client(admin) as client:
        new_user(client, "second_admin", [1])
    second = api.login("second_admin", PASSWORD)
    with api.client(second) as client:
        refused = client.put("/security/users/2", json={"password": "An0ther.Passw0rd"})
        self_delete = ok(client.delete("/security/users", params={
            "user_ids": str(ok(client.get("/security/users/me"))["data"]["affected_items"][0]["id"])}))
    assert 400 <= refused.status_code < 500 and refused.json()["error"] == 5011
    assert failed(self_delete) == {5008: [self_delete["data"]["failed_items"][0]["id"][0]]}
    assert api.login("wazuh-wui", "wazuh")  # the password did not change


# -- white and black mode --------------------------------------------------------------------


def test_black_mode_allows_what_no_policy_denies(api_factory):
    daemon = api_factory()
    admin = daemon.login()
    with daemon.client(admin) as client:
        new_user(client, "no_roles")
        denied_role = new_role(client, "deny_wazuh", policy(["security:read"], ["user:id:1"], "deny"))
        new_user(client, "denied_wazuh", [denied_role])
    plain, denier = daemon.login("no_roles", PASSWORD), daemon.login("denied_wazuh", PASSWORD)
    with daemon.client(plain) as client:
        assert names(ok(client.get("/security/users"))) == []
        assert_denied(client.get("/security/config"))

    with daemon.client(admin) as client:
        ok(client.put("/security/config", json={"rbac_mode": "black"}))
    plain, denier = daemon.login("no_roles", PASSWORD), daemon.login("denied_wazuh", PASSWORD)
    with daemon.client(plain) as client:
        assert {"wazuh", "no_roles"} <= set(names(ok(client.get("/security/users"))))
        assert ok(client.get("/security/config"))["data"]["rbac_mode"] == "black"
        assert ok(client.get("/security/users/me/policies"))["data"]["rbac_mode"] == "black"
    with daemon.client(denier) as client:
        listed = names(ok(client.get("/security/users")))
        assert "wazuh" not in listed and "wazuh-wui" in listed  # deny still holds in black mode
        assert_denied(client.get("/security/users", params={"user_ids": "1"}))

    with daemon.client(daemon.login()) as client:
        ok(client.delete("/security/config"))  # back to the default, white
    with daemon.client(daemon.login("no_roles", PASSWORD)) as client:
        assert names(ok(client.get("/security/users"))) == []
        assert_denied(client.get("/security/config"))


def test_the_last_role_wins_and_position_orders_roles(api, admin):
    """Roles are evaluated in link order and the later decision wins, as in Wazuh:
    [allow all, deny wazuh] hides wazuh; the same roles inserted as [deny, allow] do not."""
    with api.client(admin) as client:
        # (policy bodies are unique: this one differs from the other tests' allow-all)
        allow = new_role(client, "order_allow_all",
                         policy(["security:read"], ["user:id:*", "role:id:*"]))
        deny = new_role(client, "order_deny_wazuh", policy(["security:read"], ["user:id:1"], "deny"))
        new_user(client, "order_allow_deny", [allow, deny])
        later = new_user(client, "order_deny_allow", [allow])
        linked = ok(client.post(f"/security/users/{later}/roles",
                                params={"role_ids": str(deny), "position": "0"}))
    assert linked["data"]["affected_items"][0]["roles"] == [deny, allow]
    with api.client(api.login("order_allow_deny", PASSWORD)) as client:
        assert "wazuh" not in names(ok(client.get("/security/users")))
    with api.client(api.login("order_deny_allow", PASSWORD)) as client:
        assert "wazuh" in names(ok(client.get("/security/users")))
