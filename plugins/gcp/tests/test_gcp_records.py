"""What messages and log objects become, the config section, and how failures are worded."""

from __future__ import annotations

import gzip
import json
import socket
import threading

import pytest

from gcp_helpers import run_once
from wazuhd.config import ConfigError, validate
from wazuhd_gcp import config, records
from wazuhd_gcp.pubsub import PubSubPullSource


def test_a_json_object_payload_is_the_gcp_field_as_is():
    entry = {"severity": "NOTICE", "protoPayload": {"methodName": "SetIamPolicy"}}
    record, is_json = records.pubsub_event(json.dumps(entry).encode(), {"a": "b"}, "9", None)
    assert (record, is_json) == ({"integration": "gcp", "gcp": entry}, True)


@pytest.mark.parametrize("payload, text", [
    (b"plain words", "plain words"),
    (b"[1, 2]", "[1, 2]"),           # JSON, but not an object: no gcp.* fields to match
    (b"\xff\xfeoops", "\ufffd\ufffdoops"),
])
def test_other_payloads_are_sent_as_text_with_their_attributes(payload, text):
    record, is_json = records.pubsub_event(payload, {"origin": "fw"}, "42",
                                           "2024-01-01T00:00:00+00:00")
    assert not is_json
    assert record == {"integration": "gcp", "gcp": {
        "message": text, "attributes": {"origin": "fw"}, "message_id": "42",
        "publish_time": "2024-01-01T00:00:00+00:00"}}


def test_json_lines_skip_blank_lines_and_read_gzip():
    data = gzip.compress(b'{"a": 1}\r\n\r\n{"b": 2}\nnot json\n')
    assert list(records.json_lines(data, "x.json")) == [
        ({"integration": "gcp", "gcp": {"a": 1}}, True),
        ({"integration": "gcp", "gcp": {"b": 2}}, True),
        ({"integration": "gcp", "gcp": {"message": "not json", "object": "x.json", "line": 4}},
         False)]


def test_access_logs_without_rows_give_nothing():
    assert list(records.access_log(b'"time_micros","c_ip"\n', "usage")) == []
    assert list(records.access_log(b"", "usage")) == []


def test_config_section_fills_defaults_and_builds_named_sources():
    checked = validate([config.SECTION], {"gcp": {
        "pubsub": [{"project_id": "p", "subscription_name": "s"}],
        "buckets": [{"bucket_name": "b", "type": "json", "prefix": "audit/",
                     "only_logs_after": "2024-JAN-31"}]}}, origin="wazuhd.yaml")
    subscription = checked["gcp"]["pubsub"][0]
    assert (subscription["max_messages"], subscription["num_threads"],
            subscription["pull_on_start"], subscription["interval"]) == (100, 1, True, 60)
    pubsub_source, bucket_source = config.sources(checked["gcp"])
    assert pubsub_source.name == "gcp-pubsub:p/s"
    assert bucket_source.name == "gcp-bucket:b/audit/"
    assert bucket_source.only_logs_after.isoformat() == "2024-01-31T00:00:00+00:00"
    assert {pubsub_source.location, bucket_source.location} == {"Wazuh-GCloud"}


@pytest.mark.parametrize("section, error", [
    ({"pubsub": [{"project_id": "p"}]}, "gcp.pubsub[0]: 'subscription_name' is a required"),
    ({"buckets": [{"bucket_name": "b", "type": "csv"}]},
     "gcp.buckets[0].type: expected one of 'access_logs', 'json', got 'csv'"),
    ({"buckets": [{"bucket_name": "b", "type": "json", "only_logs_after": "yesterday"}]},
     "gcp.buckets[0].only_logs_after: 'yesterday' does not match"),
    ({"pubsub": [{"project_id": "p", "subscription_name": "s", "max_messages": 0}]},
     "gcp.pubsub[0].max_messages: expected a value with minimum 1, got 0"),
])
def test_config_errors_name_the_key(section, error):
    with pytest.raises(ConfigError) as raised:
        validate([config.SECTION], {"gcp": section}, origin="wazuhd.yaml")
    assert error in str(raised.value)


def test_deadline_exceeded_names_the_subscription(tmp_path, monkeypatch, capsys):
    """A server that accepts connections and never answers: the lookup runs out of time."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted = []
    stop = threading.Event()

    def accept():
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(silent.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:%d" % silent.getsockname()[1])
    source = PubSubPullSource(project_id="p", subscription_name="s")
    source.rpc_timeout = 1.0
    try:
        assert run_once(source, tmp_path / "state.json") == (1, [])
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        silent.close()
    assert "gcp-pubsub:p/s: subscription projects/p/subscriptions/s: deadline exceeded" \
        in capsys.readouterr().err


def test_an_impossible_day_is_named_with_its_key():
    checked = validate([config.SECTION], {"gcp": {"buckets": [
        {"bucket_name": "b", "type": "json", "only_logs_after": "2024-XYZ-01"}]}},
        origin="wazuhd.yaml")
    with pytest.raises(ValueError, match=r"gcp.buckets\[0\].only_logs_after: invalid date"):
        config.sources(checked["gcp"])
