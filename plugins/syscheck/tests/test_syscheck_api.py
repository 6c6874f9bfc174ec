"""``/syscheck`` over HTTPS on a real daemon: answers, filters, RBAC and queued scans; every
answer validates against Wazuh 4.x's response schema for its path, method and status."""

from __future__ import annotations

import hashlib
import time

import pytest

from wazuhd.testing import WazuhSchemas, assert_problem, wait_for, wazuh_spec_path

from syscheck_helpers import SyscheckDaemon, scan_count, user_with_policy, write

SPEC = wazuh_spec_path()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("syscheck-api") / "watched"
    write(root / "small.txt", "s\n")
    write(root / "medium.txt", "m" * 100)
    write(root / "etc" / "big.conf", "b" * 1000)
    return root


@pytest.fixture(scope="module")
def daemon(tree):
    daemon = SyscheckDaemon(tree.parent / "home", [{"path": str(tree)}],
                            extra="agents:\n  status_check_interval: 0.2\n")
    daemon.start(timeout=60)
    assert wait_for(lambda: scan_count(daemon) >= 1, 30)
    yield daemon
    daemon.terminate()


@pytest.fixture(scope="module")
def api(daemon):
    client = daemon.client(daemon.login())
    yield client
    client.close()


@pytest.fixture(scope="module")
def wazuh():
    schemas = WazuhSchemas.load()
    if schemas is None:
        pytest.skip(f"Wazuh's spec is absent ({SPEC})")
    return schemas


def valid(wazuh, path: str, method: str, reply) -> dict:
    """The reply's JSON, after checking it against Wazuh's schema."""
    media = reply.headers.get("content-type", "").split(";")[0].strip()
    lookup = "application/json" if media == "application/problem+json" else media
    errors = wazuh.errors(path, method, reply.status_code, reply.json(), lookup)
    assert errors is not None, f"{method} {path} -> {reply.status_code}: not declared by Wazuh"
    assert not errors, "\n".join(errors[:8]) + "\n" + reply.text[:500]
    return reply.json()


def items(reply) -> list[dict]:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]["affected_items"]


def test_findings_of_the_manager(api, wazuh, tree):
    body = valid(wazuh, "/syscheck/{agent_id}", "get", api.get("/syscheck/000"))
    assert body["message"] == "FIM findings of the agent were returned"
    found = {item["file"]: item for item in body["data"]["affected_items"]}
    assert sorted(found) == sorted(str(p) for p in (tree / "small.txt", tree / "medium.txt",
                                                    tree / "etc" / "big.conf"))
    small = found[str(tree / "small.txt")]
    assert small["size"] == 2 and small["md5"] == hashlib.md5(b"s\n").hexdigest()
    assert small["type"] == "file" and small["changes"] == 1 and small["uname"] == "root"
    assert small["mtime"].endswith("Z") and small["date"].endswith("Z")


def test_filters_and_the_query_language(api, wazuh, tree):
    sha = hashlib.sha256(b"m" * 100).hexdigest()
    md5 = hashlib.md5(b"b" * 1000).hexdigest()
    cases = {
        (("file", str(tree / "small.txt")),): [str(tree / "small.txt")],
        (("sha256", sha),): [str(tree / "medium.txt")],
        (("hash", md5),): [str(tree / "etc" / "big.conf")],
        (("q", "size>50"), ("sort", "-size")): [str(tree / "etc" / "big.conf"), str(tree / "medium.txt")],
        (("search", "medium"),): [str(tree / "medium.txt")],
        (("type", "registry_key"),): [],
        (("limit", "1"), ("offset", "1"), ("sort", "size")): [str(tree / "medium.txt")],
    }
    for params, expected in cases.items():
        reply = api.get("/syscheck/000", params=dict(params))
        valid(wazuh, "/syscheck/{agent_id}", "get", reply)
        assert [i["file"] for i in items(reply)] == expected, params
    summary = items(api.get("/syscheck/000", params={"summary": "true", "limit": 1}))
    assert set(summary[0]) == {"file", "mtime", "date"}
    distinct = items(api.get("/syscheck/000", params={"select": "uname", "distinct": "true"}))
    assert distinct == [{"uname": "root"}]
    total = api.get("/syscheck/000", params={"limit": 1}).json()["data"]["total_affected_items"]
    assert total == 3
    assert_problem(api.get("/syscheck/000", params={"q": "color=red"}), 400, 1408)
    assert api.get("/syscheck/000", params={"md5": "not-a-hash"}).status_code == 400


def test_scan_now_and_last_scan(api, wazuh, daemon, tree):
    before = items(api.get("/syscheck/000/last_scan"))[0]
    valid(wazuh, "/syscheck/{agent_id}/last_scan", "get", api.get("/syscheck/000/last_scan"))
    assert before["start"] and before["end"] and before["start"] <= before["end"]
    time.sleep(1.1)  # the dates have a second's resolution
    write(tree / "small.txt", "changed\n")
    scans = scan_count(daemon)
    reply = api.put("/syscheck", params={"agents_list": "000"})
    body = valid(wazuh, "/syscheck", "put", reply)
    assert body["data"]["affected_items"] == ["000"]
    assert body["message"] == "Syscheck scan was restarted on returned agents"
    assert wait_for(lambda: scan_count(daemon) > scans, 10)
    after = items(api.get("/syscheck/000/last_scan"))[0]
    assert after["start"] > before["start"]
    changed = items(api.get("/syscheck/000", params={"file": str(tree / "small.txt")}))[0]
    assert changed["changes"] == 2 and changed["size"] == 8


def test_scans_of_other_agents_are_queued_tasks(api, wazuh, daemon):
    active = api.post("/agents", json={"name": "fim-active", "ip": "10.9.0.1"}).json()["data"]["id"]
    idle = api.post("/agents", json={"name": "fim-idle", "ip": "10.9.0.2"}).json()["data"]["id"]
    daemon.request("agents", "keepalive", {"id": active})
    reply = api.put("/syscheck", params={"agents_list": f"000,{active},{idle},999"})
    body = valid(wazuh, "/syscheck", "put", reply)
    assert body["data"]["affected_items"] == ["000", active]
    failed = {f["error"]["code"]: f["id"] for f in body["data"]["failed_items"]}
    assert failed == {1701: ["999"], 1707: [idle]}
    tasks = items(api.get("/tasks/status", params={"module": "syscheck"}))
    assert [(t["agent"], t["command"], t["status"]) for t in tasks] == [(active, "scan", "Pending")]
    # another agent's baseline: empty, but there; an unknown agent: 1701
    assert items(api.get(f"/syscheck/{active}")) == []
    assert items(api.get(f"/syscheck/{active}/last_scan")) == [{"start": None, "end": None}]
    valid(wazuh, "/syscheck/{agent_id}/last_scan", "get", api.get(f"/syscheck/{active}/last_scan"))
    missing = api.get("/syscheck/999")
    assert missing.status_code in (400, 404) and missing.json()["error"] == 1701


def test_rbac_on_agent_resources(api, daemon):
    other_only = user_with_policy(daemon, api, "fim_reader", ["syscheck:read"], ["agent:id:001"])
    denied = other_only.get("/syscheck/000")
    assert denied.status_code == 403 and denied.json()["error"] == 4000
    assert other_only.put("/syscheck", params={"agents_list": "000"}).status_code == 403
    runner = user_with_policy(daemon, api, "fim_runner", ["syscheck:run", "syscheck:read"], ["agent:id:000"])
    assert items(runner.get("/syscheck/000"))
    # a list operation only reaches the allowed agents
    assert items(runner.put("/syscheck")) == ["000"]
    assert runner.delete("/syscheck/000").status_code == 403


def test_clear_forgets_the_baseline_until_the_next_scan(api, wazuh, daemon, tree):
    alerts_before = len(daemon.fim_alerts())
    body = valid(wazuh, "/syscheck/{agent_id}", "delete", api.delete("/syscheck/000"))
    assert body["data"]["affected_items"] == ["000"]
    assert body["message"] == "Syscheck database was cleared on returned agents"
    assert items(api.get("/syscheck/000")) == []
    assert items(api.get("/syscheck/000/last_scan")) == [{"start": None, "end": None}]
    scans = scan_count(daemon)
    api.put("/syscheck")
    assert wait_for(lambda: scan_count(daemon) > scans, 10)
    assert len(items(api.get("/syscheck/000"))) == 3
    assert len(daemon.fim_alerts()) == alerts_before  # recorded again, silently


def test_spec_is_served_with_the_syscheck_paths(api):
    spec = api.get("/api/spec.yaml")
    assert spec.status_code == 200
    for path in ("/syscheck:", "/syscheck/{agent_id}:", "/syscheck/{agent_id}/last_scan:"):
        assert path in spec.text
