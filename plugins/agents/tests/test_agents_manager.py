"""/manager end to end: services, information, configuration (sections, fields, masked secrets,
XML), validation of the file on disk, API configuration, the offline version check, logs."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

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
