"""The daemon as a real process: start, status, refusal to start twice, clean stop."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time

from wazuhd.sockets import send_event
from wazuhd.testing import DaemonProcess, wazuhd_command


def test_start_creates_home_layout_and_commented_config(home):
    """A fresh home with nothing in it, as `make run` starts (all plugins, all defaults)."""
    daemon = DaemonProcess(home).start()
    for sub in ("etc", "logs", "queue/sockets", "queue/db", "var/run"):
        assert (home / sub).is_dir(), sub
    config_text = (home / "etc" / "wazuhd.yaml").read_text()
    assert "#   shutdown_timeout: 5" in config_text
    # Every line is a comment or blank: the file changes nothing until edited.
    assert all(not line or line.startswith("#") for line in config_text.splitlines())
    assert int((home / "var/run/wazuhd.pid").read_text()) == daemon.proc.pid
    code, *_ = daemon.terminate()
    assert code == 0


def test_sigterm_stops_cleanly_within_five_seconds(daemon_factory, home):
    daemon = daemon_factory().start()
    sockets = home / "queue" / "sockets"
    assert {"control", "queue"} <= {p.name for p in sockets.iterdir()}
    for path in sockets.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o660, path
    code, out, err, seconds = daemon.terminate()
    assert code == 0, err
    assert seconds < 5, f"stop took {seconds:.2f} s"
    assert list(sockets.iterdir()) == []
    assert not (home / "var/run/wazuhd.pid").exists()
    assert "SIGTERM received" in (home / "logs" / "wazuhd.log").read_text()


def test_sigint_stops_cleanly(daemon_factory):
    daemon = daemon_factory().start()
    daemon.proc.send_signal(2)
    daemon.proc.wait(timeout=10)
    assert daemon.proc.returncode == 0, daemon.output()[1]


def test_second_start_on_same_home_is_refused(daemon_factory, home):
    first = daemon_factory().start()
    second = subprocess.run(wazuhd_command("start", "--home", str(home)), capture_output=True,
                            text=True, timeout=30)
    assert second.returncode == 1
    assert f"already running on {home}" in second.stderr
    assert f"(pid {first.proc.pid})" in second.stderr
    # The first one is unharmed.
    assert first.request("control", "ping") == "pong"
    first.terminate()


def test_status_and_plugins_commands(daemon_factory, home):
    daemon = daemon_factory()
    stopped = daemon.cli("status")
    assert stopped.returncode == 3 and "not running" in stopped.stdout
    daemon.start()
    status = daemon.cli("status")
    assert status.returncode == 0, status.stderr
    assert f"running (pid {daemon.proc.pid}" in status.stdout
    assert "socket control" in status.stdout
    as_json = json.loads(daemon.cli("status", "--json").stdout)
    assert as_json["pid"] == daemon.proc.pid and as_json["uptime"] >= 0
    assert "core" in [p["name"] for p in as_json["plugins"]]
    plugins = daemon.cli("plugins")
    assert plugins.returncode == 0
    assert "core 0.1.0 (wazuhd) ok" in plugins.stdout.splitlines()
    daemon.terminate()


def test_stop_command_and_daemon_mode(home):
    env = dict(os.environ)
    started = subprocess.run(wazuhd_command("start", "--daemon", "--home", str(home)),
                             capture_output=True, text=True, timeout=30, env=env)
    assert started.returncode == 0, started.stderr
    assert "wazuhd 0.1.0 running" in started.stdout
    pid = int((home / "var/run/wazuhd.pid").read_text())
    os.kill(pid, 0)  # alive, detached from us
    probe = DaemonProcess(home)
    assert probe.request("control", "ping") == "pong"
    stop = subprocess.run(wazuhd_command("stop", "--home", str(home)), capture_output=True,
                          text=True, timeout=30)
    assert stop.returncode == 0, stop.stderr
    assert f"(pid {pid}) stopped" in stop.stdout
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
    again = subprocess.run(wazuhd_command("stop", "--home", str(home)), capture_output=True,
                           text=True, timeout=30)
    assert again.returncode == 1 and "not running" in again.stderr


def test_invalid_config_stops_the_start_with_file_key_and_expectation(home):
    (home / "etc").mkdir(parents=True)
    config = home / "etc" / "wazuhd.yaml"
    config.write_text("sockets:\n  max_frame: lots\n")
    result = subprocess.run(wazuhd_command("start", "--home", str(home)), capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1
    assert f"{config}: sockets.max_frame: expected integer, got 'lots'" in result.stderr
    assert not (home / "var/run/wazuhd.pid").exists()


def test_version_flag():
    result = subprocess.run(wazuhd_command("--version"), capture_output=True, text=True)
    assert result.stdout.strip() == "wazuhd 0.1.0"


def test_home_defaults_to_environment_variable(tmp_path):
    home = tmp_path / "from-env"
    env = {**os.environ, "WAZUHD_HOME": str(home)}
    result = subprocess.run(wazuhd_command("status"), capture_output=True, text=True, env=env)
    assert f"home {home}" in result.stdout
    started = time.monotonic()
    proc = subprocess.Popen(wazuhd_command("start"), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while not (home / "queue/sockets/control").exists():
            assert time.monotonic() - started < 20, "daemon did not create its sockets"
            time.sleep(0.05)
        assert DaemonProcess(home).request("control", "ping") == "pong"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_restart_rereads_the_configuration_in_the_same_process(daemon_factory, home, example_env):
    daemon = daemon_factory(example_env).start()
    before = daemon.request("control", "status")
    assert "example" in [p["name"] for p in before["plugins"]]
    config = home / "etc" / "wazuhd.yaml"
    config.write_text(config.read_text().replace("disabled: [http]", "disabled: [http, example]"))
    result = daemon.cli("restart")
    assert result.returncode == 0, result.stderr
    assert f"wazuhd (pid {daemon.proc.pid}) restarted" in result.stdout
    after = daemon.request("control", "status")
    assert after["pid"] == before["pid"] and after["started_at"] > before["started_at"]
    assert "example" not in [p["name"] for p in after["plugins"]]
    assert "wazuhd restarting" in (home / "logs" / "wazuhd.log").read_text()
    code, *_ = daemon.terminate()
    assert code == 0


def test_events_left_unanalysed_at_the_drain_deadline_are_counted_in_the_log(
        daemon_factory, home, example_env):
    """A stop cannot wait forever for a slow consumer; what it gives up on is said, not hidden."""
    daemon = daemon_factory(example_env, "daemon:\n  shutdown_timeout: 0.5\nexample:\n"
                            "  consume_events: true\n  consume_delay: 0.01\n").start()
    for n in range(500):
        send_event(daemon.socket("queue"), "1", "burst", f"event {n}")
    code, _, _, _ = daemon.terminate()
    assert code == 0
    consumed = len((home / "example-events").read_text().splitlines())
    lines = [line for line in (home / "logs" / "wazuhd.log").read_text().splitlines()
             if "queued events not analysed" in line]
    assert len(lines) == 1, "expected one line counting the events given up on"
    given_up = int(lines[0].split("stopped with ")[1].split()[0])
    # The queued ones are counted; the consumer may hold one more it had begun on.
    assert given_up > 0 and given_up + consumed in (499, 500)
    assert "60% of daemon.shutdown_timeout = 0.5 s" in lines[0]
