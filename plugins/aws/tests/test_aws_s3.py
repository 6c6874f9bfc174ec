"""S3 log buckets against a real moto server: every log type, checkpoints, pagination,
a restart in the middle, corrupt and vanishing objects."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from aws_helpers import (ACCOUNT, ALB_LINE, REGION, cloudtrail_key, cloudtrail_object,
                         cloudtrail_record, console_login, days_ago, guardduty_finding, gz,
                         ListSink, moto, new_bucket, only_logs_after, parquet_bytes, put,
                         run_source, vpcflow_text)

from wazuhd_aws.buckets import BucketOptions, S3Source
from wazuhd_aws.session import Access

__all__ = ["moto"]


def source(moto, bucket: str, log_type: str, **options) -> S3Source:
    return S3Source(BucketOptions(name=bucket, type=log_type,
                                  access=Access(service_endpoint=moto.endpoint), **options))


def test_cloudtrail_events_have_wazuhs_shape(moto, tmp_path):
    bucket = new_bucket(moto)
    when = days_ago(1)
    records = [cloudtrail_record("RunInstances", when=when),
               console_login(when, success=False),
               cloudtrail_record("DescribeRegions", when=when, error="AccessDenied")]
    key = cloudtrail_key(when)
    put(moto, bucket, key, cloudtrail_object(records))
    out = run_source(source(moto, bucket, "cloudtrail", only_logs_after=only_logs_after(when)),
                     tmp_path / "state.json")
    assert out.error is None
    assert out.locations == {"Wazuh-AWS"}
    events = out.records
    assert [e["aws"]["eventName"] for e in events] == ["RunInstances", "ConsoleLogin",
                                                       "DescribeRegions"]
    first = events[0]
    assert first["integration"] == "aws"
    assert first["aws"]["log_info"] == {"aws_account_alias": "", "log_file": key,
                                        "s3bucket": bucket}
    assert first["aws"]["source"] == "cloudtrail"
    # None values are dropped; an IP source address is copied for Wazuh's ip mapping.
    assert "requestParameters" not in first["aws"]
    assert first["aws"]["source_ip_address"] == "203.0.113.10"
    assert events[1]["aws"]["responseElements"] == {"ConsoleLogin": "Failure"}
    assert events[2]["aws"]["errorCode"] == "AccessDenied"
    assert out.stats.extra["objects"] == 1


def test_more_than_1000_keys_across_days_with_a_restart_in_the_middle(moto, tmp_path):
    """1,050 objects over three days: read in key order page after page; a run that stops
    after 400 objects (its queue gone) and a second run give every record exactly once."""
    bucket = new_bucket(moto)
    s3 = moto.client("s3")
    expected, uploads = [], []
    for day in (3, 2, 1):
        for n in range(350):
            when = days_ago(day, hour=n % 24)
            records = [cloudtrail_record("DescribeInstances", when=when) for _ in range(2)]
            expected += [r["eventID"] for r in records]
            uploads.append((cloudtrail_key(when, n), cloudtrail_object(records)))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda upload: s3.put_object(Bucket=bucket, Key=upload[0], Body=upload[1]),
                      uploads))
    after = only_logs_after(days_ago(3))
    state = tmp_path / "state.json"
    first = run_source(source(moto, bucket, "cloudtrail", only_logs_after=after), state,
                       ListSink(refuse_after=400))
    assert isinstance(first.error, ConnectionError)
    assert len(first.records) == 800
    saved = json.loads(state.read_text())[f"aws-s3:{bucket}:cloudtrail"]
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/"
    assert list(saved) == [prefix]
    second = run_source(source(moto, bucket, "cloudtrail", only_logs_after=after), state)
    assert second.error is None
    ids = [e["aws"]["eventID"] for e in first.records + second.records]
    assert len(ids) == len(set(ids)) == 2100
    assert set(ids) == set(expected)
    # Key order, which is time order within the prefix.
    files = [e["aws"]["log_info"]["log_file"] for e in first.records + second.records]
    assert files == sorted(files)
    assert json.loads(state.read_text())[f"aws-s3:{bucket}:cloudtrail"][prefix]["key"] == files[-1]
    assert second.stats.extra["listed"] == 650
    # A third run finds nothing new.
    assert run_source(source(moto, bucket, "cloudtrail", only_logs_after=after), state).records == []


def test_only_logs_after_accounts_and_regions(moto, tmp_path):
    bucket = new_bucket(moto)
    old, new = days_ago(5), days_ago(1)
    other = "210987654321"
    put(moto, bucket, cloudtrail_key(old), cloudtrail_object([cloudtrail_record(when=old)]))
    put(moto, bucket, cloudtrail_key(new), cloudtrail_object([cloudtrail_record(when=new)]))
    put(moto, bucket, cloudtrail_key(new, region="eu-west-1"),
        cloudtrail_object([cloudtrail_record(when=new)]))
    put(moto, bucket, cloudtrail_key(new, account=other),
        cloudtrail_object([cloudtrail_record(when=new)]))
    since = only_logs_after(days_ago(2))

    def files(**options):
        out = run_source(source(moto, bucket, "cloudtrail", only_logs_after=since, **options),
                         tmp_path / f"{len(options)}-{sorted(options)}.json")
        assert out.error is None
        return sorted(e["aws"]["log_info"]["log_file"].split("/")[1] + "/" +
                      e["aws"]["log_info"]["log_file"].split("/")[3] for e in out.records)

    assert files() == [f"{ACCOUNT}/eu-west-1", f"{ACCOUNT}/{REGION}", f"{other}/{REGION}"]
    assert files(regions=["eu-west-1"]) == [f"{ACCOUNT}/eu-west-1"]
    assert files(aws_account_id=[other]) == [f"{other}/{REGION}"]
    # An organization trail's accounts sit under the organization id.
    put(moto, bucket, cloudtrail_key(new, path="", account=f"o-abc123/{other}"),
        cloudtrail_object([cloudtrail_record(when=new)]))
    out = run_source(source(moto, bucket, "cloudtrail", only_logs_after=since,
                            regions=[REGION]), tmp_path / "org.json")
    assert sorted(e["aws"]["log_info"]["log_file"].split("/CloudTrail/")[0] for e in out.records) == [
        f"AWSLogs/{ACCOUNT}", f"AWSLogs/{other}", f"AWSLogs/o-abc123/{other}"]
    only_org = run_source(source(moto, bucket, "cloudtrail", only_logs_after=since,
                                 path_suffix="o-abc123"), tmp_path / "suffix.json")
    assert [e["aws"]["log_info"]["log_file"].split("/CloudTrail/")[0] for e in only_org.records] == [
        f"AWSLogs/o-abc123/{other}"]


def test_corrupt_objects_are_skipped_or_stop_the_run(moto, tmp_path):
    bucket = new_bucket(moto)
    when = days_ago(1)
    good1 = cloudtrail_key(when.replace(hour=1))
    corrupt = cloudtrail_key(when.replace(hour=2))
    not_json = cloudtrail_key(when.replace(hour=3))
    good2 = cloudtrail_key(when.replace(hour=4))
    put(moto, bucket, good1, cloudtrail_object([cloudtrail_record(when=when)]))
    put(moto, bucket, corrupt, b"\x1f\x8b\x08\x00garbage-not-deflate")
    put(moto, bucket, not_json, gz("this is not json"))
    put(moto, bucket, good2, cloudtrail_object([cloudtrail_record(when=when)]))
    since = only_logs_after(when)

    stopped = run_source(source(moto, bucket, "cloudtrail", only_logs_after=since,
                                skip_on_error=False), tmp_path / "strict.json")
    assert f"s3://{bucket}/{corrupt}: corrupt gzip data" in str(stopped.error)
    assert "skip_on_error is off" in str(stopped.error)
    assert [e["aws"]["log_info"]["log_file"] for e in stopped.records] == [good1]
    saved = json.loads((tmp_path / "strict.json").read_text())
    assert list(saved.values())[0][f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/"]["key"] == good1
    # Rerun: still stops at the same object, nothing re-sent.
    again = run_source(source(moto, bucket, "cloudtrail", only_logs_after=since,
                              skip_on_error=False), tmp_path / "strict.json")
    assert again.records == [] and "corrupt gzip" in str(again.error)

    skipped = run_source(source(moto, bucket, "cloudtrail", only_logs_after=since,
                                skip_on_error=True), tmp_path / "lenient.json")
    assert skipped.error is None
    assert [e["aws"]["log_info"]["log_file"] for e in skipped.records] == [good1, good2]
    assert skipped.stats.warnings == 2 and skipped.stats.extra["skipped_objects"] == 2
    assert "invalid JSON" in skipped.stats.last_error and not_json in skipped.stats.last_error


def test_object_deleted_between_list_and_get_is_skipped(moto, tmp_path, monkeypatch):
    bucket = new_bucket(moto)
    when = days_ago(1)
    keys = [cloudtrail_key(when.replace(hour=h)) for h in (1, 2, 3)]
    for key in keys:
        put(moto, bucket, key, cloudtrail_object([cloudtrail_record(when=when)]))
    src = source(moto, bucket, "cloudtrail", only_logs_after=only_logs_after(when),
                 skip_on_error=False)
    real_list = S3Source._list

    async def list_then_delete(self, s3, **arguments):
        page = await real_list(self, s3, **arguments)
        if "Delimiter" not in arguments and page.get("Contents"):
            moto.client("s3").delete_object(Bucket=bucket, Key=keys[1])
        return page
    monkeypatch.setattr(S3Source, "_list", list_then_delete)
    out = run_source(src, tmp_path / "state.json")
    assert out.error is None
    assert [e["aws"]["log_info"]["log_file"] for e in out.records] == [keys[0], keys[2]]
    assert f"s3://{bucket}/{keys[1]}: deleted between listing and reading" in out.stats.last_error


def test_remove_from_bucket_and_discard(moto, tmp_path):
    bucket = new_bucket(moto)
    when = days_ago(1)
    key = cloudtrail_key(when)
    put(moto, bucket, key, cloudtrail_object([
        cloudtrail_record("DescribeInstances", when=when),
        cloudtrail_record("GetObject", when=when, source="s3.amazonaws.com")]))
    out = run_source(source(moto, bucket, "cloudtrail", only_logs_after=only_logs_after(when),
                            remove_from_bucket=True, discard_field="eventSource",
                            discard_regex=r"^s3\."), tmp_path / "state.json")
    assert [e["aws"]["eventName"] for e in out.records] == ["DescribeInstances"]
    assert out.stats.extra["discarded"] == 1 and out.stats.extra["removed"] == 1
    assert moto.client("s3").list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_vpcflow_alb_clb_guardduty_config(moto, tmp_path):
    bucket = new_bucket(moto)
    when = days_ago(1)
    day = f"{when:%Y/%m/%d}"
    base = f"AWSLogs/{ACCOUNT}"
    put(moto, bucket, f"{base}/vpcflowlogs/{REGION}/{day}/{ACCOUNT}_vpcflowlogs_{REGION}_fl-1_"
                      f"{when:%Y%m%dT%H%MZ}_abc.log.gz",
        gz(vpcflow_text([("203.0.113.5", "10.0.0.4", 51515, 22, "REJECT"),
                         ("10.0.0.4", "198.51.100.1", 443, 50000, "ACCEPT")])))
    elb = f"{base}/elasticloadbalancing/{REGION}/{day}/{ACCOUNT}_elasticloadbalancing_{REGION}_"
    put(moto, bucket, f"{elb}app.web-alb.50dc6c495c0c9188_{when:%Y%m%dT%H%MZ}_192.0.2.1_x.log.gz",
        gz(ALB_LINE.format(status=503) + "\n" + ALB_LINE.format(status=200) + "\n"))
    put(moto, bucket, f"{elb}classic_{when:%Y%m%dT%H%MZ}_192.0.2.1_y.log",
        b'2024-01-15T10:00:01.123456Z classic 192.0.2.44:2817 10.0.0.1:80 0.000073 0.001048 '
        b'0.000057 403 403 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -\n')
    put(moto, bucket, f"{base}/GuardDuty/{REGION}/{day}/{when:%H%M}-finding.jsonl.gz",
        gz(json.dumps(guardduty_finding(8.0, probes=2)) + "\n" + json.dumps(guardduty_finding(2.0))))
    put(moto, bucket, f"{base}/Config/{REGION}/{when.year}/{when.month}/{when.day}/ConfigHistory/"
                      f"{ACCOUNT}_Config_{REGION}_ConfigHistory_AWS::EC2::SecurityGroup_"
                      f"{when:%Y%m%dT%H%MZ}_{when:%Y%m%dT%H%MZ}_1.json.gz",
        gz(json.dumps({"fileVersion": "1.0", "configurationItems": [{
            "configurationItemVersion": "1.3", "configurationItemStatus": "ResourceDiscovered",
            "resourceType": "AWS::EC2::SecurityGroup", "resourceId": "sg-0123",
            "awsAccountId": ACCOUNT, "awsRegion": REGION, "configuration": {"groupId": "sg-0123"},
            "relationships": [], "tags": {}}]})))
    since = only_logs_after(when)

    def read(log_type):
        out = run_source(source(moto, bucket, log_type, only_logs_after=since),
                         tmp_path / f"{log_type}.json")
        assert out.error is None, out.error
        return [e["aws"] for e in out.records]

    vpc = read("vpcflow")
    assert [(r["source"], r["action"], r["interface_id"], r["dstport"]) for r in vpc] == [
        ("vpc", "REJECT", "eni-0a1b2c3d", "22"), ("vpc", "ACCEPT", "eni-0a1b2c3d", "50000")]
    assert vpc[0]["start"] == "2023-11-14T22:13:20Z"
    alb = read("alb")
    assert [(r["source"], r["elb_status_code"]) for r in alb] == [("alb", "503"), ("alb", "200")]
    assert alb[0]["client_ip"] == "192.0.2.44" and alb[0]["client_port"] == "2817"
    assert alb[0]["request"] == "GET https://www.example.com:443/admin HTTP/1.1"
    clb = read("clb")
    assert [(r["source"], r["elb"], r["elb_status_code"]) for r in clb] == [("clb", "classic", "403")]
    guardduty = read("guardduty")
    # Two port probes -> two events, each with its probe as an object.
    probes = [g["service"]["action"]["portProbeAction"]["portProbeDetails"] for g in guardduty]
    assert [p["localPortDetails"]["port"] for p in probes] == [22, 23, 22]
    assert [g["severity"] for g in guardduty] == [8.0, 8.0, 2.0]
    config = read("config")
    assert [(c["source"], c["configurationItemStatus"]) for c in config] == [
        ("config", "ResourceDiscovered")]
    assert "ConfigHistory" in config[0]["log_info"]["log_file"]


def test_firehose_types_server_access_and_umbrella(moto, tmp_path):
    bucket = new_bucket(moto)
    when = days_ago(1)
    envelope = {"version": "0", "id": "e1", "detail-type": "GuardDuty Finding",
                "source": "aws.guardduty", "account": ACCOUNT, "region": REGION,
                "detail": guardduty_finding(5.0)}
    put(moto, bucket, f"guardduty/{when:%Y/%m/%d/%H}/stream-1-{when:%Y-%m-%d-%H}-x.gz",
        gz(json.dumps(envelope) + json.dumps(envelope)))  # Firehose writes objects back to back
    waf = {"timestamp": 1705312800000, "formatVersion": 1, "webaclId": "arn:aws:wafv2:acl",
           "terminatingRuleId": "AWS-AWSManagedRulesSQLiRuleSet", "action": "BLOCK",
           "httpRequest": {"clientIp": "192.0.2.99", "country": "NL", "uri": "/login",
                           "headers": [{"name": "Host", "value": "shop.example.com"},
                                       {"name": "User-Agent", "value": "sqlmap/1.7"},
                                       {"name": "X-Custom-Thing", "value": "dropped"}],
                           "httpMethod": "POST"}}
    put(moto, bucket, f"waf/{when:%Y/%m/%d/%H}/waf-stream-1-x", json.dumps(waf).encode() + b"\n")
    access_line = (f'79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be {bucket} '
                   f'[{when:%d/%b/%Y:%H:%M:%S} +0000] 192.0.2.3 '
                   f'arn:aws:iam::{ACCOUNT}:user/bob 3E57427F3EXAMPLE REST.DELETE.OBJECT '
                   f'secret.txt "DELETE /{bucket}/secret.txt HTTP/1.1" 403 AccessDenied 243 - 7 - '
                   f'"-" "aws-cli/2.15.0" - Ke1bUcazaN1jWuUlPJaxF64cQVpUEhoZKEG/hmy/gijN/I1DeWqDfF '
                   f'SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader {bucket}.s3.us-east-1.amazonaws.com '
                   f'TLSv1.2 - -')
    put(moto, bucket, f"access/{when:%Y-%m-%d-%H-%M-%S}-ABCDEF0123456789", access_line.encode())
    put(moto, bucket, f"umbrella/dnslogs/{when:%Y-%m-%d}/{when:%Y-%m-%d-%H}-00-ab12.csv.gz",
        gz(f'"{when:%Y-%m-%d %H:%M:%S}","LAPTOP-1","LAPTOP-1,Office","10.1.1.5","203.0.113.8",'
           f'"Blocked","1 (A)","NOERROR","malware.example.","Malware","AD Users","AD Users",'
           f'"Malware"\n'))
    since = only_logs_after(when)

    def read(log_type, path):
        out = run_source(source(moto, bucket, log_type, path=path, only_logs_after=since),
                         tmp_path / f"{log_type}.json")
        assert out.error is None, out.error
        return [e["aws"] for e in out.records]

    guardduty = read("guardduty", "guardduty")
    assert len(guardduty) == 2 and all(g["source"] == "guardduty" for g in guardduty)
    assert guardduty[0]["service"]["action"]["actionType"] == "PORT_PROBE"
    assert guardduty[0]["title"].startswith("Unprotected port")
    [waf_event] = read("waf", "waf/")
    assert waf_event["source"] == "waf" and waf_event["action"] == "BLOCK"
    assert waf_event["httpRequest"]["headers"] == {"host": "shop.example.com",
                                                   "user-agent": "sqlmap/1.7"}
    [access] = read("server_access", "access/")
    assert (access["source"], access["operation"], access["http_status"], access["error_code"],
            access["request_uri"], access["remote_ip"]) == (
        "s3_server_access", "REST.DELETE.OBJECT", "403", "AccessDenied",
        f"DELETE /{bucket}/secret.txt HTTP/1.1", "192.0.2.3")
    [dns] = read("cisco_umbrella", "umbrella/dnslogs/")
    assert (dns["source"], dns["action"], dns["domain"], dns["internal_ip"]) == (
        "cisco_umbrella", "Blocked", "malware.example.", "10.1.1.5")


def test_custom_type_reads_json_lines_and_parquet(moto, tmp_path):
    bucket = new_bucket(moto)
    when = days_ago(1)
    put(moto, bucket, f"app/{when:%Y/%m/%d/%H}/a.json.gz",
        gz('{"user": "alice", "action": "login"}\n{"user": "bob", "action": "logout"}\n'))
    put(moto, bucket, f"app/{when:%Y/%m/%d/%H}/b.parquet",
        parquet_bytes([{"user": "carol", "action": "login"}]))
    out = run_source(source(moto, bucket, "custom", path="app", only_logs_after=only_logs_after(when)),
                     tmp_path / "state.json")
    assert out.error is None
    assert [(e["aws"]["user"], e["aws"]["source"]) for e in out.records] == [
        ("alice", "custom"), ("bob", "custom"), ("carol", "custom")]


def test_no_checkpoint_starts_today_and_remembers_it(moto, tmp_path):
    """Without only_logs_after the first run starts at today (as Wazuh), and that start
    is kept: yesterday's objects are never read, today's are."""
    bucket = new_bucket(moto)
    yesterday, today = days_ago(1), days_ago(0, hour=0)
    put(moto, bucket, cloudtrail_key(yesterday), cloudtrail_object([cloudtrail_record(when=yesterday)]))
    state = tmp_path / "state.json"
    assert run_source(source(moto, bucket, "cloudtrail"), state).records == []
    put(moto, bucket, cloudtrail_key(today), cloudtrail_object([cloudtrail_record(when=today)]))
    out = run_source(source(moto, bucket, "cloudtrail"), state)
    assert [e["aws"]["eventTime"][:10] for e in out.records] == [f"{today:%Y-%m-%d}"]


@pytest.mark.parametrize("bad", [{"type": "nope"}, {"only_logs_after": "yesterday"}])
def test_bad_options_are_refused_with_the_reason(bad):
    with pytest.raises(ValueError) as error:
        BucketOptions(**{"name": "b", "type": "cloudtrail", **bad})
    assert ("unknown type 'nope'" in str(error.value) or "invalid date 'yesterday'" in str(error.value))


def test_assumed_role_and_profile_reach_the_bucket(moto, tmp_path, monkeypatch):
    bucket = new_bucket(moto)
    when = days_ago(1)
    put(moto, bucket, cloudtrail_key(when), cloudtrail_object([cloudtrail_record(when=when)]))
    credentials = tmp_path / "credentials"
    credentials.write_text("[auditor]\naws_access_key_id = AKIAAUDITOR\n"
                           "aws_secret_access_key = auditor-secret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    access = Access(aws_profile="auditor", iam_role_arn=f"arn:aws:iam::{ACCOUNT}:role/wazuh-reader",
                    iam_role_session="wazuhd-test", iam_role_duration=900, external_id="ext-1",
                    sts_endpoint=moto.endpoint, service_endpoint=moto.endpoint)
    session = access.session()
    assert session.get_credentials().access_key != "AKIAAUDITOR"  # the role's, not the profile's
    out = run_source(S3Source(BucketOptions(name=bucket, type="cloudtrail", access=access,
                                            only_logs_after=only_logs_after(when))),
                     tmp_path / "state.json")
    assert out.error is None and len(out.records) == 1
    missing = Access(aws_profile="nobody", service_endpoint=moto.endpoint)
    failed = run_source(S3Source(BucketOptions(name=bucket, type="cloudtrail", access=missing)),
                        tmp_path / "other.json")
    assert "nobody" in str(failed.error)


class AwsAnswers:
    """AWS's answer to the first GetObject calls, given instead of moto's (botocore's
    ``before-send`` hook), to see throttling and expired credentials as AWS sends them."""

    def __init__(self, monkeypatch, answers: list[tuple[int, str]]):
        self.answers = list(answers)
        self.calls = 0
        real_client = Access.client

        def client(access, service, region=None, session=None):
            made = real_client(access, service, region, session)
            made.meta.events.register("before-send.s3.GetObject", self.answer)
            return made
        monkeypatch.setattr(Access, "client", client)

    def answer(self, request, **_):
        from botocore.awsrequest import AWSResponse
        self.calls += 1
        if not self.answers:
            return None
        status, code = self.answers.pop(0)
        body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                f"<Message>{code} from AWS</Message></Error>").encode()

        class Raw:
            def stream(self, **_):
                yield body
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, Raw())


def test_throttling_is_retried_and_expired_credentials_fail_the_run_in_place(
        moto, tmp_path, monkeypatch):
    bucket = new_bucket(moto)
    when = days_ago(1)
    keys = [cloudtrail_key(when.replace(hour=h)) for h in (1, 2)]
    for key in keys:
        put(moto, bucket, key, cloudtrail_object([cloudtrail_record(when=when)]))
    since = only_logs_after(when)
    src = source(moto, bucket, "cloudtrail", only_logs_after=since)
    throttled = AwsAnswers(monkeypatch, [(503, "SlowDown"), (503, "SlowDown")])
    out = run_source(src, tmp_path / "throttled.json")
    assert out.error is None and len(out.records) == 2 and out.stats.warnings == 0
    assert throttled.calls == 4  # two refused, then both objects

    state = tmp_path / "expired.json"
    AwsAnswers(monkeypatch, [(400, "ExpiredToken")] * 20)
    failed = run_source(source(moto, bucket, "cloudtrail", only_logs_after=since), state)
    assert failed.records == []
    message = str(failed.error)
    assert f"s3://{bucket}/{keys[0]}: cannot read (ExpiredToken: ExpiredToken from AWS)" in message
    assert "testing" not in message  # no credential in the message
    monkeypatch.undo()  # AWS accepts the credentials again
    # The next run starts from the same place and reads both.
    again = run_source(source(moto, bucket, "cloudtrail", only_logs_after=since), state)
    assert again.error is None
    assert [e["aws"]["log_info"]["log_file"] for e in again.records] == keys


def test_the_accounts_alias_is_read_from_iam_unless_configured(moto, tmp_path):
    iam = moto.client("iam")
    iam.create_account_alias(AccountAlias="acme-prod")
    try:
        bucket = new_bucket(moto)
        when = days_ago(1)
        put(moto, bucket, cloudtrail_key(when), cloudtrail_object([cloudtrail_record("RunInstances",
                                                                                     when=when)]))
        out = run_source(source(moto, bucket, "cloudtrail", only_logs_after=only_logs_after(when)),
                         tmp_path / "a.json")
        assert [e["aws"]["log_info"]["aws_account_alias"] for e in out.records] == ["acme-prod"]
        configured = run_source(source(moto, bucket, "cloudtrail", aws_account_alias="mine",
                                       only_logs_after=only_logs_after(when)), tmp_path / "b.json")
        assert [e["aws"]["log_info"]["aws_account_alias"] for e in configured.records] == ["mine"]
    finally:
        iam.delete_account_alias(AccountAlias="acme-prod")
