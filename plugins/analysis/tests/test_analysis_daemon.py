"""The analysis plugin inside a real daemon: events in through the queue socket, alerts out."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from wazuhd.sockets import SocketClient, SocketReplyError, send_event
from wazuhd.testing import DaemonProcess, free_port, wait_for, wazuhd_command

FAILED = "Nov 26 16:21:11 web01 sshd[311]: Failed password for root from 203.0.113.9 port 2222 ssh2"
INVALID = "Nov 26 16:21:11 web01 sshd[311]: Invalid user bob from 203.0.113.9 port 4444"
HOST_ONLY = "plugins:\n  disabled: [http]\n"


@pytest.fixture
def daemon(tmp_path):
    daemon = DaemonProcess(tmp_path / "home", config=HOST_ONLY).start()
    yield daemon
    daemon.kill()


def alerts(home) -> list[dict]:
    path = home / "logs" / "alerts" / "alerts.json"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []



def test_events_become_alerts_with_correlation(daemon):
    for _ in range(8):
        send_event(daemon.socket("queue"), "1", "/var/log/auth.log", FAILED)
    assert wait_for(lambda: len(alerts(daemon.home)) == 8)
    written = alerts(daemon.home)
    # The eighth failure from one source within 120 s is the brute-force alert instead.
    assert [a["rule"]["id"] for a in written] == ["190101"] * 7 + ["190110"]
    brute = next(a for a in written if a["rule"]["id"] == "190110")
    assert brute["rule"]["level"] == 10 and brute["data"]["srcip"] == "203.0.113.9"
    first = written[0]
    assert first["location"] == "/var/log/auth.log"
    assert first["decoder"]["name"] == "wazuhd-sshd"
    assert first["predecoder"] == {"program_name": "sshd", "timestamp": "Nov 26 16:21:11",
                                   "hostname": "web01"}
    assert first["full_log"] == FAILED
    text = (daemon.home / "logs" / "alerts" / "alerts.log").read_text()
    assert "Rule: 190110 (level 10) -> 'sshd: brute force" in text
    counters = daemon.counters("analysis")
    assert counters["received"] == 8 and counters["alerts"] == 8 and counters["written"] == 8


def test_agent_locations_set_agent_fields(daemon):
    send_event(daemon.socket("queue"), "1", "[007] (db01) 10.0.0.7->/var/log/secure", INVALID)
    assert wait_for(lambda: alerts(daemon.home))
    alert = alerts(daemon.home)[0]
    assert alert["agent"] == {"id": "007", "name": "db01", "ip": "10.0.0.7"}
    assert alert["location"] == "/var/log/secure"


def test_logtest_socket_speaks_wazuhs_protocol(daemon):
    with SocketClient(daemon.socket("logtest")) as client:
        first = client.request("log_processing", {"event": INVALID, "log_format": "syslog",
                                                  "location": "stdin"})
        token = first["token"]
        assert first["messages"] == [f"INFO: (7202): Session initialized with token '{token}'"]
        assert first["alert"] is True and first["codemsg"] == 1
        assert first["output"]["rule"]["id"] == "190102"
        # The session keeps correlation state: firedtimes grows.
        again = client.request("log_processing", {"event": INVALID, "log_format": "syslog",
                                                  "location": "stdin", "token": token})
        assert again["token"] == token and again["output"]["rule"]["firedtimes"] == 2
        closed = client.request("remove_session", {"token": token})
        assert closed["messages"] == [f"INFO: (7206): The session '{token}' was closed successfully"]
        with pytest.raises(SocketReplyError) as missing:
            client.request("log_processing", {"log_format": "syslog", "location": "stdin"})
        assert missing.value.code == 7000
    # Logtest never writes alerts.
    assert alerts(daemon.home) == []


@pytest.mark.parametrize("expected, code", [
    ("190102:5:wazuhd-sshd", 0),
    ("190101:5:wazuhd-sshd", 1),
    ("190102:6:wazuhd-sshd", 1),
])
def test_logtest_cli_unit_test_mode_against_the_daemon(daemon, expected, code):
    result = subprocess.run(wazuhd_command("logtest", "--home", str(daemon.home), "-q",
                                           "-U", expected),
                            input=INVALID + "\n", capture_output=True, text=True, timeout=30)
    assert result.returncode == code, result.stderr


def test_logtest_cli_standalone_needs_no_daemon(tmp_path):
    from wazuhd_analysis.service import STARTER_RULESET

    result = subprocess.run(wazuhd_command(
        "logtest", "--standalone", "--home", str(tmp_path),
        "--decoder-dir", str(STARTER_RULESET / "decoders"),
        "--rule-dir", str(STARTER_RULESET / "templates"),
        "--rule-dir", str(STARTER_RULESET / "rules")),
        input=INVALID + "\n", capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "**Phase 2: Completed decoding.\n\tname: 'wazuhd-sshd'" in result.stdout
    assert "\tid: '190102'" in result.stdout
    assert "**Alert to be generated." in result.stdout


def test_logtest_cli_without_daemon_says_so(tmp_path):
    result = subprocess.run(wazuhd_command("logtest", "--home", str(tmp_path)),
                            input=INVALID + "\n", capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "start the daemon or use --standalone" in result.stderr


def test_broken_configured_ruleset_is_named_and_the_daemon_goes_on(tmp_path):
    rules = tmp_path / "my-rules"
    rules.mkdir()
    (rules / "local_rules.xml").write_text('<group name="x,">\n<rule id="100001" level="3">\n'
                                           "<match>x</match>\n</group>\n")
    config = HOST_ONLY + f"analysis:\n  ruleset:\n    rule_dirs: [{rules}]\n"
    daemon = DaemonProcess(tmp_path / "home", config=config).start()
    try:
        status = daemon.request("control", "status")
        consumer = status["services"]["events.consumer"]
        assert consumer["status"] == "failed"
        assert "local_rules.xml:4: closing tag </group> does not match <rule> opened at line 2" \
            in consumer["error"]
        # Events are still taken off the queue (counted by the fallback consumer).
        send_event(daemon.socket("queue"), "1", "x", "hello")
        assert wait_for(lambda: daemon.counters("events")
                        .get("1") == 1)
    finally:
        daemon.kill()


def test_events_queued_at_shutdown_are_analysed_before_exit(tmp_path):
    """SIGTERM stops the inputs first, then the queue drains: nothing sent is lost.
    (A generous shutdown_timeout keeps the drain deadline out of reach on a busy machine.)"""
    config = HOST_ONLY + "daemon:\n  shutdown_timeout: 60\n"
    daemon = DaemonProcess(tmp_path / "home", config=config).start()
    sent = 3000
    for i in range(sent):
        send_event(daemon.socket("queue"), "1", "/var/log/auth.log",
                   FAILED.replace("203.0.113.9", f"198.51.100.{i % 200}"))
    code, _, err, _ = daemon.terminate(timeout=60)
    assert code == 0, err
    assert len(alerts(daemon.home)) == sent


@pytest.mark.skipif(shutil.which("logger") is None, reason="logger (util-linux) is not installed")
def test_syslog_and_tailed_file_inputs_feed_analysis(tmp_path):
    port = free_port()
    auth_log = tmp_path / "auth.log"
    auth_log.write_text("")
    config = HOST_ONLY + (
        f"syslog:\n  enabled: true\n  listeners:\n    - {{protocol: tcp, bind: 127.0.0.1, "
        f"port: {port}}}\n"
        f"localfile:\n  files:\n    - {{location: {auth_log}, log_format: syslog}}\n")
    daemon = DaemonProcess(tmp_path / "home", config=config).start()
    try:
        subprocess.run(["logger", "--server", "127.0.0.1", "--port", str(port), "--tcp",
                        "--rfc3164", "--tag", "sshd[99]",
                        "Invalid user mallory from 192.0.2.77 port 5555"], check=True, timeout=10)
        with auth_log.open("a") as out:
            out.write(FAILED + "\n")
        assert wait_for(lambda: len(alerts(daemon.home)) == 2)
        by_rule = {a["rule"]["id"]: a for a in alerts(daemon.home)}
        assert by_rule["190102"]["location"] == "127.0.0.1"
        assert by_rule["190102"]["data"]["srcip"] == "192.0.2.77"
        assert by_rule["190101"]["location"] == str(auth_log)
    finally:
        daemon.kill()


def test_logtest_verbose_shows_the_rules_tried(daemon):
    result = subprocess.run(wazuhd_command("logtest", "--home", str(daemon.home), "-v"),
                            input=INVALID + "\n", capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    debugging = result.stdout.split("**Rule debugging:\n")[1].split("\n\n")[0].splitlines()
    assert debugging[0] == "\tTrying rule: 9 - Root of every syslog rule."
    assert "\t\t\tTrying rule: 190101 - sshd: authentication failed for $(dstuser) from $(srcip)." \
        in debugging
    assert debugging[-1] == "\t\t\t\t*Rule 190102 matched"


def test_tailed_file_resumes_across_a_daemon_restart_without_loss_or_duplicates(tmp_path):
    log_file = tmp_path / "auth.log"
    log_file.write_text("")
    config = HOST_ONLY + f"localfile:\n  files:\n    - {{location: {log_file}}}\n"
    home = tmp_path / "home"

    def line(i: int) -> str:
        return INVALID.replace("bob", f"user{i}")

    first = DaemonProcess(home, config=config).start()
    with log_file.open("a") as out:
        out.writelines(line(i) + "\n" for i in range(50))
    assert wait_for(lambda: len(alerts(home)) == 50)
    first.terminate()
    with log_file.open("a") as out:  # written while the daemon is down
        out.writelines(line(i) + "\n" for i in range(50, 80))
    log_file.rename(tmp_path / "auth.log.1")  # ... and rotated before it comes back
    with (tmp_path / "auth.log").open("a") as out:
        out.writelines(line(i) + "\n" for i in range(80, 100))
    second = DaemonProcess(home).start()
    try:
        assert wait_for(lambda: len(alerts(home)) >= 100)
        time.sleep(0.5)
        users = [a["data"]["dstuser"] for a in alerts(home)]
        assert sorted(users) == sorted(f"user{i}" for i in range(100))
    finally:
        second.kill()
