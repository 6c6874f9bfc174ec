"""Our events against the rules: Wazuh's azure (0555) and ms-graph (0995) rules fire
on them unchanged, and the plugin's starter rules refine them, with Wazuh's ruleset
loaded and without it. The events come from the real sources (Log Analytics and
Graph through the local HTTPS server, blobs through the blob parser)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from azure_helpers import ago, app_entry, graph_time, microsoft, run_source, unique  # noqa: F401
from wazuhd.config import defaults_of
from wazuhd.testing import shared_dir
from wazuhd_analysis import plugin as analysis_plugin
from wazuhd_analysis import service
from wazuhd_analysis.engine import Engine, Ruleset
from wazuhd_azure import config
from wazuhd_azure.common import iso
from wazuhd_azure.storage import parse_blob

WAZUH = shared_dir() / "wazuh-ruleset"
needs_wazuh = pytest.mark.skipif(not (WAZUH / "rules").is_dir(),
                                 reason=f"Wazuh ruleset not found at {WAZUH}")
OURS = Path(str(resources.files("wazuhd_azure").joinpath("ruleset")))


def engine(*, wazuh: bool, ours: bool, home: Path) -> Engine:
    section = defaults_of(analysis_plugin.SECTION.schema["properties"]["ruleset"])
    if wazuh:
        section.update(decoder_dirs=[str(WAZUH / "decoders")], rule_dirs=[str(WAZUH / "rules")],
                       list_files=[str(WAZUH / "lists")])
    ruleset = Ruleset.load(service.ruleset_config(section, home, {"azure": OURS} if ours else {}))
    assert not [w for w in ruleset.warnings if "1930" in w], ruleset.warnings
    return Engine(ruleset)


@pytest.fixture(scope="module")
def events(microsoft, tmp_path_factory):
    """name -> (location, message) as our sources emit them."""
    apis, origin, ca_file = microsoft
    state = tmp_path_factory.mktemp("state") / "state.json"
    out: dict[str, tuple[str, str]] = {}

    workspace = unique("ws-")
    base = {"Caller": "alice@contoso.com", "CallerIpAddress": "203.0.113.5", "Type": "AzureActivity"}
    rows = {
        "la-vm-start": {**base, "OperationName": "Microsoft.Compute/virtualMachines/start/action"},
        "la-role": {**base, "OperationName": "Create role assignment",
                    "OperationNameValue": "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE"},
        "la-keys": {**base, "OperationName": "Microsoft.Storage/storageAccounts/listKeys/action"},
        "la-signin-failed": {"Type": "SigninLogs", "ResultType": "50126",
                             "UserPrincipalName": "bob@contoso.com", "IPAddress": "198.51.100.4"},
    }
    apis.tables[workspace] = {"AzureActivity": [
        {"TimeGenerated": iso(ago(minutes=len(rows) - i)), "Name": name, **row}
        for i, (name, row) in enumerate(rows.items())]}
    source = config.log_analytics_source(app_entry(origin, ca_file, workspace=workspace,
                                                   query="AzureActivity", tag="azure-activity"), 60)
    lines, _, failure = run_source(source, state)
    assert failure is None
    out.update({json.loads(line)["Name"]: (source.location, line) for line in lines})

    version = unique("v")
    graph = {
        "auditLogs/directoryAudits": ("activityDateTime", {
            "ad-update-user": {"activityDisplayName": "Update user"},
            "ad-role": {"activityDisplayName": "Add member to role",
                        "initiatedBy": {"user": {"userPrincipalName": "admin@contoso.com"}}}}),
        "auditLogs/signIns": ("createdDateTime", {
            "signin-failed": {"status": {"errorCode": 50126}, "userPrincipalName": "bob@contoso.com"},
            "signin-risky": {"status": {"errorCode": 0}, "riskLevelDuringSignIn": "high"},
            "signin-medium-risk": {"status": {"errorCode": 0}, "riskLevelDuringSignIn": "medium"}}),
        "security/alerts_v2": ("createdDateTime", {
            "alert-medium": {"severity": "medium", "status": "new", "category": "Novel",
                             "classification": None}}),
        "security/incidents": ("createdDateTime", {
            "incident-resolved": {"severity": "low", "status": "resolved"}}),
    }
    for path, (field, records) in graph.items():
        apis.collections[f"{version}/{path}"] = [
            {"id": name, field: graph_time(ago(minutes=10 + i)), **record}
            for i, (name, record) in enumerate(records.items())]
        apis.time_fields[f"{version}/{path}"] = field
        resource, relationship = path.split("/")
        where = ({"resource": resource, "relationship": relationship,
                  "only_future_events": False} if resource == "security" else {"query": path})
        source = config.graph_source(app_entry(origin, ca_file, version=version, **where), 60)
        lines, _, failure = run_source(source, state)
        assert failure is None and len(lines) == len(records)
        for line in lines:
            record = json.loads(line)
            out[record.get("ms-graph", record)["id"]] = (source.location, line)

    # Wazuh's own sample of a storage activity record, and a plain one.
    blob = json.dumps({"records": [
        {"operationName": "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION", "name": "blob-keys",
         "category": "Action", "resultType": "Success", "callerIpAddress": "81.34.214.32"},
        {"operationName": "MICROSOFT.COMPUTE/VIRTUALMACHINES/DEALLOCATE/ACTION", "name": "blob-vm",
         "category": "Action", "resultType": "Success"}]}).encode()
    for record in parse_blob(blob, "json_file", "activity")[0]:
        out[record["name"]] = ("Azure", json.dumps(record, separators=(",", ":")))
    text = b"2026/11/26 10:40:23.853286 INFO Running Agent 2.2.23\n"
    out["blob-text"] = ("Azure", parse_blob(text, "text", "azure-diagnostics")[0][0])
    return out


def verdicts(eng: Engine, events: dict) -> dict[str, tuple[str, str]]:
    results = {}
    for name, (location, message) in events.items():
        result = eng.process(message, location)
        results[name] = (result.decoder_name, int(result.rule.id) if result.rule else None)
    return results


WAZUH_RULES = {
    "la-vm-start": ("json", 87811), "la-role": ("json", 87811), "la-keys": ("json", 87811),
    "la-signin-failed": ("json", 87801),
    "ad-update-user": ("json", 87802), "ad-role": ("json", 87802),
    "signin-failed": ("json", 87802), "signin-risky": ("json", 87802),
    "signin-medium-risk": ("json", 87802),
    "alert-medium": ("json-msgraph", 99518), "incident-resolved": ("json-msgraph", 99633),
    "blob-keys": ("json", 87813), "blob-vm": ("json", 87813),
    "blob-text": ("azure-storage", 87804),
}
OUR_RULES = {
    "la-role": 193031, "la-keys": 193041, "la-signin-failed": 193011, "ad-role": 193030,
    "signin-failed": 193010, "signin-risky": 193021, "signin-medium-risk": 193020,
    "blob-keys": 193042,
}


@needs_wazuh
def test_wazuh_rules_fire_on_our_events(events, tmp_path):
    assert verdicts(engine(wazuh=True, ours=False, home=tmp_path), events) == WAZUH_RULES


@needs_wazuh
def test_our_rules_refine_wazuh_ones(events, tmp_path):
    expected = {name: (decoder, OUR_RULES.get(name, rule))
                for name, (decoder, rule) in WAZUH_RULES.items()}
    assert verdicts(engine(wazuh=True, ours=True, home=tmp_path), events) == expected


def test_our_rules_without_wazuh_ruleset(events, tmp_path):
    got = verdicts(engine(wazuh=False, ours=True, home=tmp_path), events)
    for name, rule in OUR_RULES.items():
        assert got[name] == ("wazuhd-json", rule), name
    assert got["la-vm-start"] == ("wazuhd-json", 193000)
    assert got["ad-update-user"] == ("wazuhd-json", 193000)
