"""Pub/Sub against the real emulator: the standalone pull and the daemon's streaming pull."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import trio

from gcp_helpers import (PROJECT, alerts, archived, daemon_with, fake_key_file, gcp_counters,
                         numbered, pubsub, pubsub_emulator, run_cli, run_once, stdout_events)
from wazuhd import collect
from wazuhd.testing import wait_for
from wazuhd_gcp.pubsub import PubSubPullSource, PubSubSource

__all__ = ["pubsub", "pubsub_emulator"]  # fixtures used by name below


# -- standalone ----------------------------------------------------------------------------


def test_standalone_pull_sends_every_message_once_then_finds_none(pubsub, tmp_path):
    topic, subscription = pubsub.subscription()
    pubsub.publish(topic, numbered(250))
    pubsub.publish(topic, [b"plain text, not JSON"], origin="syslog-forwarder")
    env = {"PUBSUB_EMULATOR_HOST": pubsub.host}
    args = ["pubsub", "--project", PROJECT, "--subscription", subscription, "--stdout",
            "--max-messages", "1000", "--home", str(tmp_path / "home")]

    first = run_cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    events = stdout_events(first)
    assert len(events) == 251
    assert all(event["integration"] == "gcp" for event in events)
    numbers = [event["gcp"]["n"] for event in events if "n" in event["gcp"]]
    assert sorted(numbers) == list(range(250))
    text = [event["gcp"] for event in events if "n" not in event["gcp"]]
    assert len(text) == 1
    assert text[0]["message"] == "plain text, not JSON"
    assert text[0]["attributes"] == {"origin": "syslog-forwarder"}
    assert text[0]["message_id"]
    assert "251 events, 251 acknowledged, 1 malformed" in first.stderr
    assert not (tmp_path / "home").exists()  # acknowledgements are the position: no store

    source = PubSubPullSource(project_id=PROJECT, subscription_name=subscription)
    assert run_once(source, tmp_path / "state.json") == (0, [])  # all were acknowledged
    assert pubsub.leftover(subscription) == []


def test_standalone_stops_at_max_messages_and_leaves_the_rest(pubsub, tmp_path):
    topic, subscription = pubsub.subscription()
    pubsub.publish(topic, numbered(30))
    state = tmp_path / "state.json"

    code, first = run_once(PubSubPullSource(project_id=PROJECT, subscription_name=subscription,
                                            max_messages=10, num_threads=3), state)
    assert code == 0
    taken = [event["gcp"]["n"] for event in first]
    assert len(taken) == 10

    code, rest = run_once(PubSubPullSource(project_id=PROJECT, subscription_name=subscription,
                                           max_messages=100), state)
    assert code == 0
    assert sorted(taken + [event["gcp"]["n"] for event in rest]) == list(range(30))


def test_standalone_names_a_missing_subscription(pubsub, tmp_path, capsys):
    source = PubSubPullSource(project_id=PROJECT, subscription_name="no-such-subscription")
    assert run_once(source, tmp_path / "state.json") == (1, [])
    assert (f"subscription projects/{PROJECT}/subscriptions/no-such-subscription does not exist"
            in capsys.readouterr().err)


def test_standalone_invalid_credentials_file_is_named_never_quoted(pubsub, tmp_path, capsys,
                                                                  caplog):
    _, subscription = pubsub.subscription()
    broken = fake_key_file(tmp_path / "key.json")  # well formed, but the key does not parse
    not_json = tmp_path / "notjson.json"
    not_json.write_text("private_key = SECRET-KEY-MATERIAL\n")
    incomplete = fake_key_file(tmp_path / "incomplete.json", client_email="")
    for key, expected in [(broken, ": the private key cannot be loaded (ValueError)"),
                          (not_json, " is not JSON (line 1)"),
                          (incomplete, " is not a service-account key: missing client_email"),
                          (tmp_path / "absent.json", " does not exist")]:
        source = PubSubPullSource(project_id=PROJECT, subscription_name=subscription,
                                  credentials_file=str(key))
        assert run_once(source, tmp_path / "state.json") == (1, [])
        err = capsys.readouterr().err
        assert f"gcp-pubsub:{PROJECT}/{subscription}: credentials file {key}{expected}" in err
        assert "SECRET" not in err + caplog.text


# -- inside the daemon -----------------------------------------------------------------------


class DiscardSink(collect.Sink):
    async def send(self, events):
        pass


def _subscription_yaml(subscription: str, **options) -> str:
    lines = [f"    - project_id: {PROJECT}", f"      subscription_name: {subscription}"]
    lines += [f"      {key}: {json.dumps(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def test_daemon_streams_ten_thousand_messages_exactly_once(pubsub, tmp_path):
    topic, subscription = pubsub.subscription()
    pubsub.publish(topic, numbered(10_000))
    pubsub.publish(topic, [b"\xff\xfe not JSON"], kind="binary")
    config = "gcp:\n  pubsub:\n" + _subscription_yaml(subscription, num_threads=4,
                                                       max_messages=500)
    daemon = daemon_with(tmp_path / "home", config, {"PUBSUB_EMULATOR_HOST": pubsub.host}).start()
    try:
        assert wait_for(lambda: len(archived(daemon.home)) >= 10_001, timeout=90), \
            f"{len(archived(daemon.home))} events arrived"
        name = f"gcp-pubsub:{PROJECT}/{subscription}"
        assert wait_for(lambda: gcp_counters(daemon)[name]["acknowledged"] == 10_001, timeout=10)
        counters = gcp_counters(daemon)[name]
        assert counters["events"] == 10_001 and counters["malformed"] == 1
        assert counters["errors"] == 0 and counters["state"] == "running"
        code, _, err, _ = daemon.terminate()
        assert code == 0, err
    finally:
        daemon.kill()
    events = archived(daemon.home)
    numbers = Counter(event["gcp"]["n"] for event in events if "n" in event["gcp"])
    assert set(numbers) == set(range(10_000))
    assert max(numbers.values()) == 1, "a message arrived twice"
    text = [event["gcp"] for event in events if "n" not in event["gcp"]]
    assert [(t["message"], t["attributes"]) for t in text] == [("\ufffd\ufffd not JSON",
                                                              {"kind": "binary"})]
    assert pubsub.leftover(subscription) == []  # nothing left unacknowledged


def test_a_stream_whose_subscription_is_deleted_fails_with_its_name(pubsub, tmp_path):
    """What schedule() then counts and retries with backoff."""
    topic, subscription = pubsub.subscription()
    pubsub.publish(topic, numbered(100))
    source = PubSubSource(project_id=PROJECT, subscription_name=subscription)
    stats = collect.SourceStats()
    failures = []

    async def collect_until_it_fails():
        checkpoints = collect.FileCheckpoints(tmp_path / "state.json")
        try:
            await collect.run_once(source, DiscardSink(), checkpoints, stats)
        except collect.CollectError as exc:
            failures.append(str(exc))

    async def main():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(collect_until_it_fails)
            with trio.fail_after(30):
                while stats.extra.get("acknowledged", 0) < 100:
                    await trio.sleep(0.05)
            await trio.to_thread.run_sync(lambda: pubsub.subscriber.delete_subscription(
                subscription=f"projects/{PROJECT}/subscriptions/{subscription}"))

    trio.run(main)
    assert failures == [f"subscription projects/{PROJECT}/subscriptions/{subscription} "
                        f"does not exist"]
    assert (stats.errors, stats.state, stats.events) == (1, "failing", 100)


@pytest.mark.slow  # 20-60 s: the emulator hands a stream's whole backlog to it at once, and
# what a stopped daemon had not read comes back only when its 10 s leases run out, a part
# per lease period.
def test_daemon_restart_mid_stream_loses_nothing(pubsub, tmp_path):
    topic, subscription = pubsub.subscription(ack_deadline=10)
    total = 1_000
    pubsub.publish(topic, numbered(total))
    # The graceful stop must have time to analyse what was queued (and acknowledged).
    config = ("daemon:\n  shutdown_timeout: 60\n"
              "gcp:\n  pubsub:\n" + _subscription_yaml(subscription, max_messages=200))
    home = tmp_path / "home"
    env = {"PUBSUB_EMULATOR_HOST": pubsub.host}
    first = daemon_with(home, config, env).start()
    try:
        assert wait_for(lambda: len(archived(home)) >= 200, timeout=60)
        code, _, err, _ = first.terminate()
        assert code == 0, err
    finally:
        first.kill()
    before = len(archived(home))
    assert before < total, "the stream finished before the restart; nothing was tested"
    second = daemon_with(home, config, env).start()
    try:
        seen = lambda: {event["gcp"]["n"] for event in archived(home)}  # noqa: E731
        assert wait_for(lambda: len(seen()) == total, timeout=180), \
            f"{total - len(seen())} messages never arrived"
    finally:
        second.kill()


def test_daemon_keeps_going_past_a_missing_subscription_and_bad_credentials(pubsub, tmp_path):
    topic, subscription = pubsub.subscription()
    _, other = pubsub.subscription()
    key = fake_key_file(tmp_path / "key.json")
    config = ("gcp:\n  pubsub:\n" + _subscription_yaml(subscription)
              + _subscription_yaml("no-such-subscription", interval=8)
              + _subscription_yaml(other, credentials_file=str(key), interval=8))
    daemon = daemon_with(tmp_path / "home", config, {"PUBSUB_EMULATOR_HOST": pubsub.host}).start()
    try:
        pubsub.publish(topic, numbered(49))
        pubsub.publish(topic, [json.dumps({
            "severity": "NOTICE", "protoPayload": {
                "methodName": "SetIamPolicy", "resourceName": "projects/p",
                "authenticationInfo": {"principalEmail": "mallory@example.com"}}}).encode()])
        assert wait_for(lambda: len(archived(daemon.home)) == 50, timeout=30)
        # Our starter rules are loaded through the wazuhd_ruleset hook.
        assert wait_for(lambda: any(alert["rule"]["id"] == "194010"
                                    for alert in alerts(daemon.home)), timeout=10)
        missing = f"gcp-pubsub:{PROJECT}/no-such-subscription"
        bad_key = f"gcp-pubsub:{PROJECT}/{other}"
        # Retried with backoff (1 s, then 2 s): at least two failed runs each.
        assert wait_for(lambda: all(gcp_counters(daemon)[name]["errors"] >= 2
                                    for name in (missing, bad_key)), timeout=20)
        counters = gcp_counters(daemon)
        assert counters[missing]["last_error"] == (
            f"subscription projects/{PROJECT}/subscriptions/no-such-subscription does not exist")
        assert counters[bad_key]["last_error"] == (
            f"credentials file {key}: the private key cannot be loaded (ValueError)")
        assert counters[f"gcp-pubsub:{PROJECT}/{subscription}"]["errors"] == 0
        status = daemon.request("control", "status")
        assert status["state"] == "running"
        assert all(state["status"] == "running" for name, state in status["services"].items()
                   if name.startswith("gcp."))
        code, _, err, _ = daemon.terminate()
        assert code == 0, err
    finally:
        daemon.kill()
    log = (daemon.home / "logs" / "wazuhd.log").read_text()
    assert "no-such-subscription does not exist" in log
    assert "SECRET" not in log
