"""Log Analytics and Microsoft Graph: the real client code against a local HTTPS server
speaking the token endpoint, the query endpoint and Graph collections (paging with
@odata.nextLink, 429 with Retry-After, 5xx, expired tokens)."""

from __future__ import annotations

import json
import re
import subprocess
import time

from azure_helpers import (CLIENT_ID, SECRET, TENANT, ago, app_entry, graph_time,  # noqa: F401
                           microsoft, run_source, unique, wazuhd)
from wazuhd_azure import config
from wazuhd_azure.common import iso


def activity_row(moment, operation: str, **extra) -> dict:
    return {"TimeGenerated": iso(moment), "Type": "AzureActivity", "OperationName": operation,
            "Caller": "alice@contoso.com", "CallerIpAddress": "203.0.113.5", **extra}


def la_source(microsoft, workspace, **extra):
    apis, origin, ca_file = microsoft
    return config.log_analytics_source(
        app_entry(origin, ca_file, workspace=workspace, query="AzureActivity", **extra), 600)


def test_log_analytics_reads_each_row_once(microsoft, tmp_path):
    apis, origin, _ = microsoft
    workspace = unique("ws-")
    rows = [activity_row(ago(days=3 - i % 3, minutes=i), "Microsoft.Compute/virtualMachines/start/action",
                         OperationId=f"op-{i}") for i in range(40)]
    apis.tables[workspace] = {"AzureActivity": list(rows)}
    source = la_source(microsoft, workspace, tag="azure-activity")
    state = tmp_path / "state.json"
    lines, stats, failure = run_source(source, state)
    assert failure is None
    events = [json.loads(line) for line in lines]
    assert [e["OperationId"] for e in events] == [r["OperationId"] for r in
                                                 sorted(rows, key=lambda r: r["TimeGenerated"])]
    assert all(e["azure_tag"] == "azure-log-analytics" and e["log_analytics_tag"] == "azure-activity"
               for e in events)
    token_request = apis.token_requests[-1]
    assert token_request["scope"] == f"{origin}/.default"
    assert "| where TimeGenerated < datetime(" in apis.queries[-1]

    # Later: a row at exactly the newest time already read, and a newer one.
    newest = max(r["TimeGenerated"] for r in rows)
    apis.tables[workspace]["AzureActivity"] += [
        {**rows[0], "TimeGenerated": newest, "OperationId": "same-time"},
        activity_row(ago(seconds=5), "Microsoft.Storage/storageAccounts/listKeys/action",
                     OperationId="newer")]
    asked = len(apis.queries)
    lines, stats, failure = run_source(source, state)
    assert failure is None
    assert sorted(json.loads(line)["OperationId"] for line in lines) == ["newer", "same-time"]
    assert f"TimeGenerated >= datetime({newest})" in apis.queries[asked]
    assert run_source(source, state)[0] == []


def test_log_analytics_reads_a_backlog_a_day_at_a_time(microsoft, tmp_path):
    apis, _, _ = microsoft
    workspace = unique("ws-")
    rows = [activity_row(ago(hours=70 - i), "op", OperationId=f"op-{i}") for i in range(0, 70, 7)]
    apis.tables[workspace] = {"AzureActivity": rows}
    asked = len(apis.queries)
    lines, stats, failure = run_source(la_source(microsoft, workspace, time_offset="3d"),
                                       tmp_path / "state.json")
    assert failure is None
    assert [json.loads(line)["OperationId"] for line in lines] == [r["OperationId"] for r in rows]
    queries = apis.queries[asked:]
    assert len(queries) == 3  # three days, one query each
    # Each query starts where the one before ended.
    bounds = [re.findall(r"datetime\(([^)]+)\)", query) for query in queries]
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))


def test_log_analytics_throttling_server_errors_and_expired_tokens(microsoft, tmp_path):
    apis, _, _ = microsoft
    workspace = unique("ws-")
    apis.tables[workspace] = {"AzureActivity": [activity_row(ago(hours=1), "op", OperationId="1")]}
    source = la_source(microsoft, workspace)
    apis.throttle.append(f"/v1/workspaces/{workspace}/query")
    apis.failures[f"/v1/workspaces/{workspace}/query"] = 1
    lines, stats, failure = run_source(source, tmp_path / "a")
    assert failure is None and len(lines) == 1
    assert stats.extra["throttled"] == 1 and stats.extra["server_errors"] == 1

    apis.tables[workspace]["AzureActivity"].append(activity_row(ago(minutes=1), "op", OperationId="2"))
    apis.revoke_tokens()
    issued = apis.issued
    lines, stats, failure = run_source(source, tmp_path / "a")
    assert failure is None and [json.loads(x)["OperationId"] for x in lines] == ["2"]
    assert stats.extra["token_refreshes"] == 1 and apis.issued == issued + 1


def test_log_analytics_failures_name_the_source_and_keep_the_checkpoint(microsoft, tmp_path):
    apis, origin, ca_file = microsoft
    workspace = unique("ws-")
    apis.tables[workspace] = {"AzureActivity": [activity_row(ago(hours=1), "op", OperationId="1")]}
    state = tmp_path / "state.json"

    wrong = config.log_analytics_source(app_entry(origin, ca_file, workspace=workspace,
                                                  query="AzureActivity",
                                                  client_secret="not-the-secret"), 600)
    lines, stats, failure = run_source(wrong, state)
    assert lines == [] and "AADSTS7000215" in str(failure) and TENANT in str(failure)
    assert "not-the-secret" not in str(failure) and stats.errors == 1

    apis.failures[f"/v1/workspaces/{workspace}/query"] = 10
    down = la_source(microsoft, workspace, max_retries=1, max_retry_wait=0)
    lines, stats, failure = run_source(down, state)
    assert lines == [] and f"workspace {workspace}: giving up after 2 attempts: HTTP 500" in str(failure)
    apis.failures.clear()

    missing = config.log_analytics_source(app_entry(origin, ca_file, workspace=workspace,
                                                    query="NoSuchTable"), 600)
    _, _, failure = run_source(missing, state)
    assert "HTTP 400 BadArgumentError: 'NoSuchTable' is not a table" in str(failure)
    assert not state.exists(), "no checkpoint may be written by a failed run"
    assert len(run_source(la_source(microsoft, workspace), state)[0]) == 1


def directory_audit(moment, index: int, activity: str = "Update user") -> dict:
    return {"id": f"Directory_{index:04d}", "category": "UserManagement",
            "activityDisplayName": activity, "activityDateTime": graph_time(moment),
            "result": "success", "loggedByService": "Core Directory",
            "initiatedBy": {"user": {"userPrincipalName": "admin@contoso.com"}}}


def test_graph_pages_throttling_and_restart(microsoft, tmp_path):
    apis, origin, ca_file = microsoft
    version = unique("v")
    path = f"{version}/auditLogs/directoryAudits"
    # 230 records over four days, several at the very same time.
    records = [directory_audit(ago(days=4, minutes=-i // 3 * 30), i) for i in range(230)]
    apis.collections[path] = list(records)
    apis.time_fields[path] = "activityDateTime"
    apis.throttle.append(f"/{path}?$skiptoken=100")
    source = config.graph_source(app_entry(origin, ca_file, query="auditLogs/directoryAudits",
                                           tag="microsoft-entra_id", version=version), 600)
    state = tmp_path / "state.json"
    lines, stats, failure = run_source(source, state)
    assert failure is None
    events = [json.loads(line) for line in lines]
    assert sorted(e["id"] for e in events) == sorted(r["id"] for r in records)
    assert all(e["azure_tag"] == "azure-ad-graph" and e["azure_aad_tag"] == "microsoft-entra_id"
               for e in events)
    assert stats.extra["pages"] == 5 and stats.extra["throttled"] == 1
    pages = [target for method, target in apis.requests if target.startswith(f"/{path}")]
    assert len(pages) == 6  # five pages, one of them asked twice

    # Records that appear later, one at the newest time already read: only they come.
    newest = max(r["activityDateTime"] for r in records)
    apis.collections[path] += [{**records[0], "id": "late-same-time", "activityDateTime": newest},
                               directory_audit(ago(seconds=3), 999)]
    lines, _, failure = run_source(source, state)
    assert failure is None
    assert sorted(json.loads(line)["id"] for line in lines) == ["Directory_0999", "late-same-time"]
    assert run_source(source, state)[0] == []


def test_ms_graph_security_alerts_shape(microsoft, tmp_path):
    apis, origin, ca_file = microsoft
    version = unique("v")
    path = f"{version}/security/alerts_v2"
    apis.collections[path] = [
        {"id": f"da{i}", "createdDateTime": graph_time(ago(hours=5 - i)), "severity": "high",
         "status": "new", "category": "Execution", "title": "Suspicious PowerShell"}
        for i in range(3)]
    apis.time_fields[path] = "createdDateTime"
    source = config.graph_source(app_entry(origin, ca_file, resource="security",
                                           relationship="alerts_v2", version=version,
                                           only_future_events=False), 600)
    assert source.name == f"ms-graph:{TENANT}:security/alerts_v2"
    assert source.location == "ms-graph"
    lines, _, failure = run_source(source, tmp_path / "s")
    assert failure is None and len(lines) == 3
    first = lines[0]
    assert first.startswith('{"integration":"ms-graph","ms-graph":{')
    event = json.loads(first)["ms-graph"]
    assert (event["id"], event["resource"], event["relationship"]) == ("da0", "security", "alerts_v2")


def test_ms_graph_reads_only_future_events_by_default(microsoft, tmp_path):
    """As Wazuh's ms-graph module: the first run starts at now; later events are read."""
    apis, origin, ca_file = microsoft
    version = unique("v")
    path = f"{version}/security/incidents"
    apis.collections[path] = [{"id": "old", "createdDateTime": graph_time(ago(hours=2))}]
    apis.time_fields[path] = "createdDateTime"
    source = config.graph_source(app_entry(origin, ca_file, resource="security",
                                           relationship="incidents", version=version), 600)
    state = tmp_path / "s"
    lines, _, failure = run_source(source, state)
    assert failure is None and lines == [] and state.exists()
    apis.collections[path].append({"id": "new", "createdDateTime": graph_time(ago(seconds=0))})
    time.sleep(0.01)
    lines, _, failure = run_source(source, state)
    assert failure is None and [json.loads(line)["ms-graph"]["id"] for line in lines] == ["new"]
    # Asked for history (time_offset), the first run reads it.
    since = config.graph_source(app_entry(origin, ca_file, resource="security",
                                          relationship="incidents", version=version,
                                          time_offset="3h"), 600)
    lines, _, _ = run_source(since, tmp_path / "s2")
    assert [json.loads(line)["ms-graph"]["id"] for line in lines] == ["old", "new"]


def test_graph_refuses_to_follow_a_next_link_elsewhere(microsoft, tmp_path):
    apis, origin, ca_file = microsoft
    version = unique("v")
    path = f"{version}/security/incidents"
    apis.collections[path] = [{"id": f"i{i}", "createdDateTime": graph_time(ago(hours=1, seconds=i))}
                              for i in range(60)]
    apis.time_fields[path] = "createdDateTime"
    apis.next_link_origin = "https://attacker.example"
    try:
        source = config.graph_source(app_entry(origin, ca_file, resource="security",
                                               relationship="incidents", version=version,
                                               only_future_events=False), 600)
        state = tmp_path / "s"
        lines, _, failure = run_source(source, state)
    finally:
        apis.next_link_origin = None
    assert lines == [] and not state.exists()
    assert "refusing to send the token to https://attacker.example" in str(failure)


def test_graph_standalone_command(microsoft, tmp_path):
    apis, origin, ca_file = microsoft
    version = unique("v")
    path = f"{version}/auditLogs/signIns"
    apis.collections[path] = [
        {"id": "s1", "createdDateTime": graph_time(ago(minutes=30)), "userPrincipalName": "bob@contoso.com",
         "ipAddress": "198.51.100.4", "status": {"errorCode": 50126}},
        {"id": "s2", "createdDateTime": graph_time(ago(minutes=20)), "userPrincipalName": "bob@contoso.com",
         "ipAddress": "198.51.100.4", "status": {"errorCode": 0}, "riskLevelDuringSignIn": "high"}]
    apis.time_fields[path] = "createdDateTime"
    state = tmp_path / "state.json"
    proc = wazuhd("azure", "graph", "--tenant-id", TENANT, "--client-id", CLIENT_ID,
                  "--authority", origin, "--endpoint", origin, "--ca-file", ca_file,
                  "--version", version, "--query", "auditLogs/signIns", "--ingestion-delay", "0",
                  "--time-offset", "1d", "--stdout", "--state", str(state),
                  env={"AZURE_CLIENT_SECRET": SECRET}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["s1", "s2"]
    assert "2 events" in err and SECRET not in err
    saved = json.loads(state.read_text())
    assert list(saved) == [f"azure-graph:{TENANT}:auditLogs/signIns"]
    assert SECRET not in state.read_text()
