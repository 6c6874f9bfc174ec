"""The agents API end to end over HTTPS: registration rules and Wazuh's error codes, every
list filter and the query language, status from keepalives, groups and agent.conf, tasks,
client.keys kept in Wazuh's format."""

from __future__ import annotations

import base64
import time

import pytest

from agents_helpers import AgentsDaemon, Api


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    daemon = AgentsDaemon(tmp_path_factory.mktemp("agents-api") / "home",
                          extra="  disconnection_time: 2\n").start()
    yield daemon
    daemon.terminate()


@pytest.fixture(scope="module")
def api(daemon):
    return Api(daemon)


def add(api, name, ip="any") -> str:
    return api.ok(api.post("/agents", json={"name": name, "ip": ip}))["data"]["id"]


def error(reply) -> int:
    body = reply.json()
    if "data" in body:
        return body["data"]["failed_items"][0]["error"]["code"]
    return body["error"]


def ids(reply) -> list[str]:
    assert reply.status_code == 200, reply.text
    return [i["id"] if isinstance(i, dict) else i for i in reply.json()["data"]["affected_items"]]


def test_manager_is_agent_000(api):
    agent = api.ok(api.get("/agents", params={"agents_list": "000"}))["data"]["affected_items"][0]
    assert agent["status"] == "active" and agent["lastKeepAlive"].startswith("9999-12-31")
    assert agent["os"]["platform"] and agent["version"].startswith("Wazuh v")
    assert error(api.delete("/agents", params={"agents_list": "000", "status": "all"})) == 1703
    assert error(api.get("/agents/000/key")) == 1703


def test_registration_rules(api):
    first = add(api, "reg-one", "10.9.0.1")
    key = base64.b64decode(api.ok(api.get(f"/agents/{first}/key"))["data"]["affected_items"][0]["key"]).decode()
    number, name, ip, secret = key.split()
    assert (number, name, ip, len(secret)) == (first, "reg-one", "10.9.0.1", 64)
    assert api.post("/agents", json={"name": "reg-one", "ip": "10.9.0.2"}).json()["error"] == 1705
    assert api.post("/agents", json={"name": "reg-two", "ip": "10.9.0.1"}).json()["error"] == 1706
    assert api.post("/agents", json={"name": "reg-two", "ip": "10.9.0.300"}).json()["error"] == 1706
    assert api.post("/agents", json={"name": "x" * 129}).json()["error"] == 1738
    assert api.post("/agents", json={"name": "bad name"}).json()["error"] == 1725
    assert api.post("/agents", json={"name": "reg-net", "ip": "10.8.0.0/16"}).status_code == 200
    assert api.post("/agents", json={"name": "reg-any", "ip": "ANY"}).status_code == 200
    assert api.post("/agents", json={"name": "reg-any2", "ip": "any"}).status_code == 200  # 'any' may repeat
    assert api.post("/agents", json={"ip": "10.1.1.1"}).status_code == 400  # name required by the spec


def test_insert_with_id_key_and_force(api):
    key = "f" * 64
    reply = api.ok(api.post("/agents/insert", json={"id": "321", "name": "ins-a", "ip": "10.7.0.1", "key": key}))
    assert reply["data"]["id"] == "321"
    assert base64.b64decode(reply["data"]["key"]).decode() == f"321 ins-a 10.7.0.1 {key}"
    assert api.post("/agents/insert", json={"id": "321", "name": "ins-b", "key": key}).json()["error"] == 1708
    # the old agent was registered just now: the default force (1h after registration) refuses
    clash = {"id": "322", "name": "ins-a", "ip": "10.7.0.2", "key": key, "force": {"enabled": True}}
    assert api.post("/agents/insert", json=clash).json()["error"] == 1705
    clash["force"] = {"enabled": True, "after_registration_time": "0s", "disconnected_time": {"enabled": False}}
    assert api.ok(api.post("/agents/insert", json=clash))["data"]["id"] == "322"
    assert ids(api.get("/agents", params={"name": "ins-a"})) == ["322"]
    assert api.post("/agents/insert", json={"name": "ins-c", "key": "short"}).status_code == 400
    quick = api.ok(api.post("/agents/insert/quick", params={"agent_name": "ins-quick"}))["data"]
    assert base64.b64decode(quick["key"]).decode().split()[1:3] == ["ins-quick", "any"]


def test_filters_and_query_language(api, daemon):
    a = add(api, "flt-ubuntu", "10.6.0.1")
    b = add(api, "flt-centos", "10.6.0.2")
    c = add(api, "flt-never", "10.6.0.3")
    daemon.request("agents", "keepalive", {"id": a, "version": "Wazuh v4.7.0", "ip": "192.168.6.1",
                                           "os": {"platform": "ubuntu", "name": "Ubuntu", "version": "22.04"}})
    daemon.request("agents", "keepalive", {"id": b, "version": "Wazuh v4.8.1", "status": "pending",
                                           "os": {"platform": "centos", "name": "CentOS", "version": "7"}})
    everyone = {"agents_list": f"{a},{b},{c}"}
    assert ids(api.get("/agents", params={**everyone, "status": "active"})) == [a]
    assert ids(api.get("/agents", params={**everyone, "status": "pending,never_connected"})) == [b, c]
    assert ids(api.get("/agents", params={"os.platform": "UBUNTU"})) == [a]
    assert ids(api.get("/agents", params={"os.name": "CentOS", "os.version": "7"})) == [b]
    for version in ("4.7.0", "v4.7.0", "wazuh 4.7.0", "Wazuh v4.7.0"):
        assert ids(api.get("/agents", params={"version": version})) == [a]
    assert ids(api.get("/agents", params={"ip": "192.168.6.1"})) == [a]
    assert ids(api.get("/agents", params={"registerIP": "10.6.0.1"})) == [a]
    assert ids(api.get("/agents", params={"name": "flt-never"})) == [c]
    assert ids(api.get("/agents", params={**everyone, "group": "default"})) == [a, b, c]
    assert ids(api.get("/agents", params={**everyone, "node_name": "node01"})) == [a, b, c]
    assert ids(api.get("/agents", params={**everyone, "older_than": "1h"})) == []
    assert ids(api.get("/agents", params={"q": "os.platform=ubuntu;status=active", "sort": "-dateAdd"})) == [a]
    assert ids(api.get("/agents", params={**everyone, "q": "status=active,status=pending", "sort": "-name"})) == [a, b]
    assert ids(api.get("/agents", params={**everyone, "search": "centos"})) == [b]
    assert ids(api.get("/agents", params={**everyone, "search": "-flt-"})) == []
    assert ids(api.get("/agents", params={"q": "name~flt-", "offset": 1, "limit": 1})) == [b]
    selected = api.ok(api.get("/agents", params={"agents_list": a, "select": "name,os.platform"}))
    assert selected["data"]["affected_items"] == [{"id": a, "name": "flt-ubuntu", "os": {"platform": "ubuntu"}}]
    distinct = api.ok(api.get("/agents", params={**everyone, "select": "node_name", "distinct": "true"}))
    assert distinct["data"]["affected_items"] == [{"node_name": "node01"}]
    outdated = ids(api.get("/agents/outdated"))
    assert a in outdated and b in outdated and c not in outdated
    assert api.get("/agents", params={"q": "nofield=1"}).json()["error"] == 1408
    assert api.get("/agents", params={"sort": "nofield"}).json()["error"] == 1403
    assert api.get("/agents", params={"older_than": "soon"}).json()["error"] == 1411
    assert api.get("/agents", params={"unknown": "1"}).status_code == 400
    missing = api.get("/agents", params={"agents_list": f"{a},990"}).json()["data"]
    assert missing["failed_items"][0] == {"error": missing["failed_items"][0]["error"], "id": ["990"]}
    assert missing["failed_items"][0]["error"]["code"] == 1701


def test_status_follows_keepalives(api, daemon):
    agent = add(api, "st-agent")
    daemon.request("agents", "keepalive", {"id": agent})
    assert api.ok(api.get("/agents", params={"agents_list": agent}))["data"]["affected_items"][0]["status"] == "active"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        item = api.ok(api.get("/agents", params={"agents_list": agent}))["data"]["affected_items"][0]
        if item["status"] == "disconnected":
            break
        time.sleep(0.2)
    assert item["status"] == "disconnected" and "disconnection_time" in item


def test_summaries(api):
    status = api.ok(api.get("/agents/summary/status"))["data"]
    total = api.ok(api.get("/agents", params={"limit": 1}))["data"]["total_affected_items"]
    assert status["connection"]["total"] == total == status["configuration"]["total"]
    assert sum(v for k, v in status["connection"].items() if k != "total") == total
    distinct = api.ok(api.get("/agents/stats/distinct", params={"fields": "status", "sort": "-count"}))["data"]
    assert sum(d["count"] for d in distinct["affected_items"]) == total


def test_groups_and_assignments(api):
    agents = [add(api, f"grp-{i}") for i in range(4)]
    assert api.ok(api.post("/groups", json={"group_id": "apps"}))["message"] == "Group 'apps' created."
    assert api.post("/groups", json={"group_id": "apps"}).json()["error"] == 1711
    assert api.post("/groups", json={"group_id": "bad name"}).status_code == 400
    assert api.post("/groups", json={"group_id": ".."}).json()["error"] == 1713
    reply = api.put("/agents/group", params={"group_id": "apps", "agents_list": ",".join(agents[:3] + ["000"])})
    assert ids(reply) == agents[:3] and error(reply) == 1703
    assert error(api.put(f"/agents/{agents[0]}/group/apps")) == 1751
    assert api.put("/agents/group", params={"group_id": "nope", "agents_list": agents[0]}).json()["error"] == 1710
    agent = api.ok(api.get("/agents", params={"agents_list": agents[0]}))["data"]["affected_items"][0]
    assert agent["group"] == ["default", "apps"]
    assert ids(api.put(f"/agents/{agents[1]}/group/apps", params={"force_single_group": "true"})) == [agents[1]]
    assert api.ok(api.get("/agents", params={"agents_list": agents[1]}))["data"]["affected_items"][0]["group"] == ["apps"]
    assert ids(api.get("/groups/apps/agents")) == agents[:3]
    assert ids(api.get("/agents", params={"q": "group=apps"})) == agents[:3]  # membership, as Wazuh
    in_default = ids(api.get("/agents", params={"q": "group=default;name~grp-"}))
    assert in_default == [agents[0], agents[2], agents[3]]
    assert ids(api.get("/agents", params={"q": "group=apps", "select": "group"})) == agents[:3]
    assert "group_member" not in api.ok(api.get("/agents", params={"limit": 1}))["data"]["affected_items"][0]
    assert [g["count"] for g in api.ok(api.get("/groups", params={"groups_list": "apps"}))["data"]["affected_items"]] == [3]
    assert error(api.delete(f"/agents/{agents[3]}/group/apps")) == 1734
    assert error(api.delete(f"/agents/{agents[3]}/group/default")) == 1745
    assert ids(api.delete("/agents/group", params={"group_id": "apps", "agents_list": agents[0]})) == [agents[0]]
    # deleting the group sends agents left in no group back to default
    deleted = api.ok(api.delete("/groups", params={"groups_list": "apps,default,ghost"}))["data"]
    assert deleted["affected_items"] == ["apps"]
    assert {f["error"]["code"] for f in deleted["failed_items"]} == {1710, 1712}
    agent = api.ok(api.get("/agents", params={"agents_list": agents[1]}))["data"]["affected_items"][0]
    assert agent["group"] == ["default"]
    assert api.get("/groups/apps/agents").status_code == 404
    assert agents[3] not in ids(api.get("/agents/no_group"))


def test_bulk_assignment_of_all_agents(api):
    api.ok(api.post("/groups", json={"group_id": "everyone"}))
    total = api.ok(api.get("/agents", params={"limit": 1}))["data"]["total_affected_items"]
    reply = api.ok(api.put("/agents/group", params={"group_id": "everyone"}))
    assert reply["data"]["total_affected_items"] == total - 1  # all but the manager
    assert api.ok(api.get("/groups/everyone/agents", params={"limit": 1}))["data"]["total_affected_items"] == total - 1
    assert ids(api.delete("/agents/group", params={"group_id": "everyone", "agents_list": "all"}))


def test_agent_conf_validated_before_write(api):
    api.ok(api.post("/groups", json={"group_id": "conf"}))
    xml = {"Content-Type": "application/xml"}
    good = (b'<agent_config os="Linux">\n  <localfile>\n    <location>/var/log/app.log</location>\n'
            b'    <log_format>syslog</log_format>\n  </localfile>\n</agent_config>\n'
            b'<agent_config name="web-01"><labels><label key="env">prod</label></labels></agent_config>\n')
    assert api.ok(api.put("/groups/conf/configuration", content=good, headers=xml))["error"] == 0
    config = api.ok(api.get("/groups/conf/configuration"))["data"]["affected_items"]
    assert config[0] == {"filters": {"os": "Linux"},
                         "config": {"localfile": {"location": "/var/log/app.log", "log_format": "syslog"}}}
    assert config[1]["filters"] == {"name": "web-01"}
    before = api.get("/groups/conf/files/agent.conf", params={"raw": "true"}).text
    assert before == good.decode()
    for bad, code in ((b"<agent_config><localfile></agent_config>", 1113),
                      (b"<agent_config><bogus>1</bogus></agent_config>", 1114),
                      (b"<other/>", 1114), (b'<agent_config color="red"/>', 1114)):
        reply = api.put("/groups/conf/configuration", content=bad, headers=xml)
        assert (reply.status_code, reply.json()["error"]) == (400, code), reply.text
    assert api.get("/groups/conf/files/agent.conf", params={"raw": "true"}).text == before
    files = api.ok(api.get("/groups/conf/files"))["data"]["affected_items"]
    assert {f["filename"] for f in files} == {"agent.conf", "merged.mg"}
    group = api.ok(api.get("/groups", params={"groups_list": "conf"}))["data"]["affected_items"][0]
    assert group["configSum"] == next(f["hash"] for f in files if f["filename"] == "agent.conf")
    assert api.get("/groups/conf/files/none.txt").status_code == 404


def test_tasks_are_queued_and_tracked(api, daemon):
    active, idle = add(api, "task-active"), add(api, "task-idle")
    daemon.request("agents", "keepalive", {"id": active})
    reply = api.put("/agents/restart", params={"agents_list": f"{active},{idle}"})
    assert ids(reply) == [active] and error(reply) == 1707
    assert ids(api.put("/agents/reconnect", params={"agents_list": active})) == [active]
    tasks = api.ok(api.get("/tasks/status", params={"agents_list": active}))["data"]["affected_items"]
    assert [(t["command"], t["status"]) for t in tasks] == [("restart", "Pending"), ("reconnect", "Pending")]
    taken = daemon.request("agents", "take_tasks", {"agent": active})
    assert [t["command"] for t in taken] == ["restart", "reconnect"]
    daemon.request("agents", "finish_task", {"task_id": taken[0]["task_id"], "status": "Done"})
    daemon.request("agents", "finish_task", {"task_id": taken[1]["task_id"], "status": "Failed",
                                             "error_message": "agent unreachable"})
    tasks = api.ok(api.get("/tasks/status", params={"agents_list": active}))["data"]["affected_items"]
    assert [t["status"] for t in tasks] == ["Done", "Failed"] and tasks[1]["error_message"] == "agent unreachable"
    done = api.ok(api.get("/tasks/status", params={"q": "status=Done", "select": "command"}))["data"]["affected_items"]
    assert done == [{"task_id": taken[0]["task_id"], "command": "restart"}]
    assert [t["task_id"] for t in api.ok(api.get("/tasks/status", params={"status": "done"}))["data"]["affected_items"]] \
        == [taken[0]["task_id"]]


def _client_keys(daemon) -> list[str]:
    return (daemon.home / "etc" / "client.keys").read_text().splitlines()


def _wait_for(predicate, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_client_keys_follow_the_registry(api, daemon):
    new = add(api, "keys-one", "10.5.0.1")
    secret = base64.b64decode(api.ok(api.get(f"/agents/{new}/key"))["data"]["affected_items"][0]["key"]).decode()
    assert _wait_for(lambda: secret in _client_keys(daemon))
    assert ids(api.delete("/agents", params={"agents_list": new, "status": "all", "older_than": "0s"})) == [new]
    marked = f"{new} !keys-one 10.5.0.1 {secret.split()[3]}"
    assert _wait_for(lambda: marked in _client_keys(daemon))
    later = add(api, "keys-two")
    assert int(later) > int(new)  # a removed id is not reused
    purge = add(api, "keys-three")
    api.ok(api.delete("/agents", params={"agents_list": purge, "status": "all", "older_than": "0s", "purge": "true"}))
    assert _wait_for(lambda: not any(line.startswith(f"{purge} ") for line in _client_keys(daemon)))
    assert all(len(line.split()) == 4 for line in _client_keys(daemon))


# -- operations that reach into an agent ----------------------------------------------------


def failed(reply) -> dict:
    """{error code: [ids]} of a list reply."""
    assert reply.status_code == 200, reply.text
    return {group["error"]["code"]: group["id"] for group in reply.json()["data"]["failed_items"]}


def test_upgrades_are_queued_tasks_with_wazuh_results(api, daemon):
    old, current, idle = add(api, "upg-old"), add(api, "upg-current"), add(api, "upg-idle")
    daemon.request("agents", "keepalive", {"id": old, "version": "Wazuh v4.7.0"})
    daemon.request("agents", "keepalive", {"id": current, "version": "Wazuh v4.14.0"})
    reply = api.put("/agents/upgrade", params={"agents_list": f"{old},{current},{idle},000,990"})
    body = reply.json()
    assert body["message"] == "Some agents were not upgraded" and body["error"] == 2
    assert [item["agent"] for item in body["data"]["affected_items"]] == [old]
    task = body["data"]["affected_items"][0]["task_id"]
    assert failed(reply) == {1701: ["990"], 1703: ["000"], 1707: [idle], 1822: [current]}
    # already upgrading: refused; a version past the manager's needs force
    daemon.request("agents", "keepalive", {"id": old})
    assert failed(api.put("/agents/upgrade", params={"agents_list": old})) == {1820: [old]}
    daemon.request("agents", "keepalive", {"id": current})
    assert failed(api.put("/agents/upgrade", params={"agents_list": current, "upgrade_version": "9.0.0"})) \
        == {1823: [current]}
    forced = api.ok(api.put("/agents/upgrade", params={"agents_list": current, "force": "true",
                                                       "upgrade_version": "4.14.0", "package_type": "deb"}))
    assert forced["message"] == "All upgrade tasks were created"
    # The task waits for the agent-communication plugin, and says so.
    result = api.ok(api.get("/agents/upgrade_result", params={"agents_list": f"{old},{idle}"}))
    item = result["data"]["affected_items"][0]
    assert (item["agent"], item["task_id"], item["status"], item["module"], item["command"]) == \
        (old, task, "In queue", "upgrade_module", "upgrade")
    assert failed(api.get("/agents/upgrade_result", params={"agents_list": f"{old},{idle}"})) == {1817: [idle]}
    status = api.ok(api.get("/tasks/status", params={"tasks_list": str(task)}))["data"]["affected_items"]
    assert status[0]["status"] == "Pending" and status[0]["module"] == "upgrade_module"
    taken = daemon.request("agents", "take_tasks", {"agent": old})
    assert taken == [{"task_id": task, "agent": old, "command": "upgrade", "module": "upgrade_module",
                      "parameters": {"version": "v4.14.0", "use_http": False, "force_upgrade": False}}]
    assert api.ok(api.get("/agents/upgrade_result", params={"agents_list": old}))["data"]["affected_items"][0][
        "status"] == "Updating"
    daemon.request("agents", "finish_task", {"task_id": task, "status": "Done"})
    assert api.ok(api.get("/agents/upgrade_result", params={"agents_list": old}))["data"]["affected_items"][0][
        "status"] == "Updated"


def test_custom_upgrades_need_a_wpk_under_the_home(api, daemon):
    agent = add(api, "upg-custom")
    daemon.request("agents", "keepalive", {"id": agent, "version": "Wazuh v4.7.0"})
    assert failed(api.put("/agents/upgrade_custom", params={"agents_list": agent, "file_path": "var/nope.wpk"})) \
        == {1826: [agent]}
    wpk = daemon.home / "var" / "upgrade" / "agent.wpk"
    wpk.parent.mkdir(parents=True, exist_ok=True)
    wpk.write_bytes(b"wpk")
    reply = api.ok(api.put("/agents/upgrade_custom", params={"agents_list": agent,
                                                             "file_path": "var/upgrade/agent.wpk"}))
    assert [i["agent"] for i in reply["data"]["affected_items"]] == [agent]
    taken = daemon.request("agents", "take_tasks", {"agent": agent})
    assert taken[0]["command"] == "upgrade_custom" and taken[0]["parameters"] == {"file_path": str(wpk)}
    assert api.put("/agents/upgrade_custom", params={"agents_list": agent, "file_path": "/etc/passwd"}
                   ).status_code == 400  # not a .wpk: refused by the parameter's format


def test_upgrade_rbac_follows_agent_upgrade(api, daemon):
    mine, other = add(api, "upg-rbac-mine"), add(api, "upg-rbac-other")
    limited = api.user_with_policy(["agent:upgrade"], [f"agent:id:{mine}"])
    for agent in (mine, other):
        daemon.request("agents", "keepalive", {"id": agent, "version": "Wazuh v4.7.0"})
    reply = limited.put("/agents/upgrade", params={"agents_list": "all"})
    assert [i["agent"] for i in reply.json()["data"]["affected_items"]] == [mine]
    assert limited.get("/agents/uninstall").json()["error"] == 4000
    assert api.ok(api.get("/agents/uninstall")) == {"message": "User has permission to uninstall agents.", "error": 0}


def test_uninstall_flow_removes_the_agent(api):
    agent = add(api, "uninstalled")
    api.ok(api.get("/agents/uninstall"))  # the uninstaller checks first, then removes its agent
    assert ids(api.delete("/agents", params={"agents_list": agent, "status": "all", "older_than": "0s"})) == [agent]
    assert error(api.get("/agents", params={"agents_list": agent})) == 1701


def test_reading_from_agents_without_a_connection(api, daemon):
    idle, live = add(api, "read-idle"), add(api, "read-live")
    daemon.request("agents", "keepalive", {"id": live})
    # agent 000: the daemon's own configuration, secrets masked; components it does not run: 1117
    data = api.ok(api.get("/agents/000/config/com/logging"))["data"]
    assert set(data) == {"logging"} and isinstance(data["logging"], dict) and data["logging"]
    assert api.get("/agents/000/config/agent/client").json()["error"] == 1117
    assert api.get("/agents/000/config/agent/wdb").json()["error"] == 1128
    assert api.get(f"/agents/{idle}/config/agent/client").json()["error"] == 1740
    reply = api.get(f"/agents/{live}/config/agent/client")
    assert reply.status_code == 500 and reply.json()["error"] == 1121
    assert api.get("/agents/989/config/agent/client").status_code == 404
    assert failed(api.get(f"/agents/{idle}/stats/logcollector")) == {1740: [idle]}
    assert failed(api.get("/agents/000/stats/agent")) == {1117: ["000"]}
    assert failed(api.get(f"/agents/{idle}/daemons/stats")) == {1707: [idle]}
    assert failed(api.get("/agents/000/daemons/stats")) == {1703: ["000"]}
    daemon.request("agents", "keepalive", {"id": live})
    assert failed(api.get(f"/agents/{live}/daemons/stats", params={"daemons_list": "wazuh-remoted"})) \
        == {1121: ["wazuh-remoted"]}


def test_agent_pages_go_out_pre_encoded_and_equal_the_rendered_form(api):
    plain = api.get("/agents", params={"limit": 3, "select": "id,name,os.platform,group"})
    pretty = api.get("/agents", params={"limit": 3, "select": "id,name,os.platform,group", "pretty": "true"})
    assert plain.json() == pretty.json() and plain.text != pretty.text
    again = api.get("/agents", params={"limit": 3, "select": "id,name,os.platform,group"})
    assert again.content == plain.content
    empty = api.ok(api.get("/agents", params={"q": "name=nobody-at-all"}))
    assert empty["message"] == "No agent information was returned" and empty["data"]["affected_items"] == []
    partial = api.get("/agents", params={"agents_list": "000,987"}).json()
    assert partial["error"] == 2 and partial["data"]["failed_items"][0]["error"]["code"] == 1701
