"""The /security operations: users, passwords, me, links, config, catalog, token invalidation."""

from __future__ import annotations

import time

import pytest

from wazuhd.errors import WazuhError, WazuhPermissionError, WazuhResourceNotFound
from wazuhd.rbac import (AuthenticationFailed, RbacAction, RbacContext, RbacResource, authenticate,
                         load_context, login_roles, register, register_actions, token_valid)
from wazuhd.rbac import admin, links, roles, users

PASSWORD = "Secret-123"


async def as_user(db, user_id: int):
    return await load_context(db, user_id, await login_roles(db, user_id))


async def new_user(db, name: str, *role_ids: int) -> int:
    wazuh = await as_user(db, 1)
    user_id = (await users.create_user(wazuh, db=db, username=name, password=PASSWORD)).affected_items[0]["id"]
    if role_ids:
        await users.set_user_role(wazuh, user_id, list(role_ids), db=db)
    return user_id


def codes(result) -> list[int]:
    return [group["error"]["code"] for group in result.render()["data"]["failed_items"]]


@pytest.mark.parametrize(("password", "code"), [("Sh0rt!", 5009), ("x" * 60 + "Aa1!x", 5009),
                                                ("nouppercase1!", 5007), ("NoDigits!!", 5007),
                                                ("NoSymbol123", 5007), ("NOLOWER123!", 5007)])
async def test_password_policy(db, password, code):
    wazuh = await as_user(db, 1)
    with pytest.raises(WazuhError) as error:
        await users.create_user(wazuh, db=db, username="weak", password=password)
    assert error.value.code == code


async def test_authenticate(db):
    assert await authenticate(db, "wazuh", "wazuh") == {"id": 1, "username": "wazuh", "allow_run_as": True,
                                                        "roles": [1]}
    for username, password in [("wazuh", "wrong"), ("nobody", "wazuh"), ("wazuh", "")]:
        with pytest.raises(AuthenticationFailed):
            await authenticate(db, username, password)


async def test_create_update_delete_users(db):
    wazuh = await as_user(db, 1)
    created = await users.create_user(wazuh, db=db, username="alice", password=PASSWORD)
    assert created.render()["data"]["affected_items"] == [{"id": 100, "username": "alice", "allow_run_as": False,
                                                           "roles": []}]
    assert codes(await users.create_user(wazuh, db=db, username="alice", password=PASSWORD)) == [5000]
    with pytest.raises(WazuhError) as empty:
        await users.update_user(wazuh, 100, db=db)
    assert empty.value.code == 4001
    updated = await users.update_user(wazuh, 100, db=db, password="Other-456")
    assert updated.render()["message"] == "User was successfully updated"
    assert (await authenticate(db, "alice", "Other-456"))["id"] == 100
    flag = await users.edit_run_as(wazuh, 100, True, db=db)
    assert flag.render()["message"] == "Parameter allow_run_as has been enabled for the user"
    assert codes(await users.edit_run_as(wazuh, 100, "yes", db=db)) == [5010]
    alice = await as_user(db, 100)
    with pytest.raises(WazuhError) as not_default:
        await users.update_user(await load_context(db, 100, [1]), 1, db=db, password="Other-456")
    assert not_default.value.code == 5011
    await users.update_user(wazuh, 2, db=db, password="Other-456")   # a default user may change another
    deleted = await users.remove_users(await load_context(db, 100, [1]), [100, 999], db=db)
    assert codes(deleted) == [5001, 5008] and deleted.total_affected_items == 0
    deleted = await users.remove_users(wazuh, [100], db=db)
    assert deleted.render()["message"] == "Users were successfully deleted"
    assert alice.user_id == 100


async def test_list_users_with_the_query_language(db):
    wazuh = await as_user(db, 1)
    for name in ("carol", "dave", "erin"):
        await new_user(db, name, 2)
    page = await users.get_users(wazuh, db=db, q="roles=2;username~a", sort="-username", select="username")
    assert page.render()["data"]["affected_items"] == [{"id": 101, "username": "dave"},
                                                       {"id": 100, "username": "carol"}]
    page = await users.get_users(wazuh, db=db, offset=1, limit=2, search="wazuh")
    assert [u["username"] for u in page.affected_items] == ["wazuh-wui"] and page.total_affected_items == 2
    explicit = await users.get_users(wazuh, ["1", "999", "x"], db=db)
    assert codes(explicit) == [5001] and explicit.render()["message"] == "Some users were not returned"
    assert explicit.render()["data"]["failed_items"][0]["id"] == [999, "x"]
    with pytest.raises(WazuhError) as bad_q:
        await users.get_users(wazuh, db=db, q="username==x")
    assert bad_q.value.code == 1409


async def test_lists_only_show_what_the_caller_may_read(db):
    wazuh = await as_user(db, 1)
    policy = (await roles.add_policy(wazuh, db=db, name="read_some_users", policy={
        "actions": ["security:read"], "resources": ["user:id:1", "user:id:100"], "effect": "allow"})).affected_items[0]
    role = (await roles.add_role(wazuh, db=db, name="some_users")).affected_items[0]
    await links.set_role_policy(wazuh, role["id"], [policy["id"]], db=db)
    reader = await new_user(db, "reader", role["id"])
    ctx = await as_user(db, reader)
    assert [u["id"] for u in (await users.get_users(ctx, db=db)).affected_items] == [1, 100]
    partial = await users.get_users(ctx, [1, 2], db=db)
    assert [u["id"] for u in partial.affected_items] == [1] and codes(partial) == [4000]
    with pytest.raises(WazuhPermissionError):
        await users.get_users(ctx, [2], db=db)
    assert (await roles.get_roles(ctx, db=db)).affected_items == []
    with pytest.raises(WazuhPermissionError):
        await roles.add_role(ctx, db=db, name="nope")


async def test_me_and_my_policies(db):
    wazuh = await as_user(db, 1)
    me = (await users.get_user_me(wazuh, db=db)).render()
    assert me["message"] == "Current user information was returned"
    role = me["data"]["affected_items"][0]["roles"][0]
    assert role["id"] == 1 and role["name"] == "administrator" and "users" not in role
    assert role["policies"][0] == {"id": 1, "name": "agents_all_resourceless", "policy": {
        "actions": ["agent:create", "group:create", "agent:uninstall"], "resources": ["*:*:*"], "effect": "allow"}}
    assert [rule["name"] for rule in role["rules"]] == ["wui_elastic_admin", "wui_opensearch_admin"]
    mine = (await admin.get_user_me_policies(await load_context(db, 1, [4]))).render()
    assert mine == {"data": {"agent:read": {"agent:id:*": "allow", "agent:group:*": "allow"},
                             "group:read": {"group:id:*": "allow"}, "rbac_mode": "white"},
                    "message": "Current user processed policies information was returned", "error": 0}


async def test_roles_policies_rules_crud(db):
    wazuh = await as_user(db, 1)
    assert codes(await roles.add_role(wazuh, db=db, name="administrator")) == [4005]
    assert codes(await roles.add_policy(wazuh, db=db, name="p", policy={"actions": ["agent:read"]})) == [4006]
    same_body = {"actions": ["agent:create", "group:create", "agent:uninstall"], "resources": ["*:*:*"],
                 "effect": "allow"}
    assert codes(await roles.add_policy(wazuh, db=db, name="copy", policy=same_body)) == [4009]
    policy = (await roles.add_policy(wazuh, db=db, name="p1", policy={
        "actions": ["agent:read"], "resources": ["agent:id:001"], "effect": "deny"})).affected_items[0]
    assert policy == {"id": 100, "name": "p1", "policy": {"actions": ["agent:read"], "resources": ["agent:id:001"],
                                                          "effect": "deny"}, "roles": []}
    assert codes(await roles.update_policy(wazuh, 100, db=db, name="agents_all_agents")) == [4013]
    assert codes(await roles.add_rule(wazuh, db=db, name="r", rule={"BAD": {}})) == [4003]
    rule = (await roles.add_rule(wazuh, db=db, name="r1", rule={"MATCH": {"a": "b"}})).affected_items[0]
    assert rule == {"id": 100, "name": "r1", "rule": {"MATCH": {"a": "b"}}, "roles": []}
    updated = await roles.update_rule(wazuh, 100, db=db, rule={"FIND": {"a": "c"}})
    assert updated.affected_items[0]["rule"] == {"FIND": {"a": "c"}}
    missing = await roles.get_policies(wazuh, [100, 555], db=db)
    assert codes(missing) == [4007]
    assert codes(await roles.remove_rules(wazuh, [555], db=db)) == [4022]
    assert (await roles.remove_policies(wazuh, [100], db=db)).render()["message"] == \
        "All specified policies were deleted"


async def test_links_keep_their_positions(db):
    wazuh = await as_user(db, 1)
    role = (await roles.add_role(wazuh, db=db, name="ordered")).affected_items[0]["id"]
    linked = await links.set_role_policy(wazuh, role, [4, 5], db=db)
    assert linked.render()["message"] == f"All policies were linked to role {role}" and linked.total_affected_items == 2
    await links.set_role_policy(wazuh, role, [12, 13], db=db, position=1)
    again = await links.set_role_policy(wazuh, role, [4, 999], db=db)
    assert codes(again) == [4007, 4011]
    assert (await roles.get_roles(wazuh, [role], db=db)).affected_items[0]["policies"] == [4, 12, 13, 5]
    with pytest.raises(WazuhError) as negative:
        await links.set_role_policy(wazuh, role, [16], db=db, position=-1)
    assert negative.value.code == 4018
    removed = await links.remove_role_policy(wazuh, role, [12, 16], db=db)
    assert codes(removed) == [4010] and removed.affected_items[0]["policies"] == [4, 13, 5]
    with pytest.raises(WazuhResourceNotFound):
        await links.remove_role_policy(wazuh, 555, [4], db=db)
    assert codes(await links.set_role_rule(wazuh, role, [1, 1], db=db))[:0] == []
    assert codes(await links.set_role_rule(wazuh, role, [1], db=db)) == [4023]
    assert codes(await links.remove_role_rule(wazuh, role, [2], db=db)) == [4024]
    user = await new_user(db, "linked", role)
    assert codes(await users.set_user_role(wazuh, user, [role, 999], db=db)) == [4002, 4017]
    assert codes(await users.remove_user_role(wazuh, user, [2], db=db)) == [4016]
    with pytest.raises(WazuhResourceNotFound):
        await users.remove_user_role(wazuh, 555, [2], db=db)


async def test_security_config(db):
    wazuh = await as_user(db, 1)
    assert (await admin.get_security_config(wazuh, db=db)).render() == {
        "data": {"auth_token_exp_timeout": 900, "rbac_mode": "white"}, "error": 0}
    for bad, code in [({}, 4001), ({"rbac_mode": "grey"}, 4021), ({"auth_token_exp_timeout": 5}, 4021),
                      ({"other": 1}, 4021)]:
        with pytest.raises(WazuhError) as error:
            await admin.update_security_config(wazuh, db=db, config=bad)
        assert error.value.code == code
    done = await admin.update_security_config(wazuh, db=db, config={"rbac_mode": "black"})
    assert done.render() == {"message": "Configuration was successfully updated", "error": 0}
    nobody = await load_context(db, 1, [])
    assert nobody.mode == "black" and nobody.allowed("agent:read", "agent:id:001")
    await admin.restore_security_config(wazuh, db=db)
    assert (await load_context(db, 1, [])).mode == "white"
    with pytest.raises(WazuhPermissionError):
        await admin.get_security_config(await load_context(db, 1, [4]), db=db)


async def test_actions_and_resources_catalog():
    # a name no real plugin uses: the registry is shared by the whole process
    register([RbacAction("rbactest:read", "Read test things", ["agent:id", "rbactest:id"], ["GET /rbactest"]),
              RbacResource("rbactest:id", "Test things by id")])
    actions = (await admin.get_rbac_actions()).render()["data"]
    assert actions["rbactest:read"]["resources"] == ["agent:id", "rbactest:id"]
    assert actions["security:revoke"] == {
        "description": "Revoke all active JWT tokens", "resources": ["*:*"],
        "example": {"actions": ["security:revoke"], "resources": ["*:*:*"], "effect": "allow"},
        "related_endpoints": ["PUT /security/user/revoke"]}
    only = (await admin.get_rbac_actions(endpoint="GET /rbactest")).render()["data"]
    assert list(only) == ["rbactest:read"]
    with pytest.raises(WazuhError) as unknown:
        await admin.get_rbac_actions(endpoint="GET /nowhere")
    assert unknown.value.code == 4020
    resources = (await admin.get_rbac_resources(resource="agent:group")).render()["data"]
    assert resources == {"agent:group": {"description": "Reference agents via group name (i.e. agent:group:web)"}}
    with pytest.raises(WazuhError) as bad:
        await admin.get_rbac_resources(resource="nothing:here")
    assert bad.value.code == 4019
    with pytest.raises(ValueError):
        register_actions(RbacAction("x:y", "unknown resource type", ["nothing:here"]))


async def test_an_action_two_plugins_guard_lists_both_endpoints():
    register_actions(RbacAction("rbacshared:read", "Read shared things", ["*:*"], ["GET /one"]))
    register_actions(RbacAction("rbacshared:read", "Read shared things", ["*:*"], ["GET /two"]))
    for endpoint in ("GET /one", "GET /two"):
        found = (await admin.get_rbac_actions(endpoint=endpoint)).render()["data"]
        assert found["rbacshared:read"]["related_endpoints"] == ["GET /one", "GET /two"]
    with pytest.raises(ValueError, match="already registered differently"):
        register_actions(RbacAction("rbacshared:read", "Something else", ["*:*"], ["GET /three"]))


# -- token invalidation ---------------------------------------------------------------------
async def test_changes_invalidate_earlier_tokens(db):
    wazuh = await as_user(db, 1)
    role = (await roles.add_role(wazuh, db=db, name="tokens")).affected_items[0]["id"]
    user = await new_user(db, "holder", role)
    other = await new_user(db, "bystander", 2)

    async def changed(change) -> tuple[bool, bool, bool]:
        """(old token of user still valid, new token valid, the bystander's old token valid)"""
        roles_now = await login_roles(db, user)
        before = time.time()
        await change()
        roles_after = await login_roles(db, user)
        return (await token_valid(db, user, roles_now, before),
                await token_valid(db, user, roles_after, time.time()),
                await token_valid(db, other, [2], before))

    policy = (await roles.add_policy(wazuh, db=db, name="tp", policy={
        "actions": ["agent:read"], "resources": ["agent:id:1"], "effect": "allow"})).affected_items[0]["id"]
    for change in [lambda: users.update_user(wazuh, user, db=db, password="Changed-1"),
                   lambda: users.edit_run_as(wazuh, user, True, db=db),
                   lambda: links.set_role_policy(wazuh, role, [policy], db=db),
                   lambda: roles.update_policy(wazuh, policy, db=db, name="tp2"),
                   lambda: roles.update_role(wazuh, role, db=db, name="tokens2"),
                   lambda: links.remove_role_policy(wazuh, role, [policy], db=db),
                   lambda: users.set_user_role(wazuh, user, [3], db=db),
                   lambda: users.remove_user_role(wazuh, user, [3], db=db),
                   lambda: admin.logout(RbacContext({}, user_id=user, username="holder"), db=db)]:
        assert await changed(change) == (False, True, True)
    assert await changed(lambda: admin.revoke_tokens(wazuh, db=db)) == (False, True, False)
    assert await changed(lambda: admin.update_security_config(wazuh, db=db, config={"rbac_mode": "white"})) == \
        (False, True, False)
    assert await changed(lambda: roles.remove_roles(wazuh, [role], db=db)) == (False, True, True)
    assert await token_valid(db, user, [], time.time() + 1)
    assert not await token_valid(db, user, [2], time.time() + 1), "roles must be the user's roles"
    await users.remove_users(wazuh, [user], db=db)
    assert not await token_valid(db, user, [], time.time() + 1), "deleted users have no valid token"


async def test_rule_changes_invalidate_run_as_tokens(db):
    wazuh = await as_user(db, 1)
    rule = (await roles.add_rule(wazuh, db=db, name="ctx", rule={"MATCH": {"team": "x"}})).affected_items[0]["id"]
    before = time.time() - 0.5
    assert await token_valid(db, 2, [1], before, run_as=True)
    await roles.update_rule(wazuh, rule, db=db, rule={"MATCH": {"team": "y"}})
    assert not await token_valid(db, 2, [1], before, run_as=True)
    assert await token_valid(db, 2, [1], before), "normal logins are not affected"
    assert await token_valid(db, 2, [1], time.time() + 0.5, run_as=True)


async def test_unlinking_all_only_touches_what_the_caller_may_delete(db):
    wazuh = await as_user(db, 1)
    role = (await roles.add_role(wazuh, db=db, name="mine")).affected_items[0]["id"]
    user = await new_user(db, "many_roles", role, 2)
    policy = (await roles.add_policy(wazuh, db=db, name="delete_some", policy={
        "actions": ["security:delete"], "resources": ["user:id:*", f"role:id:{role}"], "effect": "allow"}))
    limited = (await roles.add_role(wazuh, db=db, name="limited")).affected_items[0]["id"]
    await links.set_role_policy(wazuh, limited, [policy.affected_items[0]["id"]], db=db)
    ctx = await load_context(db, 1, [limited])
    removed = await users.remove_user_role(ctx, user, "all", db=db)
    assert removed.affected_items[0]["roles"] == [2] and removed.total_failed_items == 0
    await links.set_role_policy(wazuh, role, [4, 5], db=db)
    unlinked = await links.remove_role_policy(wazuh, role, "all", db=db)
    assert unlinked.affected_items[0]["policies"] == [] and unlinked.total_affected_items == 2


async def test_whole_second_tokens_follow_wazuh(db):
    wazuh = await as_user(db, 1)
    user = await new_user(db, "seconds")
    await users.update_user(wazuh, user, db=db, password="Changed-1")
    changed_at = db.fetchall_sync("SELECT invalid_before FROM token_rules WHERE kind = 'user' AND subject = ?",
                                  (user,))[0]["invalid_before"]
    assert await token_valid(db, user, [], int(changed_at)), "a login in the second of the change still works"
    assert not await token_valid(db, user, [], int(changed_at) - 1)
    assert not await token_valid(db, user, [], changed_at - 0.001)
