"""A third-party plugin installed with pip works exactly like a built-in one."""

from __future__ import annotations

import http
import json
import os
import subprocess
import sys
import sysconfig

import pytest

from wazuhd.testing import wait_for, wazuhd_command
from wazuhd.sockets import SocketReplyError, send_event


def test_plugin_is_discovered_through_its_entry_point(daemon_factory, example_env):
    daemon = daemon_factory(example_env)
    result = daemon.cli("plugins", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["example"]["distribution"] == "wazuhd-example"
    assert rows["example"]["version"] == "1.2.3"
    assert rows["example"]["error"] is None
    assert "wazuhd_socket_commands" in rows["example"]["hooks"]


def test_its_socket_command_config_section_store_and_services(daemon_factory, home, example_env):
    daemon = daemon_factory(example_env, "example:\n  greeting: bonjour\n").start()
    assert daemon.request("example", "greet", {"name": "ana"}) == {
        "greeting": "bonjour, ana", "notes": ["first"]}  # note seeded by its migration
    with pytest.raises(SocketReplyError) as denied:
        daemon.request("example", "greet", {"name": 7})
    assert denied.value.code == 9901  # the plugin's own catalogued error
    status = daemon.request("control", "status")
    assert status["services"]["example.ticker"]["status"] == "running"
    # A crashing service is reported and the daemon keeps serving.
    crashed = status["services"]["example.crasher"]
    assert crashed["status"] == "failed"
    assert crashed["error"] == "RuntimeError: this service always fails"
    assert status["counters"]["example"]["ticks"] > 0
    assert daemon.request("control", "ping") == "pong"
    code, out, err, _ = daemon.terminate()
    assert code == 0
    assert "greeting 'bonjour'" in out  # the plugin's line in the start banner
    assert (home / "example-shutdown").read_text() == "clean\n"


def test_migrations_run_once_per_home(daemon_factory, example_env):
    first = daemon_factory(example_env).start()
    first.terminate()
    second = daemon_factory(example_env).start()
    assert second.request("example", "greet", {"name": "x"})["notes"] == ["first"]
    second.terminate()


def test_its_config_errors_name_the_key(home, example_env):
    (home / "etc").mkdir(parents=True)
    (home / "etc" / "wazuhd.yaml").write_text("example:\n  greting: typo\n")
    result = subprocess.run(wazuhd_command("start", "--home", str(home)), capture_output=True,
                            text=True, timeout=30, env={**os.environ, **example_env})
    assert result.returncode == 1
    assert "example: unknown key 'greting' (expected one of: consume_delay, consume_events, greeting, inbox, inbox_interval, tick)" \
        in result.stderr


def test_it_can_take_over_the_event_channel(daemon_factory, home, example_env):
    daemon = daemon_factory(example_env, "example:\n  consume_events: true\n").start()
    send_event(daemon.socket("queue"), "1", "[001] (web) any->/var/log/a:b", "GET / 200")
    daemon.terminate()
    assert (home / "example-events").read_text() == "1|[001] (web) any->/var/log/a:b|GET / 200\n"


def test_its_starter_rules_load_after_the_analysis_plugins(daemon_factory, home, example_env):
    pytest.importorskip("wazuhd_analysis", reason="the analysis plugin loads rulesets")
    daemon = daemon_factory(example_env).start()
    send_event(daemon.socket("queue"), "1", "probe", "example-plugin-probe ok")
    alerts = home / "logs" / "alerts" / "alerts.json"
    wait_for(lambda: alerts.exists() and "199990" in alerts.read_text(), timeout=10)
    alert = json.loads(alerts.read_text().splitlines()[-1])
    assert alert["rule"]["id"] == "199990"
    assert alert["rule"]["groups"] == ["example"]


def test_its_cli_command(example_env):
    result = subprocess.run(wazuhd_command("example-hello", "zoe"), capture_output=True,
                            text=True, env={**os.environ, **example_env})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from the example plugin, zoe\n"


def test_disabled_plugin_is_not_loaded(daemon_factory, home, example_env):
    daemon = daemon_factory(example_env, disabled=("http", "example")).start()
    status = daemon.request("control", "status")
    assert "example" not in [p["name"] for p in status["plugins"]]
    assert not daemon.socket("example").exists()
    listed = {row["name"]: row for row in json.loads(daemon.cli("plugins", "--json").stdout)}
    assert listed["example"]["disabled"] is True and listed["example"]["hooks"] == []
    assert "example 1.2.3 (wazuhd-example) disabled (plugins.disabled)" in \
        daemon.cli("plugins").stdout
    daemon.terminate()


def test_python_can_still_import_stdlib_http():
    """The ``http/`` folder of this repository must never shadow the standard library."""
    assert http.__file__.startswith(sysconfig.get_paths()["stdlib"])
    result = subprocess.run([sys.executable, "-c", "import http, http.client, sysconfig;"
                             "print(http.__file__.startswith(sysconfig.get_paths()['stdlib']))"],
                            capture_output=True, text=True)
    assert result.stdout.strip() == "True"


def test_its_pull_source_runs_on_the_hosts_collector_and_resumes_after_a_restart(
        daemon_factory, home, tmp_path, example_env):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.log").write_text("one\ntwo\n")
    config = f"example:\n  consume_events: true\n  inbox: {inbox}\n"
    events = home / "example-events"

    def pulled():
        return [line for line in events.read_text().splitlines() if "example-inbox" in line] \
            if events.exists() else []

    daemon = daemon_factory(example_env, config).start()
    assert wait_for(lambda: len(pulled()) == 2)
    status = daemon.request("control", "status")
    counters = status["counters"]["example_inbox"]["inbox"]
    assert counters["events"] == 2 and counters["errors"] == 0
    assert status["services"]["example.inbox"]["status"] == "running"
    assert "counters example_inbox inbox: errors=0, events=2" in daemon.cli("status").stdout
    daemon.terminate()

    (inbox / "b.log").write_text("three\n")
    daemon_factory(example_env, config).start()
    assert wait_for(lambda: len(pulled()) == 3)
    assert [json.loads(line.split("|", 2)[2])["example"]["line"] for line in pulled()] == [
        "one", "two", "three"]


def test_its_pull_source_runs_standalone(example_env, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.log").write_text("one\n")
    command = wazuhd_command("example-inbox", str(inbox), "--stdout", "--state",
                             str(tmp_path / "state.json"))
    env = {**os.environ, **example_env}
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"example": {"file": "a.log", "line": "one"}}
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)
    assert again.stdout == "" and "inbox: 0 events" in again.stderr
