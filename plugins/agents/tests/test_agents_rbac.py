"""RBAC as Wazuh defines it, end to end: a role limited to one group sees only that group's
agents everywhere (lists, counts, summaries, overview, distinct), explicit targets it may not
touch become failed items 4000, and a caller with no permission at all gets 403."""

from __future__ import annotations

import pytest

from agents_helpers import AgentsDaemon, Api


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    daemon = AgentsDaemon(tmp_path_factory.mktemp("agents-rbac") / "home").start()
    yield daemon
    daemon.terminate()


@pytest.fixture(scope="module")
def api(daemon):
    api = Api(daemon)
    for group in ("web", "db"):
        api.ok(api.post("/groups", json={"group_id": group}))
    for i in range(1, 7):
        api.ok(api.post("/agents", json={"name": f"rb-{i}", "ip": "any"}))
    api.ok(api.put("/agents/group", params={"group_id": "web", "agents_list": "001,002,003", "force_single_group": "true"}))
    api.ok(api.put("/agents/group", params={"group_id": "db", "agents_list": "004,005"}))
    daemon.request("agents", "keepalive", {"id": "001", "os": {"platform": "ubuntu"}, "version": "Wazuh v4.7.0"})
    daemon.request("agents", "keepalive", {"id": "004", "os": {"platform": "centos"}})
    return api


@pytest.fixture(scope="module")
def web_reader(api):
    return api.user_with_policy(["agent:read"], ["agent:group:web"],
                                more=[{"actions": ["group:read"], "resources": ["group:id:web"], "effect": "allow"}])


def ids(reply) -> list[str]:
    assert reply.status_code == 200, reply.text
    return [item["id"] if isinstance(item, dict) else item for item in reply.json()["data"]["affected_items"]]


def test_group_limited_role_lists_only_its_group(web_reader):
    reply = web_reader.get("/agents")
    assert ids(reply) == ["001", "002", "003"]
    assert reply.json()["data"]["total_affected_items"] == 3
    assert ids(web_reader.get("/agents", params={"q": "status=never_connected"})) == ["002", "003"]
    assert ids(web_reader.get("/agents", params={"offset": 2, "limit": 1})) == ["003"]


def test_group_limited_role_counts_and_summaries(web_reader):
    status = web_reader.get("/agents/summary/status").json()["data"]
    assert status["connection"] == {"active": 1, "disconnected": 0, "never_connected": 2, "pending": 0, "total": 3}
    assert status["configuration"]["total"] == 3
    assert ids(web_reader.get("/agents/summary/os")) == ["ubuntu"]
    summary = web_reader.get("/agents/summary").json()["data"]
    assert summary["status"]["never_connected"] == 2 and summary["groups"] == {"web": 3}
    distinct = web_reader.get("/agents/stats/distinct", params={"fields": "status"}).json()["data"]
    assert {(d["status"], d["count"]) for d in distinct["affected_items"]} == {("active", 1), ("never_connected", 2)}
    overview = web_reader.get("/overview/agents").json()["data"]
    assert overview["agent_status"]["connection"]["total"] == 3
    assert overview["groups"] == [{"name": "web", "count": 3}]
    assert [a["id"] for a in overview["last_registered_agent"]] == ["003"]
    outdated = web_reader.get("/agents/outdated").json()["data"]
    assert [a["id"] for a in outdated["affected_items"]] == ["001"] and outdated["total_affected_items"] == 1
    assert ids(web_reader.get("/agents/no_group")) == []


def test_group_limited_role_explicit_targets(web_reader):
    reply = web_reader.get("/agents", params={"agents_list": "001,004"})
    body = reply.json()["data"]
    assert ids(reply) == ["001"]
    assert body["failed_items"] == [{"error": {"code": 4000, "message": "Permission denied: Resource type: agent:id",
                                               "remediation": body["failed_items"][0]["error"].get("remediation")},
                                     "id": ["004"]}] or body["failed_items"][0]["id"] == ["004"]
    assert body["failed_items"][0]["error"]["code"] == 4000
    assert web_reader.get("/agents", params={"agents_list": "004"}).status_code == 403
    assert web_reader.get("/agents/004/key").status_code == 403
    assert web_reader.get("/agents/001/key").status_code == 200


def test_group_views(web_reader):
    assert [g["name"] for g in web_reader.get("/groups").json()["data"]["affected_items"]] == ["web"]
    assert ids(web_reader.get("/groups/web/agents")) == ["001", "002", "003"]
    assert web_reader.get("/groups/db/agents").status_code == 403


def test_agent_id_policy_and_deny(api):
    client = api.user_with_policy(["agent:read"], ["agent:id:*"],
                                  more=[{"actions": ["agent:read"], "resources": ["agent:group:db"], "effect": "deny"}])
    assert ids(client.get("/agents")) == ["000", "001", "002", "003", "006"]
    assert client.get("/agents/summary/status").json()["data"]["connection"]["total"] == 5


def test_no_permission_is_403(api):
    client = api.user_with_policy(["group:read"], ["group:id:web", "group:id:db"])
    for path in ("/agents", "/agents/summary/status", "/agents/summary/os", "/agents/outdated", "/overview/agents"):
        reply = client.get(path)
        assert reply.status_code == 403, (path, reply.text)
        assert reply.json()["error"] == 4000
    assert client.post("/agents/insert/quick", params={"agent_name": "rb-nope"}).status_code == 403
    assert client.delete("/groups", params={"groups_list": "web"}).status_code == 403


def test_modify_group_needs_both_actions(api):
    only_agents = api.user_with_policy(["agent:modify_group"], ["agent:id:*"])
    assert only_agents.put("/agents/group", params={"group_id": "db", "agents_list": "006"}).status_code == 403
    both = api.user_with_policy(["agent:modify_group"], ["agent:group:web"],
                                more=[{"actions": ["group:modify_assignments"], "resources": ["group:id:db"],
                                       "effect": "allow"}])
    reply = both.put("/agents/group", params={"group_id": "db", "agents_list": "001,006"})
    assert ids(reply) == ["001"]
    assert reply.json()["data"]["failed_items"][0]["error"]["code"] == 4000
    assert reply.json()["data"]["failed_items"][0]["id"] == ["006"]


def test_delete_limited_to_group(api):
    api.ok(api.post("/groups", json={"group_id": "tmp"}))
    new = [api.ok(api.post("/agents/insert/quick", params={"agent_name": f"rb-tmp{i}"}))["data"]["id"] for i in range(3)]
    api.ok(api.put("/agents/group", params={"group_id": "tmp", "agents_list": ",".join(new[:2]),
                                            "force_single_group": "true"}))
    deleter = api.user_with_policy(["agent:delete"], ["agent:group:tmp"])
    reply = deleter.delete("/agents", params={"agents_list": "all", "status": "all", "older_than": "0s"})
    assert ids(reply) == new[:2]
    assert ids(api.get("/agents", params={"agents_list": new[2]})) == [new[2]]


def test_allow_list_of_ids_and_groups(api):
    client = api.user_with_policy(["agent:read"], ["agent:id:002", "agent:group:db"])
    in_db = ids(api.get("/groups/db/agents"))
    assert "002" not in in_db
    assert ids(client.get("/agents")) == sorted(in_db + ["002"])
    assert client.get("/agents/summary/status").json()["data"]["connection"]["total"] == len(in_db) + 1
    assert ids(client.get("/agents", params={"q": "id<3"})) == sorted({"002"} | {i for i in in_db if int(i) < 3})
