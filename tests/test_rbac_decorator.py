"""expose_resources on a plugin-style operation: failed items 4000, list narrowing, resourceless."""

from __future__ import annotations

import pytest

from wazuhd.errors import WazuhError, WazuhPermissionError
from wazuhd.rbac import RbacContext, expose_resources
from wazuhd.results import AffectedItemsResult
from wazuhd.store import Migration, Store

AGENTS = {"001": ["web"], "002": ["db"], "003": ["web", "db"], "004": [], "005": ["default"]}
COLUMNS = {"agent:id": "agent.id",
           "agent:group": "EXISTS (SELECT 1 FROM belongs b WHERE b.agent = agent.id AND b.grp IN ({values}))"}


@pytest.fixture
def db(tmp_path):
    store = Store(tmp_path / "db")
    sql = "CREATE TABLE agent (id TEXT PRIMARY KEY);\nCREATE TABLE belongs (agent TEXT, grp TEXT);\n"
    store.migrate([("test", Migration("agents", "agents-0001", sql=sql))])
    database = store.db("agents")

    def fill(conn):
        conn.executemany("INSERT INTO agent VALUES (?)", [(a,) for a in AGENTS])
        conn.executemany("INSERT INTO belongs VALUES (?, ?)", [(a, g) for a, gs in AGENTS.items() for g in gs])
    database.write_sync(fill)
    yield database
    store.close()


async def groups_of(ids, arguments) -> dict:
    rows = await arguments["db"].fetchall(
        f"SELECT agent, grp FROM belongs WHERE agent IN ({', '.join('?' * len(ids))})", ids)
    related: dict = {}
    for row in rows:
        related.setdefault(row["agent"], []).append(f"agent:group:{row['grp']}")
    return related


@expose_resources(actions=["agent:restart"], resources=["agent:id:{agent_list}"], related={"agent_list": groups_of})
async def restart_agents(rbac, agent_list=None, *, db, rbac_filters=None) -> AffectedItemsResult:
    """A plugin operation: explicit agents or all the caller may restart."""
    result = AffectedItemsResult(all_msg="Restart command was sent to all agents",
                                 some_msg="Restart command was not sent to some agents",
                                 none_msg="Restart command was not sent to any agent")
    if agent_list is None:
        where, params = rbac_filters["agent_list"].sql(COLUMNS)
        rows = await db.fetchall(f"SELECT id FROM agent WHERE {where} ORDER BY id", params)
        result.add_affected_items(row["id"] for row in rows)
        return result
    known = {row["id"] for row in await db.fetchall("SELECT id FROM agent")}
    for agent in agent_list:
        if agent in known:
            result.add_affected_items([agent])
        else:
            result.add_failed_item(agent, WazuhError(1701))
    return result


@expose_resources(actions=["agent:create"], resources=["*:*:*"])
async def create_agent(rbac, *, name: str) -> dict:
    return {"name": name}


def ctx(*policies, mode="white") -> RbacContext:
    return RbacContext.from_policies([{"actions": a, "resources": r, "effect": e} for a, r, e in policies], mode)


async def test_denied_explicit_targets_become_failed_items(db):
    rbac = ctx((["agent:restart"], ["agent:group:web"], "allow"))
    result = await restart_agents(rbac, ["001", "002", "003", "004"], db=db)
    rendered = result.render()
    assert rendered["data"]["affected_items"] == ["001", "003"]
    assert rendered["data"]["failed_items"] == [{"error": {
        "code": 4000, "message": "Permission denied: Resource type: agent:id",
        "remediation": rendered["data"]["failed_items"][0]["error"]["remediation"]}, "id": ["002", "004"]}]
    assert rendered["error"] == 2 and rendered["message"] == "Restart command was not sent to some agents"


async def test_all_explicit_targets_denied_is_permission_denied(db):
    rbac = ctx((["agent:restart"], ["agent:group:web"], "allow"))
    with pytest.raises(WazuhPermissionError) as denied:
        await restart_agents(rbac, ["002", "004"], db=db)
    assert denied.value.code == 4000 and denied.value.http_status == 403


async def test_unknown_target_allowed_by_a_wildcard_is_reported_as_unknown(db):
    rbac = ctx((["agent:restart"], ["agent:id:*"], "allow"))
    result = await restart_agents(rbac, ["001", "999"], db=db)
    assert [group["error"]["code"] for group in result.render()["data"]["failed_items"]] == [1701]


async def test_list_operations_only_see_what_is_allowed(db):
    rbac = ctx((["agent:restart"], ["agent:id:*"], "allow"), (["agent:restart"], ["agent:group:db"], "deny"))
    for everything in (None, "*", "all", ["all"]):
        result = await restart_agents(rbac, everything, db=db)
        assert result.affected_items == ["001", "004", "005"] and result.total_failed_items == 0
    nothing = await restart_agents(ctx(), db=db)
    assert nothing.affected_items == [] and nothing.render()["error"] == 0
    black = await restart_agents(ctx(mode="black"), db=db)
    assert black.affected_items == sorted(AGENTS)


async def test_resourceless_action(db):
    with pytest.raises(WazuhPermissionError) as denied:
        await create_agent(ctx((["agent:create"], ["agent:id:*"], "allow")), name="x")
    assert denied.value.code == 4000 and "*:*" in denied.value.message
    assert await create_agent(ctx((["agent:create"], ["*:*:*"], "allow")), name="x") == {"name": "x"}
    assert await create_agent(ctx(mode="black"), name="y") == {"name": "y"}


def test_declaration_errors_are_caught_at_decoration():
    with pytest.raises(TypeError, match="first parameter"):
        expose_resources(actions=["a:b"], resources=["*:*:*"])(lambda x: x)
    with pytest.raises(TypeError, match="agent_list"):
        @expose_resources(actions=["agent:read"], resources=["agent:id:{agent_list}"])
        async def missing(rbac, agents=None):
            return agents
    with pytest.raises(ValueError, match="template"):
        expose_resources(actions=["a:b"], resources=["not a resource"])


async def test_operations_without_rbac_filters_need_explicit_targets():
    @expose_resources(actions=["agent:read"], resources=["agent:id:{agent_id}"])
    async def one(rbac, agent_id):
        return agent_id
    rbac = ctx((["agent:read"], ["agent:id:*"], "allow"))
    assert await one(rbac, "001") == "001"
    with pytest.raises(TypeError, match="explicit"):
        await one(rbac, None)
