"""Authorization-context rules (MATCH, MATCH$, FIND, FIND$, AND, OR, NOT) and run_as logins."""

from __future__ import annotations

import pytest

from wazuhd.errors import WazuhError, WazuhPermissionError
from wazuhd.rbac import load_context, login_roles
from wazuhd.rbac import links, roles, users
from wazuhd.rbac.authcontext import rule_matches, validate_rule

# The context of Wazuh's documentation, and its examples.
CONTEXT = {"name": "Initial_auth", "auth": {"name": "Wazuh", "office": ["20", "21", "30"]}}

DOCUMENTED = [
    ({"MATCH": {"auth": {"office": "20"}}}, True),
    ({"MATCH$": {"auth": {"office": "20"}}}, False),
    ({"MATCH$": {"auth": {"office": ["20", "21", "30"]}}}, True),
    ({"MATCH$": {"auth": {"office": ["30", "20", "21"]}}}, True),
    ({"FIND": {"office": "20"}}, True),
    ({"FIND$": {"name": "Wazuh", "office": ["20", "21", "30"]}}, True),
    ({"FIND$": {"office": ["20", "30"]}}, False),
    ({"AND": [{"MATCH$": {"name": "r'.+'"}}, {"FIND": {"auth": {"office": "20"}}}]}, True),
    ({"OR": [{"MATCH$": {"name": "NameNotFound"}},
             {"FIND$": {"auth": {"name": "Wazuh", "office": ["20", "21", "30"]}}}]}, True),
    ({"NOT": {"OR": [{"MATCH$": {"name": "NameNotFound"}},
                     {"FIND$": {"auth": {"name": "Wazuh", "office": ["20", "30"]}}}]}}, True),
]


@pytest.mark.parametrize(("rule", "expected"), DOCUMENTED)
def test_documented_examples(rule, expected):
    validate_rule(rule)
    assert rule_matches(rule, CONTEXT) is expected


def test_match_only_looks_at_the_root_and_find_everywhere():
    assert not rule_matches({"MATCH": {"office": "20"}}, CONTEXT)
    assert rule_matches({"FIND": {"office": "21"}}, {"a": [{"b": {"office": ["21"]}}]})


def test_regular_expressions_in_keys_and_values():
    context = {"authLevel": ["administrator"], "department": ["Technical"], "auth": {"office": "20"}}
    rule = {"OR": [{"FIND$": {"office": "r'^[0-9]+$'"}},
                   {"AND": [{"MATCH": {"authLevel": "administrator", "department": "Technical"}}]}]}
    assert rule_matches(rule, context)
    assert rule_matches({"FIND": {"r'^auth[a-zA-Z]+$'": ["r'^admin[a-z]+$'"]}}, context)
    assert not rule_matches({"MATCH": {"r'^zzz'": "administrator"}}, context)


def test_not_of_a_list_means_not_all():
    assert rule_matches({"NOT": [{"MATCH": {"name": "Initial_auth"}}, {"MATCH": {"name": "x"}}]}, CONTEXT)
    assert not rule_matches({"NOT": [{"MATCH": {"name": "Initial_auth"}}]}, CONTEXT)


def test_values_compare_exactly():
    assert not rule_matches({"MATCH": {"auth": {"office": 20}}}, CONTEXT), "20 is not '20'"
    assert not rule_matches({"MATCH": {"auth": "Wazuh"}}, CONTEXT), "a value never matches an object"


@pytest.mark.parametrize("rule", [{}, [], {"MATCH": []}, {"AND": {}}, {"OR": []}, {"XOR": [{"MATCH": {"a": 1}}]},
                                  {"AND": [{"MATCH": {"a": 1}}, "x"]}, {"NOT": "x"}])
def test_malformed_rules_are_refused(rule):
    with pytest.raises(WazuhError) as error:
        validate_rule(rule)
    assert error.value.code == 4003


async def test_run_as_login_gets_the_roles_of_matching_rules(db):
    admin = await load_context(db, 1, [1])
    rule = (await roles.add_rule(admin, db=db, name="office20",
                                 rule={"FIND": {"office": "20"}})).affected_items[0]
    role = (await roles.add_role(admin, db=db, name="office_role")).affected_items[0]
    await links.set_role_policy(admin, role["id"], [4], db=db)           # agents_read_agents
    linked = await links.set_role_rule(admin, role["id"], [rule["id"]], db=db)
    assert linked.render()["message"] == f"All security rules were linked to role {role['id']}"
    user = (await users.create_user(admin, db=db, username="runner", password="Secret-123")).affected_items[0]

    with pytest.raises(WazuhPermissionError) as denied:
        await login_roles(db, user["id"], CONTEXT)
    assert denied.value.code == 6004
    await users.edit_run_as(admin, user["id"], True, db=db)
    assert await login_roles(db, user["id"], CONTEXT) == [role["id"]]
    assert await login_roles(db, user["id"], {"name": "other"}) == []
    assert await login_roles(db, user["id"]) == [], "a normal login keeps the user's own roles"
    ctx = await load_context(db, user["id"], [role["id"]], run_as=True)
    assert ctx.allowed("agent:read", "agent:id:001") and not ctx.allowed("agent:delete", "agent:id:001")


async def test_default_rules_only_serve_wazuh_wui(db):
    elastic = {"username": "elastic"}
    assert await login_roles(db, 2, elastic) == [1]
    assert await login_roles(db, 1, elastic) == []
