"""The docker plugin inside a real daemon: events into the analysis, checkpoints across a
daemon restart, counters in the status, the inventory and its starter rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docker_helpers import DockerEngine, engine_fixture
from wazuhd.testing import DaemonProcess, shared_dir, wait_for
from wazuhd_docker import plugin
from wazuhd_docker.inventory import describe_container


@pytest.fixture(scope="module")
def engine(request, tmp_path_factory) -> DockerEngine:
    return engine_fixture(request, tmp_path_factory)


def config(engine: DockerEngine, missing_socket, inventory: bool = False) -> str:
    return f"""\
plugins:
  disabled: [http]
analysis:
  archives:
    enabled: true
docker:
  enabled: true
  engines:
    - name: test
      url: unix://{engine.socket}
    - name: gone
      url: unix://{missing_socket}
  interval: 0.2
  max_backoff: 1
  inventory:
    enabled: {str(inventory).lower()}
    interval: 0.5
"""


def docker_events(home) -> list[dict]:
    """The docker events the daemon's analysis received (archives.json), in order."""
    path = home / "logs" / "archives" / "archives.json"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record.get("location") == "Wazuh-Docker" and '"integration":"docker"' in record["full_log"]:
            out.append(json.loads(record["full_log"])["docker"])
    return out


def alerts(home) -> list[dict]:
    path = home / "logs" / "alerts" / "alerts.json"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def destroyed(home, container: str) -> bool:
    return any(e["Action"] == "destroy" and e["Actor"]["ID"] == container
               for e in docker_events(home))


def docker_counters(daemon) -> dict:
    return daemon.request("control", "status")["counters"].get("docker", {})


def test_a_daemon_restart_resumes_from_its_checkpoint(engine, tmp_path):
    daemon = DaemonProcess(tmp_path / "home", config=config(engine, tmp_path / "none.sock"))
    daemon.start()
    try:
        assert wait_for(lambda: docker_counters(daemon).get("docker:test", {}).get("state")
                        == "connected", 15), docker_counters(daemon)
        before = engine.lifecycle("daemon-before")
        assert wait_for(lambda: destroyed(daemon.home, before), 15)
        code, _, err, _ = daemon.terminate()
        assert code == 0, err
        while_down = engine.lifecycle("daemon-while-down")
        daemon.start()
        assert wait_for(lambda: destroyed(daemon.home, while_down), 15)
        # The engine that is not there is retried, and reported by name; the other went on.
        assert wait_for(lambda: docker_counters(daemon)["docker:gone"]["errors"] >= 3, 10)
        counters = docker_counters(daemon)
    finally:
        daemon.kill()
    events = docker_events(daemon.home)
    keys = [(e["timeNano"], e["Type"], e["Action"], e["Actor"]["ID"]) for e in events]
    assert len(keys) == len(set(keys)), "an event reached the analysis twice"
    for container in (before, while_down):
        actions = [e["Action"] for e in events if e["Actor"]["ID"] == container]
        assert actions[0] == "create" and actions[-1] == "destroy", actions
    gone = counters["docker:gone"]
    assert gone["state"] == "unreachable"
    assert gone["last_error"].startswith(f"docker engine gone (unix://{tmp_path / 'none.sock'}): "
                                         f"no engine socket there")
    assert counters["docker:test"]["events"] >= 4 and counters["docker:test"]["errors"] == 0
    log = (daemon.home / "logs" / "wazuhd.log").read_text()
    assert log.count("docker engine gone") == 2, log  # once per daemon run, however many retries


def test_inventory_flags_risky_containers_with_the_starter_rules(engine, tmp_path):
    client = engine.client
    risky = {
        "inv-host-net": engine.create("inv-host-net", network_mode="host"),
        "inv-socket": engine.create("inv-socket", binds={
            str(engine.socket): {"bind": "/var/run/docker.sock", "mode": "ro"}}),
        "inv-plain": engine.create("inv-plain"),
    }
    for container in risky.values():
        client.start(container)
    daemon = DaemonProcess(tmp_path / "home",
                           config=config(engine, tmp_path / "none.sock", inventory=True))
    try:
        daemon.start()
        wanted = {"195010": "inv-socket", "195012": "inv-host-net"}

        def fired():
            return {a["rule"]["id"]: a for a in alerts(daemon.home) if a["rule"]["id"] in wanted}
        assert wait_for(lambda: len(fired()) == 2, 20), alerts(daemon.home)
        counters = docker_counters(daemon)["docker-inventory:test"]
    finally:
        daemon.kill()
        for container in risky.values():
            client.remove_container(container, force=True)
    for rule, name in wanted.items():
        alert = fired()[rule]
        assert name in alert["rule"]["description"]
        assert alert["data"]["docker_inventory"]["name"] == name
    assert not any("inv-plain" in a["rule"]["description"] for a in alerts(daemon.home))
    assert counters["containers"] >= 3 and counters["runs"] >= 1


WAZUH_RULESET = shared_dir() / "wazuh-ruleset"


@pytest.mark.parametrize("with_wazuh", [False, True], ids=["starter", "wazuh+starter"])
def test_a_privileged_container_fires_its_starter_rule(engine, with_wazuh):
    """A privileged container cannot start in an unprivileged sandbox: its inventory record
    is made from the engine's real inspection of it, created but not started. The rules
    catch it whether Wazuh's JSON decoder or wazuhd's starter one decoded the event."""
    from wazuhd_analysis.engine import Engine, Ruleset
    from wazuhd_analysis.service import STARTER_RULESET

    if with_wazuh and not (WAZUH_RULESET / "rules").is_dir():
        pytest.skip(f"Wazuh ruleset not found at {WAZUH_RULESET}")
    container = engine.create("inv-privileged", privileged=True)
    try:
        record = describe_container("test", engine.client.inspect_container(container))
    finally:
        engine.client.remove_container(container, force=True)
    assert record["privileged"] is True and record["name"] == "inv-privileged"
    wazuh = [str(WAZUH_RULESET / "decoders")], [str(WAZUH_RULESET / "rules")]
    ruleset = Ruleset.load(
        decoder_dirs=[*(wazuh[0] if with_wazuh else []), str(STARTER_RULESET / "decoders")],
        rule_dirs=[str(STARTER_RULESET / "templates"), *(wazuh[1] if with_wazuh else []),
                   str(STARTER_RULESET / "rules"), str(Path(plugin.wazuhd_ruleset()) / "rules")])
    assert not [w for w in ruleset.warnings if "1950" in w]
    result = Engine(ruleset).process(json.dumps({"integration": "docker-inventory",
                                                 "docker_inventory": record}), "Wazuh-Docker")
    assert result.alert["rule"]["id"] == "195011"
    assert result.alert["rule"]["description"] == (
        "Docker: privileged container inv-privileged is running")
    plain = dict(record, privileged=False, name="inv-plain")
    result = Engine(ruleset).process(json.dumps({"integration": "docker-inventory",
                                                 "docker_inventory": plain}), "Wazuh-Docker")
    assert result.rule.sid in (195000, 195001) and result.alert is None
