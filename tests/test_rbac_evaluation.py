"""Policy evaluation: default roles, white/black mode, order, wildcards, aliases, SQL = Python."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wazuhd.rbac import RbacContext, load_context, process_policies
from wazuhd.rbac.context import sanitize_policy
from wazuhd.errors import WazuhError, WazuhPermissionError

ROLE = {"administrator": 1, "readonly": 2, "users_admin": 3, "agents_readonly": 4, "agents_admin": 5,
        "cluster_readonly": 6, "cluster_admin": 7}


def policy(actions, resources, effect="allow") -> dict:
    return {"actions": list(actions), "resources": list(resources), "effect": effect}


CASES = [
    # role, action, resource, allowed
    ("administrator", "agent:delete", "agent:id:001", True),
    ("administrator", "security:create_user", "*:*:*", True),
    ("administrator", "security:update_config", "*:*:*", True),
    ("administrator", "manager:restart", "*:*:*", True),
    ("administrator", "unknown:action", "*:*:*", False),
    ("readonly", "agent:read", "agent:id:007", True),
    ("readonly", "agent:delete", "agent:id:007", False),
    ("readonly", "manager:read", "*:*:*", True),
    ("readonly", "manager:restart", "*:*:*", False),
    ("readonly", "security:read", "user:id:1", False),
    ("readonly", "rules:read", "rule:file:0010-rules_config.xml", True),
    ("readonly", "rules:update", "*:*:*", False),
    ("users_admin", "security:read", "user:id:5", True),
    ("users_admin", "security:read", "role:id:1", False),
    ("users_admin", "security:create_user", "*:*:*", True),
    ("users_admin", "security:create", "*:*:*", False),
    ("agents_readonly", "agent:read", "agent:id:001", True),
    ("agents_readonly", "group:read", "group:id:default", True),
    ("agents_readonly", "agent:restart", "agent:id:001", False),
    ("agents_admin", "agent:restart", "agent:id:001", True),
    ("agents_admin", "agent:create", "*:*:*", True),
    ("agents_admin", "cluster:status", "*:*:*", False),
    ("cluster_readonly", "cluster:read", "node:id:worker1", True),
    ("cluster_readonly", "cluster:restart", "node:id:worker1", False),
    ("cluster_admin", "cluster:restart", "node:id:worker1", True),
    ("cluster_admin", "agent:read", "agent:id:001", False),
]


@pytest.mark.parametrize(("role", "action", "resource", "allowed"), CASES)
async def test_default_roles(db, role, action, resource, allowed):
    ctx = await load_context(db, 1, [ROLE[role]])
    assert ctx.allowed(action, resource) is allowed


async def test_no_role_allows_nothing_in_white_and_everything_in_black(db):
    white = await load_context(db, 1, [])
    assert not white.allowed("agent:read", "agent:id:001")
    assert not white.allowed("security:revoke")
    black = RbacContext.from_policies([], "black")
    assert black.allowed("agent:read", "agent:id:001") and black.allowed("security:revoke")


def test_effect_holds_in_both_modes():
    for mode in ("white", "black"):
        ctx = RbacContext.from_policies([policy(["agent:read"], ["agent:id:001"], "deny"),
                                         policy(["agent:read"], ["agent:id:002"])], mode)
        assert not ctx.allowed("agent:read", "agent:id:001")
        assert ctx.allowed("agent:read", "agent:id:002")
        # only what no policy mentions depends on the mode
        assert ctx.allowed("agent:read", "agent:id:003") is (mode == "black")
        assert ctx.allowed("agent:delete", "agent:id:002") is (mode == "black")


def test_the_last_policy_wins():
    deny_one_after = RbacContext.from_policies([policy(["agent:read"], ["agent:id:*"]),
                                                policy(["agent:read"], ["agent:id:001"], "deny")])
    assert not deny_one_after.allowed("agent:read", "agent:id:001")
    assert deny_one_after.allowed("agent:read", "agent:id:002")
    wildcard_after = RbacContext.from_policies([policy(["agent:read"], ["agent:id:001"], "deny"),
                                                policy(["agent:read"], ["agent:id:*"])])
    assert wildcard_after.allowed("agent:read", "agent:id:001")
    assert wildcard_after.policies == {"agent:read": {"agent:id:*": "allow"}}


async def test_role_order_decides(db, tmp_path):
    from wazuhd.rbac import links, roles, users
    admin = await load_context(db, 1, [1])
    deny = (await roles.add_policy(admin, db=db, name="deny_007",
                                   policy=policy(["agent:read"], ["agent:id:007"], "deny"))).affected_items[0]
    role = (await roles.add_role(admin, db=db, name="no_007")).affected_items[0]
    await links.set_role_policy(admin, role["id"], [deny["id"]], db=db)
    user = (await users.create_user(admin, db=db, username="ordered", password="Secret-123")).affected_items[0]
    await users.set_user_role(admin, user["id"], [role["id"]], db=db)
    await users.set_user_role(admin, user["id"], [ROLE["readonly"]], db=db)        # readonly last: it wins
    ctx = await load_context(db, user["id"], [role["id"], ROLE["readonly"]])
    assert ctx.allowed("agent:read", "agent:id:007")
    await users.remove_user_role(admin, user["id"], [ROLE["readonly"]], db=db)
    await users.set_user_role(admin, user["id"], [ROLE["readonly"]], db=db, position=0)  # now first
    roles_now = [r["role_id"] for r in db.fetchall_sync(
        "SELECT role_id FROM user_roles WHERE user_id = ? ORDER BY position", (user["id"],))]
    assert roles_now == [ROLE["readonly"], role["id"]]
    ctx = await load_context(db, user["id"], roles_now)
    assert not ctx.allowed("agent:read", "agent:id:007")
    assert ctx.allowed("agent:read", "agent:id:008")


def test_group_alias_names_agents():
    ctx = RbacContext.from_policies([policy(["agent:read"], ["agent:group:web"])])
    assert ctx.allowed("agent:read", "agent:id:001", "agent:group:web")
    assert not ctx.allowed("agent:read", "agent:id:002", "agent:group:db")
    everyone_but_db = RbacContext.from_policies([policy(["agent:read"], ["agent:id:*"]),
                                                 policy(["agent:read"], ["agent:group:db"], "deny")])
    assert not everyone_but_db.allowed("agent:read", "agent:id:002", "agent:group:db", "agent:group:web")
    assert everyone_but_db.allowed("agent:read", "agent:id:003")
    all_groups = RbacContext.from_policies([policy(["agent:read"], ["agent:group:*"])])
    assert all_groups.allowed("agent:read", "agent:id:004"), "agent:group:* names every agent"


def test_resourceless_wildcard_is_not_a_wildcard_over_types():
    ctx = RbacContext.from_policies([policy(["agent:read", "agent:create"], ["*:*:*"])])
    assert ctx.allowed("agent:create")
    assert not ctx.allowed("agent:read", "agent:id:001")
    with pytest.raises(WazuhPermissionError) as denied:
        ctx.check("agent:delete", "agent:id:001")
    assert denied.value.code == 4000 and "agent:id" in denied.value.message


def test_processed_policies_drop_what_a_wildcard_supersedes():
    processed = process_policies([
        policy(["agent:read"], ["agent:id:001", "agent:group:web", "node:id:a"]),
        policy(["agent:read"], ["agent:id:*"], "deny"),
        policy(["agent:read"], ["agent:id:002"]),
        policy(["cluster:read"], ["node:id:a&file:path:x"]),
        policy(["cluster:read"], ["node:id:*&file:path:x"], "deny"),
    ])
    assert processed == {"agent:read": {"node:id:a": "allow", "agent:id:*": "deny", "agent:id:002": "allow"},
                         "cluster:read": {"node:id:*&file:path:x": "deny"}}


def test_policy_validation():
    assert sanitize_policy({"actions": ["Agent:Read"], "resources": ["AGENT:ID:Abc"], "effect": "Allow"}) == \
        {"actions": ["agent:read"], "resources": ["agent:id:Abc"], "effect": "allow"}
    for bad in [{"actions": ["agent:read"], "resources": ["agent:id:1"]},
                {"actions": ["agent:read"], "resources": ["agent:id"], "effect": "allow"},
                {"actions": ["agent"], "resources": ["agent:id:1"], "effect": "allow"},
                {"actions": ["agent:read"], "resources": ["a:b:c&d:e:f&g:h:i"], "effect": "allow"},
                {"actions": ["agent:read"], "resources": ["agent:id:1"], "effect": "maybe"}, "text"]:
        with pytest.raises(WazuhError) as error:
            sanitize_policy(bad)
        assert error.value.code == 4006


# -- SQL filter == Python predicate ----------------------------------------------------------------
AGENTS = [(f"{n:03d}", groups) for n, groups in enumerate(
    [(), ("web",), ("db",), ("web", "db"), ("default",), ("web", "default"), ("db",), ()] * 4)]
VALUES = st.sampled_from(["*", "000", "001", "002", "003", "005", "011", "030", "web", "db", "default", "none"])
RESOURCE = st.tuples(st.sampled_from(["agent:id", "agent:group", "node:id", "*:*"]), VALUES).map(
    lambda t: "*:*:*" if t[0] == "*:*" else f"{t[0]}:{t[1]}")
POLICY = st.builds(policy, st.lists(st.sampled_from(["agent:read", "agent:delete"]), min_size=1, max_size=2),
                   st.lists(RESOURCE, min_size=1, max_size=3), st.sampled_from(["allow", "deny"]))
COLUMNS = {"agent:id": "agent.id",
           "agent:group": "EXISTS (SELECT 1 FROM belongs b WHERE b.agent = agent.id AND b.name IN ({values}))"}


@pytest.fixture
def agents_db(tmp_path):
    conn = sqlite3.connect(tmp_path / "agents.db")
    conn.execute("CREATE TABLE agent (id TEXT PRIMARY KEY)")
    conn.execute("CREATE TABLE belongs (agent TEXT, name TEXT)")
    conn.executemany("INSERT INTO agent VALUES (?)", [(id_,) for id_, _ in AGENTS])
    conn.executemany("INSERT INTO belongs VALUES (?, ?)", [(id_, g) for id_, groups in AGENTS for g in groups])
    yield conn
    conn.close()


def _names(id_: str, groups) -> list[str]:
    return [f"agent:id:{id_}", *(f"agent:group:{g}" for g in groups)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(policies=st.lists(POLICY, max_size=6), mode=st.sampled_from(["white", "black"]),
       actions=st.sampled_from([["agent:read"], ["agent:delete"], ["agent:read", "agent:delete"]]))
def test_sql_filter_selects_what_the_predicate_allows(agents_db, policies, mode, actions):
    ctx = RbacContext.from_policies(policies, mode)
    flt = ctx.resource_filter(actions, "agent:id")
    where, params = flt.sql(COLUMNS)
    in_sql = [row[0] for row in agents_db.execute(f"SELECT id FROM agent WHERE {where} ORDER BY id", params)]
    allows = flt.predicate(lambda agent: _names(*agent))
    in_python = [id_ for id_, groups in AGENTS if allows((id_, groups))]
    assert in_sql == in_python
    allowed, denied = ctx.filter_targets(actions, "agent:id", [a for a, _ in AGENTS],
                                         {a: _names(a, g)[1:] for a, g in AGENTS})
    assert allowed == in_python and sorted(allowed + denied) == [a for a, _ in AGENTS]
    assert all(ctx.allowed(actions, *_names(a, g)) == (a in allowed) for a, g in AGENTS)


def test_sql_filter_never_loads_a_big_table(tmp_path):
    conn = sqlite3.connect(tmp_path / "big.db")
    conn.execute("CREATE TABLE agent (id INTEGER PRIMARY KEY, grp TEXT)")
    conn.executemany("INSERT INTO agent VALUES (?, ?)", ((n, f"g{n % 10}") for n in range(100_000)))
    ctx = RbacContext.from_policies([policy(["agent:read"], ["agent:group:g3", "agent:id:7"]),
                                     policy(["agent:read"], ["agent:id:13"], "deny")])
    where, params = ctx.resource_filter("agent:read", "agent:id").sql(
        {"agent:id": "agent.id", "agent:group": "agent.grp IN ({values})"})
    (count,) = conn.execute(f"SELECT COUNT(*) FROM agent WHERE {where}", params).fetchone()
    assert count == 10_000 + 1 - 1          # group g3, plus agent 7, minus agent 13 (in g3)
    assert ctx.resource_filter("agent:read", "agent:id").allows_all is False
    assert RbacContext.from_policies([], "black").resource_filter("agent:read", "agent:id").sql({}) == ("(1)", [])


# Processed permissions and the agents they allow, as Wazuh's own decorator tests expect them
# (agents 000-008; group1 = 001, 004, 005; group2 = 001, 002, 003, 007; group3 = 008).
GROUPS = {"group1": ["001", "004", "005"], "group2": ["001", "002", "003", "007"], "group3": ["008"]}
SYSTEM = [f"{n:03d}" for n in range(9)]
WAZUH_CASES = [
    ({"agent:id:*": "allow", "agent:id:002": "deny"}, None, [a for a in SYSTEM if a != "002"]),
    ({"agent:id:*": "allow", "agent:group:group2": "deny"}, None, ["000", "004", "005", "006", "008"]),
    ({"agent:group:group1": "allow", "agent:id:*": "deny", "agent:group:group2": "allow"}, None,
     GROUPS["group2"]),
    ({"agent:id:*": "deny", "agent:group:group1": "allow", "agent:group:group2": "allow"}, None,
     ["001", "002", "003", "004", "005", "007"]),
    ({"agent:id:001": "allow", "agent:id:002": "allow"}, ["001", "002", "003", "004"], ["001", "002"]),
    ({"agent:id:002": "allow", "agent:id:001": "allow", "agent:group:group1": "deny", "agent:id:000": "allow",
      "agent:group:group2": "allow", "agent:group:group3": "deny", "agent:id:099": "allow"},
     ["099", "008", "001", "000"], ["099", "001", "000"]),
]


@pytest.mark.parametrize(("permissions", "requested", "expected"), WAZUH_CASES)
def test_agrees_with_wazuhs_decorator_cases(permissions, requested, expected):
    ctx = RbacContext({"agent:read": permissions})
    groups_of = {agent: [f"agent:group:{g}" for g, members in GROUPS.items() if agent in members]
                 for agent in SYSTEM + ["099"]}
    if requested is None:
        allows = ctx.resource_filter("agent:read", "agent:id").predicate(
            lambda agent: [f"agent:id:{agent}", *groups_of[agent]])
        assert [agent for agent in SYSTEM if allows(agent)] == expected
    else:
        assert ctx.filter_targets("agent:read", "agent:id", requested, groups_of)[0] == expected
