"""Our events through the analysis engine: Wazuh's amazon rules fire on them exactly as on
Wazuh's own events, and without Wazuh's ruleset our starter rules give the alerts."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from aws_helpers import (ALB_LINE, ACCOUNT, cloudtrail_object, cloudtrail_record, console_login,
                         days_ago, guardduty_finding, gz, parquet_bytes, security_hub_event,
                         vpcflow_text)

from wazuhd.testing import shared_dir
from wazuhd_aws import formats
from wazuhd_aws.buckets import BucketOptions, S3Source
from wazuhd_aws.events import LOCATION
from wazuhd_aws.inspector import finding_event
from wazuhd_aws.events import encode

pytest.importorskip("wazuhd_analysis", reason="the analysis plugin (wazuhd-analysis) is not installed")
from wazuhd_analysis.engine import Engine, Ruleset, RulesetConfig  # noqa: E402
from wazuhd_analysis.service import STARTER_RULESET  # noqa: E402

WAZUH = shared_dir() / "wazuh-ruleset"
OURS = Path(str(resources.files("wazuhd_aws").joinpath("ruleset")))
WHEN = days_ago(1)


def engine(with_wazuh: bool) -> Engine:
    """The ruleset as the analysis plugin assembles it (its templates, the configured
    ruleset, its starter files, then ours)."""
    rule_dirs = [str(STARTER_RULESET / "templates")]
    decoder_dirs, lists = [], []
    if with_wazuh:
        rule_dirs.append(str(WAZUH / "rules"))
        decoder_dirs.append(str(WAZUH / "decoders"))
        lists = sorted(str(p) for p in (WAZUH / "lists").rglob("*")
                       if p.is_file() and p.suffix != ".cdb")
    rule_dirs += [str(STARTER_RULESET / "rules"), str(OURS / "rules")]
    decoder_dirs.append(str(STARTER_RULESET / "decoders"))
    ruleset = Ruleset.load(RulesetConfig(decoder_dirs=decoder_dirs, rule_dirs=rule_dirs,
                                         list_files=lists))
    assert not [w for w in ruleset.warnings if "1910" in w or "1911" in w], ruleset.warnings
    return Engine(ruleset)


def events_of(log_type: str, data: bytes, key: str = "k") -> list[str]:
    source = S3Source(BucketOptions(name="bucket", type=log_type))
    parser = "guardduty" if log_type == "guardduty" else log_type
    texts, _, _ = source.shape(formats.parse(parser, data, key), key)
    return texts


def fired(engine: Engine, messages: list[str]) -> list[tuple[str, int]]:
    out = []
    for message in messages:
        result = engine.process(message, LOCATION)
        out.append((str(result.rule.id) if result.rule else None,
                    result.rule.level if result.rule else None))
    return out


CLOUDTRAIL = cloudtrail_object([
    console_login(WHEN, success=True),
    console_login(WHEN, success=False),
    cloudtrail_record("RunInstances", when=WHEN),
    cloudtrail_record("AuthorizeSecurityGroupIngress", when=WHEN, error="AccessDenied"),
    cloudtrail_record("AuthorizeSecurityGroupIngress", when=WHEN),
    cloudtrail_record("StopLogging", when=WHEN, source="cloudtrail.amazonaws.com"),
    cloudtrail_record("RunInstances", when=WHEN, user_type="Root"),
])


@pytest.mark.skipif(not (WAZUH / "rules").is_dir(), reason=f"Wazuh ruleset not found at {WAZUH}")
def test_wazuh_amazon_rules_fire_on_our_events():
    wazuh = engine(with_wazuh=True)
    assert [rule for rule, _ in fired(wazuh, events_of("cloudtrail", CLOUDTRAIL))] == [
        "80253", "80254", "80202", "80250", "80202", "80202", "80202"]
    guardduty = b"\n".join(json.dumps(guardduty_finding(s)).encode() for s in (8.0, 5.0, 2.0))
    assert [r for r, _ in fired(wazuh, events_of("guardduty", gz(guardduty)))] == [
        "80307", "80306", "80305"]
    vpc = gz(vpcflow_text([("203.0.113.5", "10.0.0.4", 5000, 22, "REJECT"),
                           ("10.0.0.4", "203.0.113.5", 22, 5000, "ACCEPT")]))
    assert [r for r, _ in fired(wazuh, events_of("vpcflow", vpc))] == ["80402", "80401"]
    alb = gz("\n".join(ALB_LINE.format(status=s) for s in (503, 403, 500)))
    assert [r for r, _ in fired(wazuh, events_of("alb", alb))] == ["80327", "80328", "80326"]
    waf = "\n".join(json.dumps({"action": a, "httpRequest": {"clientIp": "192.0.2.9",
                                                               "headers": []}})
                    for a in ("BLOCK", "ALLOW"))
    assert [r for r, _ in fired(wazuh, events_of("waf", waf.encode()))] == ["80442", "80441"]
    config = gz(json.dumps({"configurationItems": [{
        "configurationItemStatus": "ResourceDiscovered", "resourceType": "AWS::EC2::Instance",
        "resourceId": "i-1", "awsAccountId": ACCOUNT, "awsRegion": "us-east-1"}]}))
    key = f"AWSLogs/{ACCOUNT}/Config/us-east-1/2024/1/5/ConfigHistory/x_ConfigHistory_y.json.gz"
    assert [r for r, _ in fired(wazuh, events_of("config", config, key))] == ["80454"]
    access = (b'owner bucket [06/Feb/2024:00:00:38 +0000] 192.0.2.3 arn:aws:iam::1:user/bob '
              b'REQ1 REST.DELETE.OBJECT k "DELETE /bucket/k HTTP/1.1" 403 AccessDenied 243 - 7 - '
              b'"-" "aws-cli" - host SigV4 cipher AuthHeader bucket.s3.amazonaws.com TLSv1.2 - -')
    assert [r for r, _ in fired(wazuh, events_of("server_access", access))] == ["80368"]
    inspector = encode(finding_event({"title": "CVE-1 - openssl", "severity": "HIGH",
                                      "firstObservedAt": "2024-01-01T00:00:00Z"}))
    assert fired(wazuh, [inspector]) == [("80496", 10)]
    # Security Hub findings delivered by Firehose into a custom bucket.
    hub = json.dumps(security_hub_event("IAM.4")).encode()
    assert fired(wazuh, events_of("custom", hub)) == [("99845", 12)]


@pytest.mark.skipif(not (WAZUH / "rules").is_dir(), reason=f"Wazuh ruleset not found at {WAZUH}")
def test_security_lake_parquet_records_reach_wazuhs_security_lake_rules():
    """The OCSF records of Wazuh's own Security Lake test cases, written to Parquet and read
    back by our security_lake parser, take the rules Wazuh's suite expects."""
    text = (WAZUH / "testing" / "tests" / "amazon_sec_lake.ini").read_text()
    cases = []
    for block in text.split("\n["):
        log = next((line.split(" = ", 1)[1] for line in block.splitlines()
                    if line.startswith("log 1 pass = ")), None)
        rule = next((line.split(" = ", 1)[1] for line in block.splitlines()
                     if line.startswith("rule = ")), None)
        if log and rule:
            cases.append((json.JSONDecoder().raw_decode(log)[0], rule.strip()))
    assert len(cases) == text.count("\nrule = ") > 0
    wazuh = engine(with_wazuh=True)
    for record, rule in cases:
        [parsed] = formats.parse("security_lake", parquet_bytes([record]), "k.parquet")
        assert fired(wazuh, [encode(parsed)])[0][0] == rule, (rule, record)


@pytest.mark.skipif(not (WAZUH / "rules").is_dir(), reason=f"Wazuh ruleset not found at {WAZUH}")
def test_repeated_console_login_failures_reach_wazuhs_brute_force_rule():
    wazuh = engine(with_wazuh=True)
    failure = events_of("cloudtrail", cloudtrail_object([console_login(WHEN, success=False)]))
    assert [r for r, _ in fired(wazuh, failure * 6)] == ["80254"] * 5 + ["80255"]


def test_starter_rules_without_wazuhs_ruleset():
    ours = engine(with_wazuh=False)
    assert fired(ours, events_of("cloudtrail", CLOUDTRAIL)) == [
        ("191022", 6),   # console login without MFA
        ("191021", 5),   # console login failure
        ("191011", 3),
        ("191042", 5),   # security group change refused
        ("191040", 6),   # security group change
        ("191050", 9),   # CloudTrail stopped
        ("191030", 8),   # root account usage
    ]
    denied = cloudtrail_object([cloudtrail_record("GetSecretValue", when=WHEN, error="AccessDenied"),
                                cloudtrail_record("DescribeVolumes", when=WHEN, error="Throttling")])
    assert fired(ours, events_of("cloudtrail", denied)) == [("191013", 5), ("191012", 4)]
    failure = events_of("cloudtrail", cloudtrail_object([console_login(WHEN, success=False)]))
    assert [r for r, _ in fired(ours, failure * 6)][-1] == "191023"
    guardduty = b"\n".join(json.dumps(guardduty_finding(s)).encode() for s in (8.0, 5.0, 2.0))
    assert [r for r, _ in fired(ours, events_of("guardduty", gz(guardduty)))] == [
        "191103", "191102", "191101"]
    vpc = gz(vpcflow_text([("203.0.113.5", "10.0.0.4", 5000 + i, 22, "REJECT")
                           for i in range(20)]))
    vpc_rules = [r for r, _ in fired(ours, events_of("vpcflow", vpc))]
    assert vpc_rules == ["191201"] * 19 + ["191202"]
    config = gz(json.dumps({"configurationItems": [{"configurationItemStatus": "OK"}]}))
    assert fired(ours, events_of("config", config)) == [("191001", 3)]
