"""Blob Storage against a real Azurite: thousands of blobs over several days in the
three content types, a stop in the middle, corrupt and late blobs, the three ways
to sign in, the time window, and a real daemon turning blobs into alerts."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess

import pytest

from azure_helpers import (DEV_ACCOUNT, DEV_KEY, azurite, run_source, storage_entry,  # noqa: F401
                           unique, wazuhd)
from wazuhd.testing import DaemonProcess, wait_for
from wazuhd_azure import config

DAYS = 5
DIAG_BLOBS, INLINE_BLOBS, TEXT_BLOBS = 3000, 1500, 600


def diag_name(index: int) -> str:
    """Where Azure diagnostic settings write: one folder per day and hour."""
    day, hour = index % DAYS, index % 24
    return (f"resourceId=/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/y=2026/m=11/d={20 + day:02d}"
            f"/h={hour:02d}/m=00/PT1H-{index:05d}.json")


@pytest.fixture(scope="module")
def many(azurite):
    """5,100 blobs in three containers, one per content type; the records each expects."""
    expected = {"diag": set(), "inline": set(), "text": set()}
    diag = {}
    for i in range(DIAG_BLOBS):
        records = [{"time": f"2026-11-{20 + i % DAYS:02d}T{i % 24:02d}:00:00Z",
                    "category": "Administrative", "seq": f"diag-{i}-{j}",
                    "operationName": "MICROSOFT.COMPUTE/VIRTUALMACHINES/START/ACTION"}
                   for j in range(2)]
        expected["diag"].update(r["seq"] for r in records)
        diag[diag_name(i)] = json.dumps({"records": records}).encode()
    inline = {}
    for i in range(INLINE_BLOBS):
        lines = [json.dumps({"seq": f"inline-{i}-{j}", "level": "Information"}) for j in range(3)]
        expected["inline"].update(f"inline-{i}-{j}" for j in range(3))
        inline[f"2026/11/{20 + i % DAYS:02d}/app-{i:05d}.jsonl"] = "\n".join(lines).encode()
    text = {}
    for i in range(TEXT_BLOBS):
        lines = [f"text-{i}-{j} GET /index.html 200" for j in range(2)]
        expected["text"].update(lines)
        text[f"2026/11/{20 + i % DAYS:02d}/web-{i:05d}.log"] = ("\r\n".join(lines) + "\n").encode()
    azurite.upload("insights-activity", diag)
    azurite.upload("inline", inline)
    azurite.upload("text", text)
    return expected


def storage_source(azurite, container, **extra):
    return config.storage_source(storage_entry(azurite, container, **extra), interval=600)


def test_thousands_of_blobs_with_a_stop_in_the_middle(azurite, many, tmp_path):
    """The standalone command is stopped (SIGTERM) half-way and run again: every record
    of the 3,000 blobs comes out exactly once; a third run finds nothing new."""
    state = tmp_path / "state.json"
    command = ("azure", "storage", "--container", "insights-activity", "--account-name",
               DEV_ACCOUNT, "--endpoint", azurite.endpoint, "--content-type", "json_file",
               "--tag", "activity", "--stdout", "--state", str(state))
    env = {"AZURE_STORAGE_KEY": DEV_KEY}
    first = wazuhd(*command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = []
    for line in first.stdout:
        lines.append(line)
        if len(lines) >= 1500:
            first.send_signal(signal.SIGTERM)
            break
    # Read on through the same buffered file (communicate() would bypass its buffer).
    lines += first.stdout.read().splitlines()
    err = first.stderr.read()
    assert first.wait(timeout=60) == 0, err
    assert "(interrupted)" in err
    assert 1500 <= len(lines) < len(many["diag"])

    second = wazuhd(*command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rest, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert DEV_KEY not in err
    lines += rest.splitlines()
    events = [json.loads(line) for line in lines]
    seqs = [event["seq"] for event in events]
    assert len(seqs) == len(set(seqs)), "a record was emitted twice"
    assert set(seqs) == many["diag"]
    assert all(e["azure_tag"] == "azure-storage" and e["azure_storage_tag"] == "activity"
               for e in events)

    source = config.storage_source(storage_entry(azurite, "insights-activity"), 600)
    lines, stats, failure = run_source(source, state)
    assert (lines, stats.events, failure) == ([], 0, None)


def test_json_lines_and_text_blobs(azurite, many, tmp_path):
    lines, stats, failure = run_source(
        storage_source(azurite, "inline", content_type="json_inline", tag="app"), tmp_path / "a")
    assert failure is None
    events = [json.loads(line) for line in lines]
    assert sorted(e["seq"] for e in events) == sorted(many["inline"])
    assert {(e["azure_tag"], e["azure_storage_tag"]) for e in events} == {("azure-storage", "app")}
    assert stats.extra["blobs"] == INLINE_BLOBS and stats.warnings == 0

    lines, stats, failure = run_source(storage_source(azurite, "text", content_type="text",
                                                      tag="web"), tmp_path / "b")
    assert failure is None
    # As Wazuh sends text lines, for its azure-storage decoder.
    prefix = "azure_tag: azure-storage. azure_storage_tag: web. "
    assert all(line.startswith(prefix) for line in lines)
    assert sorted(line.removeprefix(prefix) for line in lines) == sorted(many["text"])
    assert stats.events == 2 * TEXT_BLOBS


def test_corrupt_blobs_are_skipped_and_a_late_blob_is_read(azurite, tmp_path, caplog):
    container = unique("mixed")
    good = {"records": [{"seq": "good-1", "operationName": "X"}, {"seq": "good-2"}]}
    azurite.upload(container, {
        "a/1.json": json.dumps(good).encode(),
        "a/2.json": b"{not json",
        "a/3.json": json.dumps(good).encode()[:30],            # truncated
        "a/4.json": b'{"value": []}',                           # no records array
        "a/5.json": b"\xff\xfe\x00binary",
        "a/notes.txt": b"not selected by the name filter",
        "b/outside.json": json.dumps(good).encode(),            # outside the prefix
    })
    source = storage_source(azurite, container, prefix="a/", blobs=".json")
    state = tmp_path / "state.json"
    lines, stats, failure = run_source(source, state)
    assert failure is None
    assert [json.loads(line)["seq"] for line in lines] == ["good-1", "good-2"]
    assert stats.extra == {"blobs": 5, "corrupt_blobs": 4}
    assert stats.warnings == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    for name, why in (("2", "not a JSON document"), ("3", "not a JSON document"),
                      ("4", 'not a JSON document with a "records" array'),
                      ("5", "not UTF-8 text")):
        assert any(f"blob {container}/a/{name}.json is not json_file: {why}" in w
                   for w in warnings), (name, warnings)

    lines, stats, failure = run_source(source, state)
    assert (lines, stats.warnings, failure) == ([], 0, None)

    late = {"records": [{"seq": "late-1"}]}
    azurite.upload(container, {"a/6.json": json.dumps(late).encode(),
                               "a/7.json": b'{"seq": "wrong type, not records"}'})
    lines, stats, failure = run_source(source, state)
    assert [json.loads(line)["seq"] for line in lines] == ["late-1"]
    assert stats.extra == {"blobs": 2, "corrupt_blobs": 1}


def test_bad_lines_of_a_json_lines_blob(azurite, tmp_path):
    container = unique("lines")
    azurite.upload(container, {"x.jsonl": b'{"seq": 1}\nnot json\n[1, 2]\n\n{"seq": 2}\n'})
    lines, stats, failure = run_source(
        storage_source(azurite, container, content_type="json_inline"), tmp_path / "s")
    assert failure is None
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]
    assert stats.extra["corrupt_records"] == 2
    assert "x.jsonl: line 3 is not a JSON object" in stats.last_error


def test_connection_string_sas_and_a_wrong_key(azurite, tmp_path):
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    container = unique("auth")
    azurite.upload(container, {"one.json": b'{"records": [{"seq": "only"}]}'})
    by_string = config.storage_source({"container": container, "content_type": "json_file",
                                       "connection_string": azurite.connection_string}, 600)
    lines, _, failure = run_source(by_string, tmp_path / "cs")
    assert failure is None and [json.loads(x)["seq"] for x in lines] == ["only"]
    assert by_string.name == f"azure-storage:{DEV_ACCOUNT}/{container}"

    sas = generate_container_sas(DEV_ACCOUNT, container, account_key=DEV_KEY,
                                 permission=ContainerSasPermissions(read=True, list=True),
                                 expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
    by_sas = config.storage_source({"container": container, "account_name": DEV_ACCOUNT,
                                    "sas_token": sas, "endpoint": azurite.endpoint,
                                    "content_type": "json_file"}, 600)
    lines, _, failure = run_source(by_sas, tmp_path / "sas")
    assert failure is None and len(lines) == 1

    wrong_key = DEV_KEY[:-8] + "AAAAAAA="
    state = tmp_path / "wrong"
    denied = storage_source(azurite, container, account_key=wrong_key, retries=0)
    lines, stats, failure = run_source(denied, state)
    assert lines == [] and failure is not None
    assert f"cannot list container {container!r}" in str(failure)
    assert wrong_key not in str(failure) and stats.errors == 1
    assert not state.exists(), "a failed run must not write a checkpoint"

    forged = config.storage_source({"container": container, "account_name": DEV_ACCOUNT,
                                    "sas_token": sas.replace("sig=", "sig=A"),
                                    "endpoint": azurite.endpoint, "retries": 0}, 600)
    _, _, failure = run_source(forged, tmp_path / "forged")
    assert failure is not None and "sig=A" not in str(failure)


def test_time_window(azurite, tmp_path):
    container = unique("window")
    azurite.upload(container, {"now.json": b'{"records": [{"seq": "now"}]}'})
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).strftime("%Y-%b-%d")
    lines, _, _ = run_source(storage_source(azurite, container, only_logs_after=tomorrow),
                             tmp_path / "a")
    assert lines == []
    lines, _, _ = run_source(storage_source(azurite, container, only_logs_after="2020-JAN-01",
                                            time_offset="1h"), tmp_path / "b")
    assert len(lines) == 1


def test_reparse_reads_everything_again(azurite, tmp_path):
    container = unique("reparse")
    azurite.upload(container, {f"{i}.json": json.dumps({"records": [{"seq": i}]}).encode()
                               for i in range(3)})
    state = tmp_path / "state.json"
    source = config.storage_source({"container": container, "content_type": "json_file",
                                    "connection_string": azurite.connection_string}, 600)
    assert len(run_source(source, state)[0]) == 3
    assert run_source(source, state)[0] == []
    proc = wazuhd("azure", "storage", "--container", container, "--connection-string",
                  azurite.connection_string, "--content-type", "json_file", "--stdout",
                  "--state", str(state), "--reparse",
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert sorted(json.loads(line)["seq"] for line in out.splitlines()) == [0, 1, 2]
    assert ": 3 events, 3 blobs, 0 skipped" in err


def test_daemon_turns_blobs_into_alerts(azurite, tmp_path):
    """A configured container becomes alerts of the starter rules; an entry that cannot
    be used is logged by its place in the section and the other source still runs."""
    container = unique("daemon")
    records = [
        {"operationName": "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION",
         "callerIpAddress": "203.0.113.7", "category": "Action"},
        {"operationName": "Microsoft.Authorization/roleAssignments/write", "category": "Action",
         "identity": {"claims": {"name": "mallory"}}},
    ]
    azurite.upload(container, {"activity.json": json.dumps({"records": records}).encode()})
    entry = storage_entry(azurite, container, tag="activity")
    unusable = {"container": container, "account_name": DEV_ACCOUNT}  # neither key nor SAS
    daemon = DaemonProcess(tmp_path / "home", config=(
        "plugins:\n  disabled: [http]\n"
        f"azure:\n  interval: 3600\n  storage:\n    - {json.dumps(entry)}\n"
        f"    - {json.dumps(unusable)}\n"))
    daemon.start()
    try:
        alerts_file = daemon.home / "logs" / "alerts" / "alerts.json"

        def alerts():
            return ([json.loads(x) for x in alerts_file.read_text().splitlines()]
                    if alerts_file.exists() else [])

        assert wait_for(lambda: len(alerts()) >= 2, timeout=30), daemon.output()
        by_rule = {a["rule"]["id"]: a for a in alerts()}
        assert {"193042", "193033"} <= set(by_rule)
        assert by_rule["193042"]["data"]["azure_storage_tag"] == "activity"
        assert by_rule["193042"]["location"] == "Azure"
        name = f"azure-storage:{DEV_ACCOUNT}/{container}"

        def counters():
            return daemon.counters("azure")[name]

        # The run ends (checkpoint, counters) just after the analysis got its events.
        assert wait_for(lambda: counters()["last_success_at"] is not None, timeout=10)
        assert (counters()["events"], counters()["blobs"], counters()["errors"]) == (2, 1, 0)
        status = daemon.request("control", "status")
        assert DEV_KEY not in json.dumps(status)
    finally:
        code, out, err, _ = daemon.terminate()
    log = (daemon.home / "logs" / "wazuhd.log").read_text()
    assert "azure.storage[1]: azure storage: account 'devstoreaccount1' needs an account key" in log
    assert DEV_KEY not in log
