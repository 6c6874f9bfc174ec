"""/manager end to end: services, information, configuration (sections, fields, masked secrets,
XML), validation of the file on disk, API configuration, the offline version check, logs;
statistics from events sent through the queue socket (hourly history, daemons' counters) and
the restart (validated first, answered, then done in the same process; history survives)."""

from __future__ import annotations

import functools
import time
import xml.etree.ElementTree as ET
from datetime import date, datetime

import pytest

from wazuhd.sockets import send_event
from wazuhd.testing import WazuhSchemas, wait_for

from agents_helpers import AgentsDaemon, Api


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    daemon = AgentsDaemon(tmp_path_factory.mktemp("agents-manager") / "home").start()
    yield daemon
    daemon.terminate()


@pytest.fixture(scope="module")
def api(daemon):
    return Api(daemon)


def item(reply) -> dict:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]["affected_items"][0]


def test_status_lists_the_daemon_and_plugin_services(api):
    status = item(api.get("/manager/status"))
    assert status["wazuhd"] == "running"
    assert status["agents.agents-status"] == "running" and status["agents.agents-client-keys"] == "running"


def test_info_and_version_check(api, daemon):
    info = item(api.get("/manager/info"))
    assert info["path"] == str(daemon.home) and info["type"] == "server" and info["version"].startswith("v4.")
    check = api.ok(api.get("/manager/version/check", params={"force_query": "true"}))["data"]
    assert check["update_check"] is False and check["current_version"] == info["version"]


def test_configuration(api):
    everything = item(api.get("/manager/configuration"))
    assert everything["agents"]["node_name"] == "node01"
    assert everything["api"]["https"]["key"] == "****"
    one = item(api.get("/manager/configuration", params={"section": "agents", "field": "disconnection_time"}))
    assert one == {"agents": {"disconnection_time": 600}}
    assert api.get("/manager/configuration", params={"section": "agents", "field": "nope"}).json()["error"] == 1103
    assert api.get("/manager/configuration", params={"section": "nope"}).json()["error"] == 1102
    raw = api.get("/manager/configuration", params={"raw": "true"})
    assert raw.headers["content-type"].startswith("application/xml")
    assert ET.fromstring(raw.text).find("agents/node_name").text == "node01"
    api_config = item(api.get("/manager/api/config"))
    assert api_config["node_api_config"]["host"] == "127.0.0.1"


def test_validation_reads_the_file_on_disk(api, daemon):
    assert item(api.get("/manager/configuration/validation")) == {"name": "node01", "status": "OK"}
    config = daemon.home / "etc" / "wazuhd.yaml"
    good = config.read_text()
    try:
        config.write_text(good + "agents_typo: 1\n")
        reply = api.ok(api.get("/manager/configuration/validation"))
        assert reply["error"] == 1 and reply["data"]["failed_items"][0]["error"]["code"] == 1908
    finally:
        config.write_text(good)


def test_logs(api):
    logs = api.ok(api.get("/manager/logs", params={"limit": 500}))["data"]
    assert logs["total_affected_items"] >= 1
    first = logs["affected_items"][0]
    assert set(first) == {"timestamp", "tag", "level", "description"}
    stamps = [entry["timestamp"] for entry in logs["affected_items"]]
    assert stamps == sorted(stamps, reverse=True)
    infos = api.ok(api.get("/manager/logs", params={"level": "info", "tag": "wazuhd:store"}))["data"]["affected_items"]
    assert infos and all(e["level"] == "info" and e["tag"] == "wazuhd:store" for e in infos)
    assert any("agents-0001-tables" in e["description"] for e in infos)
    summary = api.ok(api.get("/manager/logs/summary"))["data"]["affected_items"]
    store = next(entry["wazuhd:store"] for entry in summary if "wazuhd:store" in entry)
    assert store["all"] >= store["info"] >= len(infos)


def test_update_configuration_validates_and_keeps_a_backup(api, daemon):
    config = daemon.home / "etc" / "wazuhd.yaml"
    before = config.read_text()
    octets = {"Content-Type": "application/octet-stream"}
    for bad in (b"agents: {disconnection_time: -5}\n", b"nosuchsection: 1\n", b"agents: [unclosed\n", b"- a list\n"):
        reply = api.put("/manager/configuration", content=bad, headers=octets)
        assert (reply.status_code, reply.json()["error"]) == (400, 1908), reply.text
    assert config.read_text() == before
    new = before + "\n# changed through the API\n"
    reply = api.ok(api.put("/manager/configuration", content=new.encode(), headers=octets))
    assert reply["data"]["affected_items"] == ["node01"]
    assert config.read_text() == new
    assert (config.parent / reply["data"]["backup"]).read_text() == before
    config.write_text(before)


# -- statistics and restart ------------------------------------------------------------------

FAILED = "Nov 26 16:21:11 web01 sshd[311]: Failed password for root from 203.0.113.9 port 2222 ssh2"
NOISE = "Nov 26 16:21:12 web01 cron[12]: nothing any rule cares about"



@functools.cache
def wazuh_schemas() -> WazuhSchemas | None:
    return WazuhSchemas.load()


def valid(path: str, method: str, reply) -> None:
    """The reply fits Wazuh's response schema for its status (when Wazuh's spec is here)."""
    wazuh = wazuh_schemas()
    if wazuh is not None:
        errors = wazuh.errors(path, method, reply.status_code, reply.json())
        assert errors == [], (path, reply.status_code, errors, reply.text[:500])


@pytest.fixture(scope="module")
def alerted(api, daemon):
    """Eight failed logins (seven 190101 alerts, then the 190110 brute force) and two events
    no rule alerts on, through the queue socket; waits until analysis has them all."""
    for _ in range(8):
        send_event(daemon.socket("queue"), "1", "/var/log/auth.log", FAILED)
    for _ in range(2):
        send_event(daemon.socket("queue"), "1", "/var/log/syslog", NOISE)

    def analysed():
        counters = daemon.counters("analysis")
        return counters["received"] >= 10 and counters["alerts"] >= 8
    assert wait_for(analysed)


def test_hourly_history_counts_alerts_by_rule_and_level(api, alerted):
    reply = api.get("/manager/stats")
    valid("/manager/stats", "get", reply)
    hours = api.ok(reply)["data"]["affected_items"]
    assert hours and all(set(h) == {"hour", "alerts", "totalAlerts", "events", "syscheck", "firewall"}
                         for h in hours)
    by_rule = {}
    for hour in hours:
        for alert in hour["alerts"]:
            by_rule[(alert["sigid"], alert["level"])] = by_rule.get((alert["sigid"], alert["level"]), 0) + alert["times"]
    assert {sigid for sigid, _ in by_rule} == {190101, 190110}
    assert sum(t for (sigid, _), t in by_rule.items() if sigid == 190101) == 7
    assert [level for sigid, level in by_rule if sigid == 190110] == [10]
    assert sum(h["totalAlerts"] for h in hours) == 8
    assert sum(h["events"] for h in hours) == 10
    assert sum(h["syscheck"] + h["firewall"] for h in hours) == 0
    today = date.today().isoformat()
    assert api.ok(api.get("/manager/stats", params={"date": today}))["data"]["affected_items"] == hours
    old = api.get("/manager/stats", params={"date": "2001-01-01"})
    assert (old.status_code, old.json()["error"]) == (400, 1308)
    assert api.get("/manager/stats", params={"date": "2001-13-45"}).status_code == 400  # format: date


def test_hourly_and_weekly_averages(api, alerted):
    now = datetime.now()
    reply = api.get("/manager/stats/hourly")
    valid("/manager/stats/hourly", "get", reply)
    hourly = api.ok(reply)["data"]["affected_items"]
    assert len(hourly) == 1 and len(hourly[0]["averages"]) == 24
    assert hourly[0]["interactions"] == 1 and sum(hourly[0]["averages"]) == 8
    reply = api.get("/manager/stats/weekly")
    valid("/manager/stats/weekly", "get", reply)
    weekly = api.ok(reply)["data"]["affected_items"]
    assert [next(iter(d)) for d in weekly] == ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    today = weekly[(now.weekday() + 1) % 7][now.strftime("%a")]
    assert today["interactions"] == 1 and sum(today["averages"]) == 8
    assert all(d[name]["interactions"] == 0 for d in weekly for name in d if name != now.strftime("%a"))


def test_daemon_stats_from_the_counters(api, alerted):
    reply = api.get("/manager/daemons/stats")
    valid("/manager/daemons/stats", "get", reply)
    items = api.ok(reply)["data"]["affected_items"]
    assert [i["name"] for i in items] == ["wazuh-analysisd", "wazuh-remoted", "wazuh-db"]
    analysisd = items[0]["metrics"]
    assert analysisd["events"]["received"] == analysisd["events"]["processed"] >= 10
    assert analysisd["events"]["written_breakdown"]["alerts"] >= 8
    assert analysisd["queues"]["others"]["size"] > 0
    assert "bytes" not in analysisd and "eps" not in analysisd  # not measured: left out
    assert items[1]["metrics"]["tcp_sessions"] == 0 and items[2]["metrics"] == {}
    one = api.ok(api.get("/manager/daemons/stats", params={"daemons_list": "wazuh-remoted"}))["data"]
    assert [i["name"] for i in one["affected_items"]] == ["wazuh-remoted"]
    bad = api.get("/manager/daemons/stats", params={"daemons_list": "wazuh-nope"})
    assert bad.status_code == 400
    reply = api.get("/manager/stats/analysisd")
    valid("/manager/stats/analysisd", "get", reply)
    flat = item(reply)
    assert flat["events_received"] >= 10 and flat["alerts_written"] >= 8 and flat["total_events_decoded"] >= 8
    assert "fts_written" not in flat and "events_dropped" not in flat
    reply = api.get("/manager/stats/remoted")
    valid("/manager/stats/remoted", "get", reply)
    assert item(reply)["tcp_sessions"] == 0.0


def test_restart_needs_manager_restart(api):
    reader = api.user_with_policy(["manager:read"], ["*:*:*"])
    assert reader.get("/manager/stats/hourly").status_code == 200
    refused = reader.put("/manager/restart")
    assert refused.status_code == 403
    valid("/manager/restart", "put", refused)
    actions = api.ok(api.get("/security/actions"))["data"]
    assert "PUT /manager/restart" in actions["manager:restart"]["related_endpoints"]
    assert {"GET /manager/stats", "PUT /manager/analysisd/reload"} <= set(actions["manager:read"]["related_endpoints"])


def test_restart_refuses_an_invalid_configuration(api, daemon):
    before = daemon.request("control", "status")["started_at"]
    config = daemon.home / "etc" / "wazuhd.yaml"
    good = config.read_text()
    try:
        config.write_text(good + "agents_typo: 1\n")
        reply = api.put("/manager/restart")
        assert (reply.status_code, reply.json()["error"]) == (400, 1908), reply.text
        valid("/manager/restart", "put", reply)
    finally:
        config.write_text(good)
    time.sleep(1.0)
    assert daemon.request("control", "status")["started_at"] == before


def test_restart_answers_then_restarts_and_history_survives(api, daemon, alerted):
    """Last in this module: the daemon restarts (same process, configuration from disk). One
    more alert, not read through the API before the restart, is flushed when the daemon stops."""
    send_event(daemon.socket("queue"), "1", "/var/log/auth.log", FAILED.replace("203.0.113.9", "203.0.113.10"))
    assert wait_for(lambda: daemon.counters("analysis")["alerts"] == 9)
    before = daemon.request("control", "status")
    reply = api.put("/manager/restart")
    assert reply.status_code == 202, reply.text
    valid("/manager/restart", "put", reply)
    assert reply.json()["data"]["affected_items"] == ["node01"]

    def restarted():
        try:
            status = daemon.request("control", "status")
        except OSError:
            return False
        return status["started_at"] > before["started_at"] and status["state"] == "running"
    assert wait_for(restarted, timeout=20)
    after = daemon.request("control", "status")
    assert after["pid"] == before["pid"] == daemon.proc.pid
    fresh = daemon.client(daemon.login())
    assert wait_for(lambda: fresh.get("/manager/stats/hourly").status_code == 200)
    hours = fresh.get("/manager/stats").json()["data"]["affected_items"]
    assert sum(h["totalAlerts"] for h in hours) == 9 and sum(h["events"] for h in hours) == 11
