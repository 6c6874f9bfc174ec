"""The built-in FIM decoder: syscheck events (location ``syscheck``, Wazuh 4.x FIM JSON) decode
as Wazuh's analysisd decodes them, so Wazuh's rules 550/553/554 and the syscheck plugin's
starter rules alert with the ``syscheck`` section."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from wazuhd.testing import shared_dir
from wazuhd_analysis.engine import Engine, Ruleset, RulesetConfig
from wazuhd_analysis.service import STARTER_RULESET

WAZUH = shared_dir() / "wazuh-ruleset"
needs_wazuh = pytest.mark.skipif(not (WAZUH / "rules").is_dir(),
                                 reason=f"Wazuh ruleset not found at {WAZUH}")

OLD = {"type": "file", "size": 5, "perm": "rw-r--r--", "uid": "0", "gid": "0", "user_name": "root",
       "group_name": "root", "inode": 12, "mtime": 1700000000, "hash_md5": "a" * 32,
       "hash_sha1": "b" * 40, "hash_sha256": "c" * 64}
NEW = {**OLD, "size": 9, "perm": "rwsr-xr-x", "mtime": 1700000100, "hash_md5": "d" * 32,
       "hash_sha1": "e" * 40, "hash_sha256": "f" * 64}


def fim(kind: str, path: str = "/srv/app/config.ini", **extra) -> str:
    data = {"path": path, "version": 2.0, "mode": "realtime", "type": kind,
            "attributes": OLD if kind == "deleted" else NEW, **extra}
    if kind == "modified":
        data.setdefault("old_attributes", OLD)
        data.setdefault("changed_attributes", ["size", "permission", "mtime", "md5", "sha1", "sha256"])
    return json.dumps({"type": "event", "data": data})


def syscheck_starter_rules() -> list[str]:
    try:
        directory = Path(str(resources.files("wazuhd_syscheck").joinpath("ruleset", "rules")))
    except ModuleNotFoundError:
        return []
    return [str(directory)] if directory.is_dir() else []


@pytest.fixture(scope="module")
def wazuh_engine():
    ruleset = Ruleset.load(RulesetConfig(decoder_dirs=[str(WAZUH / "decoders")],
                                         rule_dirs=[str(WAZUH / "rules"), *syscheck_starter_rules()],
                                         list_files=[]))
    return Engine(ruleset)


@needs_wazuh
@pytest.mark.parametrize("kind, rule, decoder", [("added", "554", "syscheck_new_entry"),
                                                 ("deleted", "553", "syscheck_deleted")])
def test_added_and_deleted_fire_wazuh_rules(wazuh_engine, kind, rule, decoder):
    result = wazuh_engine.process(fim(kind), "syscheck")
    assert result.rule.id == rule
    alert = result.alert
    assert alert["decoder"] == {"name": decoder}
    assert "syscheck_file" in alert["rule"]["groups"]
    assert "data" not in alert
    section = alert["syscheck"]
    assert section["path"] == "/srv/app/config.ini" and section["event"] == kind
    assert section["mode"] == "realtime"
    attributes = OLD if kind == "deleted" else NEW
    assert section["size_after"] == str(attributes["size"])
    assert section["md5_after"] == attributes["hash_md5"]
    assert section["uname_after"] == "root" and section["inode_after"] == 12
    assert "size_before" not in section
    assert alert["full_log"].startswith(f"File '/srv/app/config.ini' {kind}\nMode: realtime\n")


@needs_wazuh
def test_modified_fires_550_with_before_and_after(wazuh_engine):
    result = wazuh_engine.process(fim("modified", content_changes="@@ -1 +1 @@\n-a\n+b"), "syscheck")
    # the starter rule 192010 (setuid) refines Wazuh's 550: the chmod u+s makes it fire
    assert result.rule.id == "192010"
    plain = wazuh_engine.process(fim("modified", "/srv/app/x", changed_attributes=["md5"],
                                     attributes={**NEW, "perm": "rw-r--r--"}), "syscheck")
    assert plain.rule.id == "550"
    section = result.alert["syscheck"]
    assert section["size_before"] == "5" and section["size_after"] == "9"
    assert section["perm_before"] == "rw-r--r--" and section["perm_after"] == "rwsr-xr-x"
    assert section["sha256_before"] == "c" * 64 and section["sha256_after"] == "f" * 64
    assert section["mtime_before"] == "2023-11-14T22:13:20"
    assert section["changed_attributes"] == ["size", "permission", "mtime", "md5", "sha1", "sha256"]
    assert section["diff"] == "@@ -1 +1 @@\n-a\n+b"
    log = result.alert["full_log"]
    assert "Changed attributes: size,permission,mtime,md5,sha1,sha256\n" in log
    assert "Size changed from '5' to '9'" in log
    assert "Permissions changed from 'rw-r--r--' to 'rwsr-xr-x'" in log
    assert f"Old md5sum was: '{'a' * 32}'\nNew md5sum is : '{'d' * 32}'" in log


@needs_wazuh
def test_agent_events_and_tags(wazuh_engine):
    result = wazuh_engine.process(fim("added", tags="web,prod"), "[007] (web7) 10.0.0.7->syscheck")
    assert result.rule.id == "554"
    assert result.alert["agent"] == {"id": "007", "name": "web7", "ip": "10.0.0.7"}
    assert result.alert["location"] == "syscheck"
    assert result.alert["syscheck"]["tags"] == ["web", "prod"]


@needs_wazuh
@pytest.mark.skipif(not syscheck_starter_rules(), reason="the syscheck plugin (wazuhd-syscheck) is not installed")
def test_starter_rule_on_privileged_configuration(wazuh_engine):
    result = wazuh_engine.process(fim("modified", "/etc/sudoers.d/ops", changed_attributes=["md5"],
                                      attributes={**NEW, "perm": "r--r-----"}), "syscheck")
    assert result.rule.id == "192011"
    assert result.alert["rule"]["level"] == 10
    assert result.alert["rule"]["description"].endswith("(/etc/sudoers.d/ops).")


@pytest.mark.skipif(not syscheck_starter_rules(), reason="the syscheck plugin (wazuhd-syscheck) is not installed")
def test_starter_rules_alone_alert_on_fim_events():
    """Without Wazuh's ruleset, the starter templates (ossec: rule 8) and the syscheck plugin's
    rules alert on every FIM event, with no loading warning."""
    ruleset = Ruleset.load(RulesetConfig(rule_dirs=[str(STARTER_RULESET / "templates"),
                                                    *syscheck_starter_rules()]))
    assert ruleset.warnings == []
    engine = Engine(ruleset)
    assert [engine.process(fim(kind), "syscheck").rule.id for kind in ("added", "deleted")] == ["192000", "192002"]
    plain = engine.process(fim("modified", changed_attributes=["md5"], attributes={**NEW, "perm": "rw-r--r--"}),
                           "syscheck")
    assert plain.rule.id == "192001" and plain.alert["syscheck"]["event"] == "modified"
    assert engine.process(fim("modified"), "syscheck").rule.id == "192010"  # setuid


@pytest.mark.parametrize("message, location", [
    (fim("added"), "/var/log/syslog"),          # a FIM message from elsewhere is a plain log
    ('{"type": "scan_start", "data": {}}', "syscheck"),
    ('{"type": "event", "data": {"path": "/x", "type": "renamed"}}', "syscheck"),
    ("ossec: Ending syscheck scan.", "syscheck"),
    ("{not json", "syscheck"),
])
def test_other_messages_are_not_fim_events(message, location):
    engine = Engine(Ruleset.load(RulesetConfig()))
    result = engine.process(message, location)
    assert not result.decoder_name.startswith("syscheck_")
