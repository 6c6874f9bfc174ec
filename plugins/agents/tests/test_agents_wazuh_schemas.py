"""Every response of the agents plugin's paths validates against Wazuh 4.x's response schema
for that path, method and status (``../shared/wazuh-api/spec.yaml``; ``$ref``s resolved,
OpenAPI ``nullable`` honoured). Error bodies (``application/problem+json``) are validated
against the ``application/json`` schema Wazuh declares; a status Wazuh does not declare for
an operation is reported as undocumented, not failed. XML answers (``raw``) are checked for
their declared media type and well-formedness: Wazuh gives them an object schema no text fits.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest
import yaml

from wazuhd.testing import WazuhSchemas

from agents_helpers import WAZUH_SPEC, AgentsDaemon, Api

pytestmark = pytest.mark.skipif(not WAZUH_SPEC.exists(), reason=f"Wazuh's spec is absent ({WAZUH_SPEC})")

OURS = ("/agents", "/groups", "/overview/agents", "/tasks/status", "/manager/")
NOT_OURS = {("/manager/analysisd/reload", "put")}  # the analysis plugin's


def check(wazuh: WazuhSchemas, path: str, method: str, reply: httpx.Response) -> str:
    """"ok", or "undocumented" when Wazuh declares no such status; AssertionError otherwise."""
    if wazuh.response_pointer(path, method, reply.status_code) is None:
        return "undocumented"
    media = reply.headers.get("content-type", "").split(";")[0].strip()
    lookup = "application/json" if media == "application/problem+json" else media
    if media == "application/xml":
        # Wazuh's spec gives its XML answers an object schema, which no XML text can satisfy:
        # the media type must be declared, and the body must be well-formed XML.
        assert media in (wazuh._at(wazuh.response_pointer(path, method, reply.status_code)).get("content") or {})
        ET.fromstring(reply.text)
        return "ok (XML)"
    body = reply.json() if "json" in lookup else reply.text
    errors = wazuh.errors(path, method, reply.status_code, body, lookup)
    assert errors is not None, f"{method.upper()} {path} -> {reply.status_code}: {media} not declared by Wazuh"
    assert not errors, (f"{method.upper()} {path} -> {reply.status_code} does not validate:\n"
                        + "\n".join(errors[:8]) + f"\n{reply.text[:600]}")
    return "ok"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    daemon = AgentsDaemon(tmp_path_factory.mktemp("agents-schemas") / "home").start()
    yield daemon
    daemon.terminate()


@pytest.fixture(scope="module")
def api(daemon):
    return Api(daemon)


@pytest.fixture(scope="module")
def wazuh():
    return WazuhSchemas.load()


@pytest.fixture(scope="module")
def world(api, daemon):
    """Agents (one active), a group with members, a queued task."""
    ids = {}
    for name, ip in (("sch-web1", "10.1.0.1"), ("sch-web2", "10.1.0.2"), ("sch-db1", "any"), ("sch-spare", "any")):
        ids[name] = api.ok(api.post("/agents", json={"name": name, "ip": ip}))["data"]["id"]
    daemon.request("agents", "keepalive", {"id": ids["sch-web1"], "version": "Wazuh v4.7.0",
                                           "os": {"platform": "ubuntu", "name": "Ubuntu", "version": "22.04"}})
    api.ok(api.post("/groups", json={"group_id": "schweb"}))
    api.ok(api.put("/agents/group", params={"group_id": "schweb",
                                            "agents_list": f"{ids['sch-web1']},{ids['sch-web2']}"}))
    api.ok(api.put("/agents/restart", params={"agents_list": ids["sch-web1"]}))
    return ids


def scenarios(api: Api, ids: dict, daemon: AgentsDaemon):
    web1, web2, db1 = ids["sch-web1"], ids["sch-web2"], ids["sch-db1"]
    nobody = daemon.client()  # no token: 401
    reader = api.user_with_policy(["agent:read"], ["agent:group:schweb"])
    return {
        ("/agents", "get"): [api.get("/agents"), api.get("/agents", params={"select": "name,os.platform", "q": "status=active"}),
                             api.get("/agents", params={"agents_list": f"{web1},999"}), api.get("/agents", params={"q": "bad field=1"}),
                             api.get("/agents", params={"status": "sleeping"}), nobody.get("/agents")],
        ("/agents", "post"): [api.post("/agents", json={"name": "sch-new1", "ip": "10.1.9.9"}),
                              api.post("/agents", json={"name": "sch-new1"}), api.post("/agents", json={"name": "a b"})],
        ("/agents", "delete"): [api.delete("/agents", params={"agents_list": f"{ids['sch-spare']},000,998", "status": "all", "older_than": "0s"}),
                                api.delete("/agents", params={"agents_list": "all"})],
        ("/agents/insert", "post"): [api.post("/agents/insert", json={"name": "sch-ins", "id": "500", "key": "a" * 64, "ip": "10.1.5.0/24"}),
                                     api.post("/agents/insert", json={"name": "sch-ins2", "id": "500", "key": "b" * 64}),
                                     api.post("/agents/insert", json={"name": "sch-ins3", "key": "short"})],
        ("/agents/insert/quick", "post"): [api.post("/agents/insert/quick", params={"agent_name": "sch-quick"}),
                                           api.post("/agents/insert/quick", params={"agent_name": "sch-quick"})],
        ("/agents/{agent_id}/key", "get"): [api.get(f"/agents/{web1}/key"), api.get("/agents/000/key"), api.get("/agents/997/key")],
        ("/agents/summary/status", "get"): [api.get("/agents/summary/status"), reader.get("/agents/summary/status")],
        ("/agents/summary/os", "get"): [api.get("/agents/summary/os"), reader.get("/agents/summary/os")],
        ("/agents/summary", "get"): [api.get("/agents/summary"), api.get("/agents/summary", params={"agents_list": web1})],
        ("/agents/stats/distinct", "get"): [api.get("/agents/stats/distinct", params={"fields": "os.platform,status"}),
                                            api.get("/agents/stats/distinct", params={"fields": "nope"})],
        ("/agents/no_group", "get"): [api.get("/agents/no_group")],
        ("/agents/outdated", "get"): [api.get("/agents/outdated"), api.get("/agents/outdated", params={"limit": "0"})],
        ("/agents/group", "put"): [api.put("/agents/group", params={"group_id": "schweb", "agents_list": f"{db1},{web1},996"}),
                                   api.put("/agents/group", params={"group_id": "nogroup", "agents_list": db1})],
        ("/agents/group", "delete"): [api.delete("/agents/group", params={"group_id": "schweb", "agents_list": f"{db1},995"}),
                                      api.delete("/agents/group", params={"group_id": "schweb"})],
        ("/agents/{agent_id}/group/{group_id}", "put"): [api.put(f"/agents/{db1}/group/schweb"),
                                                         api.put(f"/agents/{db1}/group/schweb"),
                                                         api.put("/agents/994/group/schweb")],
        ("/agents/{agent_id}/group/{group_id}", "delete"): [api.delete(f"/agents/{db1}/group/schweb"),
                                                            api.delete(f"/agents/{db1}/group/default")],
        ("/agents/{agent_id}/group", "delete"): [api.delete(f"/agents/{web2}/group", params={"groups_list": "schweb,nogroup"}),
                                                 api.delete("/agents/000/group")],
        ("/agents/{agent_id}/group/is_sync", "get"): [api.get(f"/agents/{web1}/group/is_sync"), api.get("/agents/993/group/is_sync")],
        ("/agents/restart", "put"): [api.put("/agents/restart", params={"agents_list": f"{web1},{web2},000"}), api.put("/agents/restart")],
        ("/agents/reconnect", "put"): [api.put("/agents/reconnect", params={"agents_list": web1}),
                                       api.put("/agents/reconnect", params={"agents_list": "1"})],
        ("/agents/{agent_id}/restart", "put"): [api.put(f"/agents/{web1}/restart"), api.put(f"/agents/{web2}/restart")],
        ("/agents/group/{group_id}/restart", "put"): [api.put("/agents/group/schweb/restart"), api.put("/agents/group/nogroup/restart")],
        ("/agents/node/{node_id}/restart", "put"): [api.put("/agents/node/node01/restart"), api.put("/agents/node/other/restart")],
        ("/agents/upgrade", "put"): [api.put("/agents/upgrade", params={"agents_list": f"{web1},{web2},000,992"}),
                                     api.put("/agents/upgrade", params={"agents_list": "all", "force": "true"}),
                                     api.put("/agents/upgrade", params={"agents_list": web1, "upgrade_version": "x"})],
        ("/agents/upgrade_custom", "put"): [api.put("/agents/upgrade_custom", params={"agents_list": web1, "file_path": "no.wpk"})],
        ("/agents/upgrade_result", "get"): [api.get("/agents/upgrade_result", params={"agents_list": f"{web1},{web2}"}),
                                            api.get("/agents/upgrade_result")],
        ("/agents/uninstall", "get"): [api.get("/agents/uninstall"), reader.get("/agents/uninstall")],
        ("/agents/{agent_id}/config/{component}/{configuration}", "get"): [
            api.get("/agents/000/config/analysis/global"), api.get("/agents/000/config/agent/client"),
            api.get(f"/agents/{web2}/config/agent/client"), api.get("/agents/991/config/agent/client")],
        ("/agents/{agent_id}/stats/{component}", "get"): [api.get(f"/agents/{web2}/stats/logcollector"),
                                                          api.get("/agents/000/stats/agent")],
        ("/agents/{agent_id}/daemons/stats", "get"): [api.get(f"/agents/{web2}/daemons/stats"),
                                                      api.get("/agents/000/daemons/stats")],
        ("/groups", "get"): [api.get("/groups"), api.get("/groups", params={"groups_list": "schweb,nogroup", "hash": "sha256"}),
                             reader.get("/groups")],
        ("/groups", "post"): [api.post("/groups", json={"group_id": "schnew"}), api.post("/groups", json={"group_id": "schnew"}),
                              api.post("/groups", json={"group_id": "bad/name"})],
        ("/groups", "delete"): [api.delete("/groups", params={"groups_list": "schnew,default,nogroup"}), api.delete("/groups")],
        ("/groups/{group_id}/agents", "get"): [api.get("/groups/schweb/agents"), api.get("/groups/nogroup/agents"),
                                               reader.get("/groups/schweb/agents")],
        ("/groups/{group_id}/configuration", "get"): [api.get("/groups/schweb/configuration"), api.get("/groups/nogroup/configuration")],
        ("/groups/{group_id}/configuration", "put"): [
            api.put("/groups/schweb/configuration", content=b'<agent_config os="Linux"><localfile><location>/var/log/x</location>'
                    b'<log_format>syslog</log_format></localfile></agent_config>', headers={"Content-Type": "application/xml"}),
            api.put("/groups/schweb/configuration", content=b"<agent_config><oops></agent_config>",
                    headers={"Content-Type": "application/xml"})],
        ("/groups/{group_id}/files", "get"): [api.get("/groups/schweb/files"), api.get("/groups/nogroup/files")],
        ("/groups/{group_id}/files/{file_name}", "get"): [api.get("/groups/schweb/files/agent.conf"),
                                                          api.get("/groups/schweb/files/agent.conf", params={"raw": "true"}),
                                                          api.get("/groups/schweb/files/missing.txt")],
        ("/overview/agents", "get"): [api.get("/overview/agents"), reader.get("/overview/agents")],
        ("/manager/status", "get"): [api.get("/manager/status"), reader.get("/manager/status")],
        ("/manager/info", "get"): [api.get("/manager/info"), nobody.get("/manager/info")],
        ("/manager/configuration", "get"): [api.get("/manager/configuration"),
                                            api.get("/manager/configuration", params={"section": "agents", "field": "node_name"}),
                                            api.get("/manager/configuration", params={"raw": "true"}),
                                            api.get("/manager/configuration", params={"section": "nosuch"})],
        ("/manager/configuration/validation", "get"): [api.get("/manager/configuration/validation")],
        ("/manager/configuration", "put"): [
            api.put("/manager/configuration", content=(daemon.home / "etc" / "wazuhd.yaml").read_bytes(),
                    headers={"Content-Type": "application/octet-stream"}),
            api.put("/manager/configuration", content=b"agents: {disconnection_time: -1}\n",
                    headers={"Content-Type": "application/octet-stream"}),
            api.put("/manager/configuration", json={"agents": {}})],
        ("/manager/api/config", "get"): [api.get("/manager/api/config"), reader.get("/manager/api/config")],
        ("/manager/version/check", "get"): [api.get("/manager/version/check")],
        ("/manager/logs", "get"): [api.get("/manager/logs", params={"limit": 5, "level": "info"}),
                                   api.get("/manager/logs", params={"limit": 501})],
        ("/manager/logs/summary", "get"): [api.get("/manager/logs/summary")],
        ("/tasks/status", "get"): [api.get("/tasks/status"), api.get("/tasks/status", params={"status": "Pending", "agents_list": web1}),
                                   reader.get("/tasks/status")],
    }


@pytest.fixture(scope="module")
def replies(api, world, daemon):
    return scenarios(api, world, daemon)


def test_every_operation_we_serve_has_a_scenario(api, replies):
    spec = yaml.safe_load(api.get("/api/spec.yaml").text)
    ours = {(p, m) for p, item in spec["paths"].items() if p.startswith(OURS) for m in item
            if m in ("get", "post", "put", "delete")} - NOT_OURS
    assert ours == set(replies)


def test_responses_validate_against_wazuh(wazuh, replies):
    report, failures = [], []
    for (path, method), answers in replies.items():
        outcomes = []
        for reply in answers:
            assert reply.status_code < 500, f"{method.upper()} {reply.request.url}: {reply.text}"
            try:
                outcomes.append(f"{reply.status_code} {check(wazuh, path, method, reply)}")
            except AssertionError as exc:
                failures.append(str(exc))
                outcomes.append(f"{reply.status_code} FAIL")
        report.append(f"{method.upper():6} {path:42} {', '.join(outcomes)}")
    print("\n".join(report))
    assert not failures, "\n\n".join(failures)


# -- /manager restart and statistics (appended: the scenarios above plus these) --------------

_registry_scenarios = scenarios


def _manager_stats_scenarios(api: Api, daemon: AgentsDaemon) -> dict:
    """Alerts through the queue socket first, so the statistics have something to show.
    The restart is only refused here (no permission, invalid configuration): a real one
    would restart this module's daemon; test_agents_manager validates its 202 answer."""
    import time

    from wazuhd.sockets import send_event

    for _ in range(3):
        send_event(daemon.socket("queue"), "1", "/var/log/auth.log",
                   "Nov 26 16:21:11 web01 sshd[311]: Failed password for root from 203.0.113.7 port 22 ssh2")
    deadline = time.monotonic() + 10
    while daemon.counters("analysis")["alerts"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    reader = api.user_with_policy(["manager:read"], ["*:*:*"])
    config = daemon.home / "etc" / "wazuhd.yaml"
    good = config.read_text()
    try:
        config.write_text(good + "agents_typo: 1\n")
        invalid = api.put("/manager/restart")
    finally:
        config.write_text(good)
    return {
        ("/manager/restart", "put"): [reader.put("/manager/restart"), invalid],
        ("/manager/daemons/stats", "get"): [api.get("/manager/daemons/stats"),
                                            api.get("/manager/daemons/stats", params={"daemons_list": "wazuh-analysisd"}),
                                            api.get("/manager/daemons/stats", params={"daemons_list": "nope"})],
        ("/manager/stats", "get"): [api.get("/manager/stats"), api.get("/manager/stats", params={"date": "2001-01-01"}),
                                    api.get("/manager/stats", params={"date": "yesterday"})],
        ("/manager/stats/hourly", "get"): [api.get("/manager/stats/hourly")],
        ("/manager/stats/weekly", "get"): [api.get("/manager/stats/weekly")],
        ("/manager/stats/analysisd", "get"): [api.get("/manager/stats/analysisd")],
        ("/manager/stats/remoted", "get"): [api.get("/manager/stats/remoted")],
    }


def scenarios(api: Api, ids: dict, daemon: AgentsDaemon):  # noqa: F811  (extends the one above)
    return {**_registry_scenarios(api, ids, daemon), **_manager_stats_scenarios(api, daemon)}
