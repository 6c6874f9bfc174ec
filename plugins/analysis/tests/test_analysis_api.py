"""The analysis API end to end: a real daemon, real HTTPS, real sockets.

Two daemons per module: one with Wazuh's ruleset from ../shared (listing and filters,
counts checked against the XML files; skipped with a reason when absent) and one with the
starter ruleset only (file uploads, reload under load, logtest, events, RBAC: fast loads).
Responses of Wazuh's operations are also validated against Wazuh's own response schemas.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from wazuhd.plugins import make_plugin_host
from wazuhd.sockets import send_event
from wazuhd.testing import ApiDaemon, WazuhSchemas, shared_dir, wait_for, wazuh_spec_path
from wazuhd_analysis.service import plugin_rulesets

RULESET = shared_dir() / "wazuh-ruleset"
OCTET = {"Content-Type": "application/octet-stream"}
PASSWORD = "Rul3s!Passw0rd"
INVALID_USER = "Nov 26 16:21:11 web01 sshd[311]: Invalid user bob from 203.0.113.9 port 4444"
EXCLUDED = "0145-wordpress_rules.xml"  # listed as disabled
NEEDS_RULESET = pytest.mark.skipif(not (RULESET / "rules").is_dir(),
                                   reason=f"Wazuh's ruleset is absent ({RULESET})")


API = "  access:\n    max_request_per_minute: 0\n  intervals:\n    request_timeout: 60\n"


def Daemon(home: Path, extra: str = "") -> ApiDaemon:
    """A daemon with its API on a free port, no request limit, a generous timeout."""
    return ApiDaemon(home, api=API, extra=extra)


@pytest.fixture(scope="module")
def full_daemon(tmp_path_factory):
    if not (RULESET / "rules").is_dir():
        pytest.skip(f"Wazuh's ruleset is absent ({RULESET})")
    extra = (f"analysis:\n  ruleset:\n    decoder_dirs: [{RULESET / 'decoders'}]\n"
             f"    rule_dirs: [{RULESET / 'rules'}]\n    list_files: [{RULESET / 'lists'}]\n"
             f"    rule_exclude: [{EXCLUDED}]\n")
    daemon = Daemon(tmp_path_factory.mktemp("full") / "home", extra).start(timeout=60)
    yield daemon
    daemon.kill()


@pytest.fixture(scope="module")
def full(full_daemon):
    with full_daemon.client(full_daemon.login()) as client:
        yield client


@pytest.fixture(scope="module")
def starter_daemon(tmp_path_factory):
    extra = "analysis:\n  api:\n    events_max_request_per_minute: 12\n"
    daemon = Daemon(tmp_path_factory.mktemp("starter") / "home", extra).start(timeout=30)
    yield daemon
    daemon.kill()


@pytest.fixture(scope="module")
def api(starter_daemon):
    with starter_daemon.client(starter_daemon.login()) as client:
        yield client


def data(reply: httpx.Response) -> dict:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def items(client: httpx.Client, path: str, **params) -> tuple[list, int]:
    body = data(client.get(path, params=params))
    return body["affected_items"], body["total_affected_items"]


def strip_comments(text: str) -> str:
    return re.sub(r"<!--.*?-->", "", text, flags=re.S)


def alerts(home: Path) -> list[dict]:
    path = home / "logs" / "alerts" / "alerts.json"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- Wazuh's ruleset: listing and filters ----------------------------------------------


@NEEDS_RULESET
def test_rules_listing_matches_the_xml_files(full):
    sshd = RULESET / "rules" / "0095-sshd_rules.xml"
    expected = len(re.findall(r"<rule\s+id=", strip_comments(sshd.read_text())))
    rows, total = items(full, "/rules", filename="0095-sshd_rules.xml", limit=500)
    assert total == expected == len(rows)
    assert {r["relative_dirname"] for r in rows} == {str(RULESET / "rules")}
    # every file: as many rules as the XML holds
    every, _ = items(full, "/rules", select="filename", limit=100000)
    listed = Counter(r["filename"] for r in every)
    for path in (RULESET / "rules").glob("*.xml"):
        assert listed[path.name] == len(re.findall(r"<rule\s+id=", strip_comments(path.read_text()))), path
    # every rule file of the directory is listed, plus the starter ones: the analysis
    # plugin's (templates, rules) and those of every installed plugin's wazuhd_ruleset
    files, total_files = items(full, "/rules/files", limit=1000)
    plugins = plugin_rulesets(make_plugin_host())
    starter = 2 + sum(len(list((root / "rules").glob("*.xml"))) for root in plugins.values())
    assert total_files == len(list((RULESET / "rules").glob("*.xml"))) + starter
    for plugin, root in plugins.items():
        for path in (root / "rules").glob("*.xml"):
            assert {"filename": path.name, "relative_dirname": f"wazuhd/{plugin}/ruleset/rules",
                    "status": "enabled"} in files
    assert {"filename": "0095-sshd_rules.xml", "relative_dirname": str(RULESET / "rules"),
            "status": "enabled"} in files
    # an excluded file is listed, disabled, with its rules
    disabled, total = items(full, "/rules/files", status="disabled")
    assert disabled == [{"filename": EXCLUDED, "relative_dirname": str(RULESET / "rules"),
                         "status": "disabled"}]
    rows, total = items(full, "/rules", status="disabled", limit=500)
    assert total == len(re.findall(r"<rule\s+id=", strip_comments((RULESET / "rules" / EXCLUDED).read_text())))
    assert {r["filename"] for r in rows} == {EXCLUDED}
    _, enabled = items(full, "/rules", status="enabled", limit=1)
    _, every = items(full, "/rules", limit=1)
    assert enabled + total == every
    # one rule in Wazuh's shape
    (rule,), _ = items(full, "/rules", rule_ids="5710")
    assert rule["level"] == 5 and rule["filename"] == "0095-sshd_rules.xml"
    assert rule["details"]["if_sid"] == "5700"
    assert rule["details"]["match"]["pattern"] == "illegal user|invalid user"
    assert "invalid_login" in rule["groups"] and "sshd" in rule["groups"]
    assert "10.2.4" in rule["pci_dss"] and rule["mitre"] and rule["nist_800_53"]


@NEEDS_RULESET
def test_rule_filters_and_query_language(full):
    rows, total = items(full, "/rules", level="10-12", group="sshd", limit=500)
    assert total == len(rows) > 0
    assert all(10 <= r["level"] <= 12 and "sshd" in r["groups"] for r in rows)
    rows, _ = items(full, "/rules", pci_dss="10.2.4", select="level", sort="-level", limit=5)
    assert [set(r) for r in rows] == [{"id", "level"}] * 5
    assert [r["level"] for r in rows] == sorted((r["level"] for r in rows), reverse=True)
    rows, total = items(full, "/rules", q="level>13", limit=500)
    assert total and all(r["level"] > 13 for r in rows)
    _, every = items(full, "/rules", limit=1)
    _, with_search = items(full, "/rules", search="sshd", limit=1)
    _, without = items(full, "/rules", search="-sshd", limit=1)
    assert with_search + without == every
    body = data(full.get("/rules", params={"rule_ids": "5710,999999"}))
    assert body["total_affected_items"] == 1 and body["failed_items"][0]["error"]["code"] == 1208
    assert full.get("/rules", params={"level": "2-4-6"}).status_code == 400
    groups, total = items(full, "/rules/groups", limit=1000)
    assert "sshd" in groups and total == len(groups) > 100
    requirements, _ = items(full, "/rules/requirement/pci_dss", limit=1000)
    assert "10.2.4" in requirements
    mitre, _ = items(full, "/rules/requirement/mitre", search="T1110", limit=100)
    assert mitre and all("T1110" in m for m in mitre)


@NEEDS_RULESET
def test_decoders_and_lists(full):
    ssh = RULESET / "decoders" / "0310-ssh_decoders.xml"
    expected = len(re.findall(r"<decoder\s+name=", strip_comments(ssh.read_text())))
    rows, total = items(full, "/decoders", filename="0310-ssh_decoders.xml", limit=500)
    assert total == expected and [r["position"] for r in rows] == list(range(expected))
    every, _ = items(full, "/decoders", select="filename", limit=100000)
    listed = Counter(r["filename"] for r in every)
    for path in (RULESET / "decoders").glob("*.xml"):
        assert listed[path.name] == len(re.findall(r"<decoder\s+name=", strip_comments(path.read_text()))), path
    parents, _ = items(full, "/decoders/parents", limit=1000)
    assert parents and all("parent" not in r["details"] for r in parents)
    (sshd,), _ = items(full, "/decoders", decoder_names="sshd", filename="0310-ssh_decoders.xml")
    assert sshd["details"]["program_name"]["pattern"] == "^sshd"
    files, total = items(full, "/decoders/files", limit=1000)
    assert total == len(list((RULESET / "decoders").glob("*.xml"))) + 1
    lists, _ = items(full, "/lists", filename="audit-keys")
    expected_items = [dict(zip(("key", "value"), line.split(":", 1)))
                      for line in (RULESET / "lists" / "audit-keys").read_text().splitlines() if line]
    assert lists[0]["items"] == expected_items
    paths, _ = items(full, "/lists/files", limit=100)
    assert {"relative_dirname": str(RULESET / "lists" / "amazon"), "filename": "aws-eventnames"} in paths


@NEEDS_RULESET
def test_file_download_raw_and_parsed(full):
    reply = full.get("/rules/files/0095-sshd_rules.xml", params={"raw": "true"})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/xml")
    assert reply.text == (RULESET / "rules" / "0095-sshd_rules.xml").read_text()
    (parsed,), _ = items(full, "/rules/files/0010-rules_config.xml")
    assert parsed["group"][0]["@name"] == "syslog,"
    assert parsed["group"][0]["rule"]["@id"] == "1"
    assert parsed["group"][0]["rule"]["description"] == "Generic template for all syslog rules."
    reply = full.get("/decoders/files/0310-ssh_decoders.xml", params={"raw": "true"})
    assert reply.text == (RULESET / "decoders" / "0310-ssh_decoders.xml").read_text()
    reply = full.get("/lists/files/audit-keys", params={"raw": "true"})
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.text == (RULESET / "lists" / "audit-keys").read_text()
    body = data(full.get("/rules/files/nope.xml"))
    assert body["failed_items"][0]["error"]["code"] == 1415


# -- user files: upload validated against the whole ruleset ----------------------------

LOCAL_RULES = """<group name="local,">
  <rule id="100100" level="9">
    <if_sid>190102</if_sid>
    <user>^bob$</user>
    <description>local: bob again</description>
  </rule>
</group>
"""
BAD_RULES = """<group name="local,">
  <rule id="100200" level="5">
    <if_sid>190102</if_sid>
    <no_such_option>x</no_such_option>
    <description>broken</description>
  </rule>
</group>
"""


def logtest(client: httpx.Client, event: str = INVALID_USER) -> dict:
    return data(client.put("/logtest", json={"event": event, "log_format": "syslog",
                                             "location": "/var/log/auth.log"}))["output"]


def test_put_rule_file_valid_then_invalid(api, starter_daemon):
    home = starter_daemon.home
    # the user directories exist from the start, as Wazuh's etc/rules, etc/decoders, etc/lists
    assert all((home / "etc" / kind).is_dir() for kind in ("rules", "decoders", "lists"))
    assert logtest(api)["rule"]["id"] == "190102"
    body = data(api.put("/rules/files/local_rules.xml", content=LOCAL_RULES, headers=OCTET))
    assert body["affected_items"] == ["etc/rules/local_rules.xml"], body
    assert (home / "etc" / "rules" / "local_rules.xml").read_text() == LOCAL_RULES
    assert logtest(api)["rule"]["id"] == "100100"  # loaded, no restart
    (rule,), _ = items(api, "/rules", rule_ids="100100")
    assert rule["relative_dirname"] == "etc/rules" and rule["details"]["user"] == {"pattern": "^bob$"}
    # an existing file needs overwrite=true
    reply = api.put("/rules/files/local_rules.xml", content=LOCAL_RULES, headers=OCTET)
    assert reply.json()["data"]["failed_items"][0]["error"]["code"] == 1905
    reply = api.put("/rules/files/local_rules.xml", params={"overwrite": "true"},
                    content=LOCAL_RULES.replace('level="9"', 'level="10"'), headers=OCTET)
    assert data(reply)["total_affected_items"] == 1
    assert logtest(api)["rule"]["level"] == 10
    # a file the engine refuses: error 1113 naming the line; nothing changes
    reply = api.put("/rules/files/bad_rules.xml", content=BAD_RULES, headers=OCTET)
    body = reply.json()
    assert reply.status_code == 200 and body["error"] == 1, body
    error = body["data"]["failed_items"][0]["error"]
    assert error["code"] == 1113 and "etc/rules/bad_rules.xml:4" in error["message"]
    assert "100200" in error["message"] and "no_such_option" in error["message"]
    assert not (home / "etc" / "rules" / "bad_rules.xml").exists()
    assert logtest(api)["rule"]["id"] == "100100"
    broken_xml = api.put("/rules/files/bad_rules.xml", content="<group name='x'>\n<rule id='1'",
                         headers=OCTET).json()
    assert broken_xml["data"]["failed_items"][0]["error"]["code"] == 1113
    # default (starter) rules are read-only; wrong body type is Wazuh's 406
    reply = api.put("/rules/files/x.xml", params={"relative_dirname": "wazuhd/ruleset/rules"},
                    content=LOCAL_RULES, headers=OCTET)
    assert reply.json()["data"]["failed_items"][0]["error"]["code"] == 1210
    assert api.put("/rules/files/x.xml", content=LOCAL_RULES,
                   headers={"Content-Type": "text/plain"}).status_code == 406
    assert api.put("/rules/files/..%2Fx.xml", content=LOCAL_RULES, headers=OCTET).status_code in (400, 404)
    # delete: gone from disk and from the running ruleset
    body = data(api.delete("/rules/files/local_rules.xml"))
    assert body["affected_items"] == ["etc/rules/local_rules.xml"]
    assert logtest(api)["rule"]["id"] == "190102"
    assert data(api.delete("/rules/files/local_rules.xml"))["failed_items"][0]["error"]["code"] == 1906


def test_put_decoder_and_list_files(api, starter_daemon):
    decoder = ('<decoder name="acme">\n  <prematch>^acme: </prematch>\n</decoder>\n'
               '<decoder name="acme-user">\n  <parent>acme</parent>\n'
               '  <regex offset="after_prematch">^user (\\S+)</regex>\n  <order>user</order>\n</decoder>\n')
    body = data(put_text(api, "/decoders/files/local_decoder.xml", decoder))
    assert body["affected_items"] == ["etc/decoders/local_decoder.xml"]
    output = logtest(api, "acme: user carol")
    assert output["decoder"] == {"name": "acme"} and output["data"] == {"dstuser": "carol"}
    rows, _ = items(api, "/decoders", decoder_names="acme-user")
    assert rows[0]["details"]["regex"] == {"pattern": "^user (\\S+)", "offset": "after_prematch"}
    orphan = '<decoder name="orphan">\n  <parent>nobody</parent>\n  <regex>x</regex>\n</decoder>\n'
    error = data(put_text(api, "/decoders/files/orphan.xml", orphan))["failed_items"][0]["error"]
    assert error["code"] == 1113 and "etc/decoders/orphan.xml:1" in error["message"] and "orphan" in error["message"]
    assert data(api.delete("/decoders/files/local_decoder.xml"))["total_affected_items"] == 1
    # CDB lists
    body = data(put_text(api, "/lists/files/blocked-users", "bob:blocked\n\"a:b\":x\n"))
    assert body["affected_items"] == ["etc/lists/blocked-users"]
    assert items(api, "/lists/files/blocked-users")[0] == [{"bob": "blocked", "a:b": "x"}]
    (row,), _ = items(api, "/lists", filename="blocked-users")
    assert row == {"items": [{"key": "bob", "value": "blocked"}, {"key": "a:b", "value": "x"}],
                   "relative_dirname": "etc/lists", "filename": "blocked-users"}
    error = data(put_text(api, "/lists/files/bad-list", "ok:1\nno colon here\n"))["failed_items"][0]["error"]
    assert error["code"] == 1800 and "line 2" in error["message"]
    assert data(api.delete("/lists/files/blocked-users"))["total_affected_items"] == 1
    assert data(api.get("/lists/files/blocked-users"))["failed_items"][0]["error"]["code"] == 1802


def put_text(client: httpx.Client, path: str, text: str) -> httpx.Response:
    return client.put(path, content=text, headers=OCTET)


# -- reload ----------------------------------------------------------------------------


def received(daemon: Daemon) -> int:
    return daemon.counters("analysis")["received"]


def reload_under_load(client: httpx.Client, daemon: Daemon, reloads: int) -> int:
    """Events flow through the queue socket while the ruleset is reloaded ``reloads`` times;
    every event sent is counted as received by the analysis. Returns how many were sent."""
    before = received(daemon)
    status = daemon.counters("analysis")["reloads"]
    sent, stop = [0], threading.Event()

    def flood():
        while not stop.is_set() and sent[0] < 50000:
            send_event(daemon.socket("queue"), "1", "/var/log/auth.log", INVALID_USER)
            sent[0] += 1
            if sent[0] % 200 == 0:
                time.sleep(0.01)

    thread = threading.Thread(target=flood)
    thread.start()
    try:
        assert wait_for(lambda: sent[0] >= 200)  # events are flowing before the first reload
        for _ in range(reloads):
            body = client.put("/manager/analysisd/reload").json()
            assert body["error"] == 0, body
            assert body["message"] == "Reload request sent to all specified nodes"
            assert [item["name"] for item in body["data"]["affected_items"]] == ["manager"]
    finally:
        stop.set()
        thread.join()
    assert wait_for(lambda: received(daemon) - before == sent[0], timeout=60), \
        (received(daemon) - before, sent[0])
    assert daemon.counters("analysis")["reloads"] == status + reloads
    return sent[0]


def test_reload_under_load_loses_no_event(api, starter_daemon):
    reload_under_load(api, starter_daemon, 4)
    body = api.put("/manager/analysisd/reload").json()
    assert body["data"]["affected_items"] == [
        {"name": "manager", "msg": "Ruleset reload request sent successfully."}]


@NEEDS_RULESET
def test_reload_of_wazuhs_ruleset_under_load(full, full_daemon):
    """Each reload loads ~4,000 rules (seconds) while events keep arriving."""
    reload_under_load(full, full_daemon, 2)


def test_failing_reload_keeps_the_running_ruleset(api, starter_daemon):
    broken = starter_daemon.home / "etc" / "rules" / "zz_broken.xml"
    broken.write_text(BAD_RULES)  # behind the API's back
    try:
        body = api.put("/manager/analysisd/reload").json()
        assert body["error"] == 1 and body["data"]["total_failed_items"] == 1, body
        error = body["data"]["failed_items"][0]
        assert error["id"] == ["manager"] and error["error"]["code"] == 1914
        assert "zz_broken.xml:4" in error["error"]["message"]
        assert logtest(api)["rule"]["id"] == "190102"  # the old ruleset still runs
    finally:
        broken.unlink()
    assert api.put("/manager/analysisd/reload").json()["error"] == 0


# -- logtest and events ----------------------------------------------------------------


def test_logtest_api_sessions(api):
    first = data(api.put("/logtest", json={"event": INVALID_USER, "log_format": "syslog",
                                           "location": "/var/log/auth.log"}))
    token = first["token"]
    assert first["messages"] == [f"INFO: (7202): Session initialized with token '{token}'"]
    assert first["alert"] is True and first["codemsg"] == 1
    again = data(api.put("/logtest", json={"token": token, "event": INVALID_USER,
                                           "log_format": "syslog", "location": "x"}))
    assert again["token"] == token and again["output"]["rule"]["firedtimes"] == 2
    reply = api.delete(f"/logtest/sessions/{token}")
    assert reply.json() == {"data": {"messages": [
        f"INFO: (7206): The session '{token}' was closed successfully"], "codemsg": 0}, "error": 0}
    assert data(api.delete(f"/logtest/sessions/{token}"))["codemsg"] == -1
    reply = api.put("/logtest", json={"event": "x", "log_format": "nope", "location": "x"})
    assert reply.status_code == 400 and reply.json()["error"] == 7000
    assert api.put("/logtest", json={"event": "x"}).status_code == 400  # required fields


def test_post_events_become_alerts_and_are_limited(api, starter_daemon):
    marker = "Nov 26 16:21:11 web01 sshd[311]: Invalid user eventsapi from 198.51.100.7 port 1"
    body = api.post("/events", json={"events": [marker, "plain text event"]}).json()
    assert body == {"data": {"affected_items": [marker, "plain text event"], "total_affected_items": 2,
                             "total_failed_items": 0, "failed_items": []},
                    "message": "All events were forwarded to analisysd", "error": 0}
    assert wait_for(lambda: any(a["full_log"] == marker for a in alerts(starter_daemon.home)))
    alert = next(a for a in alerts(starter_daemon.home) if a["full_log"] == marker)
    assert alert["location"] == "API-Webhook" and alert["rule"]["id"] == "190102"
    assert api.post("/events", json={"events": ["x"] * 101}).status_code == 400
    assert api.post("/events", json={"nope": []}).status_code == 400
    statuses = [api.post("/events", json={"events": ["ping"]}) for _ in range(13)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and limited[0].json()["error"] == 6005


# -- RBAC ------------------------------------------------------------------------------


def make_user(api: httpx.Client, name: str, role_ids: str) -> None:
    reply = api.post("/security/users", json={"username": name, "password": PASSWORD})
    user_id = data(reply)["affected_items"][0]["id"]
    assert data(api.post(f"/security/users/{user_id}/roles", params={"role_ids": role_ids}))


def test_rbac_actions_are_declared(api):
    reply = api.get("/security/actions", params={"endpoint": "PUT /rules/files/{filename}"})
    assert sorted(data(reply)) == ["rules:delete", "rules:update"]
    actions = data(api.get("/security/actions"))
    assert actions["decoders:read"]["resources"] == ["decoder:file"]
    assert actions["lists:delete"]["resources"] == ["list:file"]
    assert {"logtest:run", "event:ingest", "manager:read", "manager:restart"} <= set(actions)


def test_rbac_readonly_reads_but_cannot_change(api, starter_daemon):
    make_user(api, "rules_reader", "2")  # Wazuh's default role 2: readonly
    with starter_daemon.client(starter_daemon.login("rules_reader", PASSWORD)) as reader:
        assert data(reader.get("/rules"))["total_affected_items"] > 0
        assert data(reader.get("/decoders/files"))["total_affected_items"] == 1
        reply = reader.put("/rules/files/local_rules.xml", content=LOCAL_RULES, headers=OCTET)
        assert reply.status_code == 403 and reply.json()["error"] == 4000
        assert reader.delete("/rules/files/0001-wazuhd_rules.xml").status_code == 403
        assert reader.put("/manager/analysisd/reload").status_code == 403
        assert reader.put("/logtest", json={"event": "x", "log_format": "syslog",
                                            "location": "x"}).status_code == 403
        assert reader.post("/events", json={"events": ["x"]}).status_code == 403
    assert not (starter_daemon.home / "etc" / "rules" / "local_rules.xml").exists()


def test_rbac_policy_on_one_rule_file(api, starter_daemon):
    policy = data(api.post("/security/policies", json={"name": "templates_only", "policy": {
        "actions": ["rules:read"], "resources": ["rule:file:0000-wazuhd_templates.xml"],
        "effect": "allow"}}))["affected_items"][0]["id"]
    role = data(api.post("/security/roles", json={"name": "templates_reader"}))["affected_items"][0]["id"]
    data(api.post(f"/security/roles/{role}/policies", params={"policy_ids": str(policy)}))
    make_user(api, "templates_user", str(role))
    with starter_daemon.client(starter_daemon.login("templates_user", PASSWORD)) as user:
        rows, total = items(user, "/rules", limit=100)
        assert total == len(rows) > 0 and {r["filename"] for r in rows} == {"0000-wazuhd_templates.xml"}
        body = data(user.get("/rules/files", params={"filename": "0000-wazuhd_templates.xml,"
                                                                 "0001-wazuhd_rules.xml"}))
        assert [f["filename"] for f in body["affected_items"]] == ["0000-wazuhd_templates.xml"]
        assert body["failed_items"][0]["error"]["code"] == 4000
        assert user.get("/rules/files/0001-wazuhd_rules.xml").status_code == 403


# -- our responses against Wazuh's response schemas ------------------------------------


WAZUH = WazuhSchemas.load()


@pytest.mark.skipif(WAZUH is None, reason=f"Wazuh's spec is absent ({wazuh_spec_path()})")
def test_responses_validate_against_wazuh_schemas(api):
    def check(method: str, path: str, template: str, **kwargs) -> None:
        reply = api.request(method, path, **kwargs)
        media = reply.headers["content-type"].split(";")[0]
        media = "application/json" if media == "application/problem+json" else media
        body = reply.json() if "json" in media else reply.text
        errors = WAZUH.errors(template, method.lower(), reply.status_code, body, media)
        assert errors == [], f"{method} {path} -> {reply.status_code}: {errors}\n{reply.text[:500]}"

    check("GET", "/rules?limit=3", "/rules")
    check("GET", "/rules?level=x-y-z", "/rules")
    check("GET", "/rules/groups", "/rules/groups")
    check("GET", "/rules/requirement/gdpr", "/rules/requirement/{requirement}")
    check("GET", "/rules/files", "/rules/files")
    check("GET", "/rules/files/0001-wazuhd_rules.xml", "/rules/files/{filename}")
    check("GET", "/rules/files/0001-wazuhd_rules.xml?raw=true", "/rules/files/{filename}")
    check("GET", "/decoders", "/decoders")
    check("GET", "/decoders/files", "/decoders/files")
    check("GET", "/decoders/parents", "/decoders/parents")
    check("GET", "/lists", "/lists")
    check("GET", "/lists/files", "/lists/files")
    check("PUT", "/manager/analysisd/reload", "/manager/analysisd/reload")
    check("PUT", "/logtest", "/logtest", json={"event": INVALID_USER, "log_format": "syslog",
                                               "location": "x"})
    check("DELETE", "/logtest/sessions/abcd", "/logtest/sessions/{token}")
    check("PUT", "/rules/files/schema_check.xml", "/rules/files/{filename}",
          content=LOCAL_RULES.replace("100100", "100300"), headers=OCTET)
    check("DELETE", "/rules/files/schema_check.xml", "/rules/files/{filename}")
