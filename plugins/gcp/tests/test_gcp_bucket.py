"""Cloud Storage log buckets against a real gcp-storage-emulator process."""

from __future__ import annotations

import gzip
import json

from gcp_helpers import (archived, daemon_with, gcp_counters, run_cli, run_once, stdout_events,
                         storage, storage_emulator, unique)
from wazuhd.collect import parse_date
from wazuhd.testing import wait_for
from wazuhd_gcp.bucket import BucketSource

__all__ = ["storage", "storage_emulator"]  # fixtures used by name below

ACCESS_HEADER = ('"time_micros","c_ip","c_ip_type","c_ip_region","cs_method","cs_uri",'
                 '"sc_status","cs_bytes","sc_bytes","time_taken_micros","cs_host","cs_referer",'
                 '"cs_user_agent","s_request_id","cs_operation","cs_bucket","cs_object"\n')


def access_row(request_id: str, uri: str = "/logs/o?alt=media,full") -> str:
    return (f'"1704067200000000","203.0.113.9","1","","GET","{uri}","200","0","1234","5000",'
            f'"storage.googleapis.com","","curl/8.5","{request_id}","GET_Object","logs","o"\n')


def audit_entry(number: int, method: str = "SetIamPolicy") -> str:
    return json.dumps({"insertId": f"id{number}", "severity": "NOTICE",
                       "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
                       "protoPayload": {"methodName": method, "serviceName": "iam.googleapis.com"},
                       "resource": {"type": "project", "labels": {"project_id": "p"}}})


def new_bucket(storage):
    return storage.create_bucket(unique("wazuhd-logs"))


def test_json_sink_objects_are_read_once_then_only_new_ones(storage, storage_emulator, tmp_path):
    bucket = new_bucket(storage)
    prefix = "cloudaudit.googleapis.com/activity/"
    bucket.blob(f"{prefix}2024/01/01/00:00:00_00:59:59_S0.json").upload_from_string(
        audit_entry(1) + "\n\n" + audit_entry(2) + "\n")
    bucket.blob(f"{prefix}2024/01/01/01:00:00_01:59:59_S0.json").upload_from_string(
        gzip.compress((audit_entry(3) + "\n{not json\n").encode()))
    bucket.blob("other/ignored.json").upload_from_string(audit_entry(99))
    env = {"STORAGE_EMULATOR_HOST": storage_emulator}
    state = tmp_path / "state.json"
    args = ["bucket", "--bucket", bucket.name, "--type", "json", "--prefix", prefix,
            "--stdout", "--state", str(state)]

    first = run_cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    events = stdout_events(first)
    assert [e["gcp"].get("insertId") for e in events] == ["id1", "id2", "id3", None]
    assert all(e["integration"] == "gcp" for e in events)
    assert events[3]["gcp"] == {"message": "{not json", "line": 2,
                                "object": f"{prefix}2024/01/01/01:00:00_01:59:59_S0.json"}
    assert "4 events, 2 objects, 1 unreadable, 0 skipped" in first.stderr
    position = json.loads(state.read_text())[f"gcp-bucket:{bucket.name}/{prefix}"][prefix]
    assert position["names"] == [f"{prefix}2024/01/01/01:00:00_01:59:59_S0.json"]

    source = BucketSource(bucket_name=bucket.name, type="json", prefix=prefix)
    assert run_once(source, state) == (0, [])  # the checkpoint the command wrote

    bucket.blob(f"{prefix}2024/01/01/02:00:00_02:59:59_S0.json").upload_from_string(
        audit_entry(4))
    code, later = run_once(source, state)
    assert [e["gcp"]["insertId"] for e in later] == ["id4"]

    reparsed = run_cli(*args, "--reparse", env=env)
    assert len(stdout_events(reparsed)) == 5


def test_access_logs_rows_become_events_named_by_the_header(storage, tmp_path):
    bucket = new_bucket(storage)
    bucket.blob("usage/logs_usage_2024_01_01_00_00_00_0_v0").upload_from_string(
        ACCESS_HEADER + access_row("req-1") + access_row("req-2") + '"short","row"\n')
    source = BucketSource(bucket_name=bucket.name, type="access_logs", prefix="usage/")
    code, events = run_once(source, tmp_path / "state.json")
    assert code == 0
    assert [e["gcp"].get("s_request_id") for e in events] == ["req-1", "req-2", None]
    assert events[0]["gcp"]["cs_uri"] == "/logs/o?alt=media,full"  # a quoted comma stays
    assert events[0]["gcp"]["c_ip"] == "203.0.113.9"
    assert events[2]["gcp"]["message"] == "short,row"


def test_prefixes_of_one_bucket_keep_their_own_checkpoints(storage, tmp_path):
    bucket = new_bucket(storage)
    bucket.blob("a/1.json").upload_from_string(audit_entry(1))
    bucket.blob("b/1.json").upload_from_string(audit_entry(2))
    state = tmp_path / "state.json"
    for prefix, expected in (("a/", ["id1"]), ("b/", ["id2"])):
        code, events = run_once(BucketSource(bucket_name=bucket.name, type="json",
                                             prefix=prefix), state)
        assert (code, [e["gcp"]["insertId"] for e in events]) == (0, expected)
    bucket.blob("b/2.json").upload_from_string(audit_entry(3))
    assert run_once(BucketSource(bucket_name=bucket.name, type="json", prefix="a/"),
                    state) == (0, [])
    code, events = run_once(BucketSource(bucket_name=bucket.name, type="json", prefix="b/"),
                            state)
    assert [e["gcp"]["insertId"] for e in events] == ["id3"]


def test_remove_from_bucket_deletes_what_was_read(storage, tmp_path):
    bucket = new_bucket(storage)
    for number in range(3):
        bucket.blob(f"logs/{number}.json").upload_from_string(audit_entry(number))
    bucket.blob("keep/x.json").upload_from_string(audit_entry(9))
    source = BucketSource(bucket_name=bucket.name, type="json", prefix="logs/",
                          remove_from_bucket=True)
    code, events = run_once(source, tmp_path / "state.json")
    assert (code, len(events)) == (0, 3)
    assert [blob.name for blob in storage.list_blobs(bucket.name)] == ["keep/x.json"]


def test_only_logs_after_skips_older_objects(storage, tmp_path):
    bucket = new_bucket(storage)
    bucket.blob("logs/1.json").upload_from_string(audit_entry(1))
    future = BucketSource(bucket_name=bucket.name, type="json",
                          only_logs_after=parse_date("2999-JAN-01"))
    assert run_once(future, tmp_path / "future.json") == (0, [])
    past = BucketSource(bucket_name=bucket.name, type="json",
                        only_logs_after=parse_date("2020-JAN-01"))
    code, events = run_once(past, tmp_path / "past.json")
    assert [e["gcp"]["insertId"] for e in events] == ["id1"]


def test_a_missing_bucket_is_named(storage, tmp_path, capsys):
    source = BucketSource(bucket_name="no-such-bucket-here", type="json")
    assert run_once(source, tmp_path / "state.json") == (1, [])
    assert ("gcp-bucket:no-such-bucket-here/: bucket no-such-bucket-here does not exist"
            in capsys.readouterr().err)


def test_daemon_reads_buckets_and_keeps_checkpoints_across_restarts(storage, storage_emulator,
                                                                   tmp_path):
    bucket = new_bucket(storage)
    for number in range(3):
        bucket.blob(f"audit/{number}.json").upload_from_string(audit_entry(number))
    config = ("gcp:\n  buckets:\n"
              f"    - {{bucket_name: {bucket.name}, type: json, prefix: audit/, interval: 1}}\n"
              "    - {bucket_name: no-such-bucket-here, type: access_logs, interval: 8}\n")
    home = tmp_path / "home"
    env = {"STORAGE_EMULATOR_HOST": storage_emulator}
    daemon = daemon_with(home, config, env).start()
    try:
        assert wait_for(lambda: len(archived(home)) == 3, timeout=20)
        bucket.blob("audit/3.json").upload_from_string(audit_entry(3))
        assert wait_for(lambda: len(archived(home)) == 4, timeout=20)  # the next run, 1 s on
        missing = "gcp-bucket:no-such-bucket-here/"
        assert wait_for(lambda: gcp_counters(daemon)[missing]["errors"] >= 2, timeout=20)
        assert gcp_counters(daemon)[missing]["last_error"] == \
            "bucket no-such-bucket-here does not exist"
        assert daemon.request("control", "status")["state"] == "running"
        # The standalone command sends to the running daemon's queue socket with --home.
        bucket.blob("cli/1.json").upload_from_string(audit_entry(10))
        sent = run_cli("bucket", "--bucket", bucket.name, "--type", "json", "--prefix", "cli/",
                       "--home", str(home), env=env)
        assert sent.returncode == 0, sent.stderr
        assert wait_for(lambda: len(archived(home)) == 5, timeout=20)
        assert daemon.terminate()[0] == 0
    finally:
        daemon.kill()
    again = daemon_with(home, config, env).start()
    try:
        name = f"gcp-bucket:{bucket.name}/audit/"
        assert wait_for(lambda: gcp_counters(again)[name]["runs"] >= 2, timeout=20)
        assert gcp_counters(again)[name]["events"] == 0  # the store kept the checkpoint
    finally:
        again.kill()
    assert sorted(e["gcp"]["insertId"] for e in archived(home)) == ["id0", "id1", "id10", "id2",
                                                                     "id3"]


def test_a_corrupt_object_is_skipped_with_a_warning_and_the_rest_read(storage, tmp_path,
                                                                      capsys, caplog):
    bucket = new_bucket(storage)
    bucket.blob("logs/1.json.gz").upload_from_string(b"\x1f\x8b\x08\x00broken gzip")
    bucket.blob("logs/2.json").upload_from_string(audit_entry(2))
    state = tmp_path / "state.json"
    code, events = run_once(BucketSource(bucket_name=bucket.name, type="json"), state)
    assert (code, [e["gcp"]["insertId"] for e in events]) == (0, ["id2"])
    assert f"bucket {bucket.name}: object logs/1.json.gz cannot be read" in caplog.text
    assert "1 events, 2 objects, 1 unreadable_objects, 1 skipped" in capsys.readouterr().err
    assert run_once(BucketSource(bucket_name=bucket.name, type="json"), state) == (0, [])
