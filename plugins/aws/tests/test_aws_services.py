"""CloudWatch Logs, Inspector and SQS-driven ingestion against a real moto server."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

import requests
from aws_helpers import (ACCOUNT, REGION, cloudtrail_key, cloudtrail_object, cloudtrail_record,
                         days_ago, moto, new_bucket, parquet_bytes, put, run_source,
                         security_hub_event)

from wazuhd_aws.cloudwatch import CloudWatchOptions, CloudWatchSource
from wazuhd_aws.inspector import InspectorOptions, InspectorSource
from wazuhd_aws.session import Access
from wazuhd_aws.sqs import SqsOptions, SqsSource, objects_of

__all__ = ["moto"]


def now_ms() -> int:
    return int(time.time() * 1000)


# -- CloudWatch Logs -------------------------------------------------------------------


def cloudwatch(moto, group, **options) -> CloudWatchSource:
    options.setdefault("regions", [REGION])
    return CloudWatchSource(CloudWatchOptions(aws_log_groups=[group],
                                              access=Access(service_endpoint=moto.endpoint),
                                              **options))


def test_cloudwatch_streams_resume_from_their_tokens(moto, tmp_path):
    logs = moto.client("logs")
    group = f"/app/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    for stream in ("web-1", "web-2", "batch-1"):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    start = now_ms() - 60_000
    logs.put_log_events(logGroupName=group, logStreamName="web-1", logEvents=[
        {"timestamp": start + i, "message": f"web-1 line {i}"} for i in range(3)])
    logs.put_log_events(logGroupName=group, logStreamName="web-2", logEvents=[
        {"timestamp": start, "message": json.dumps({"level": "debug", "msg": "noise"})},
        {"timestamp": start + 1, "message": json.dumps({"level": "error", "msg": "disk full"})}])
    logs.put_log_events(logGroupName=group, logStreamName="batch-1", logEvents=[
        {"timestamp": start, "message": "batch line"}])
    state = tmp_path / "state.json"
    options = {"log_stream_prefix": "web", "discard_field": "level", "discard_regex": "^debug$"}
    first = run_source(cloudwatch(moto, group, **options), state)
    assert first.error is None
    # Messages are sent as logged (not wrapped), the debug one discarded, batch-1 not selected.
    assert first.messages == ["web-1 line 0", "web-1 line 1", "web-1 line 2",
                              json.dumps({"level": "error", "msg": "disk full"})]
    assert first.stats.extra["discarded"] == 1
    saved = json.loads(state.read_text())[f"aws-cloudwatchlogs:{group}:{REGION}:web"]
    assert set(saved) == {f"{REGION}/{group}/web-1", f"{REGION}/{group}/web-2"}
    assert saved[f"{REGION}/{group}/web-1"]["last_timestamp"] == start + 2

    logs.put_log_events(logGroupName=group, logStreamName="web-1", logEvents=[
        {"timestamp": start + 10, "message": "web-1 line 10"}])
    second = run_source(cloudwatch(moto, group, **options), state)
    assert second.messages == ["web-1 line 10"]
    assert run_source(cloudwatch(moto, group, **options), state).messages == []


def test_cloudwatch_refused_token_resumes_after_the_newest_event_read(moto, tmp_path):
    logs = moto.client("logs")
    group = f"/tok/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    start = now_ms() - 10_000
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": start + i, "message": f"line {i}"} for i in range(4)])
    state = tmp_path / "state.json"
    name = f"aws-cloudwatchlogs:{group}:{REGION}"
    state.write_text(json.dumps({name: {f"{REGION}/{group}/s": {
        "token": "f/not-a-token", "last_timestamp": start + 1}}}))
    out = run_source(cloudwatch(moto, group), state)
    assert out.error is None
    assert out.messages == ["line 2", "line 3"]
    assert "the saved token was refused" in out.stats.last_error


def test_cloudwatch_remove_log_streams_and_missing_group(moto, tmp_path):
    logs = moto.client("logs")
    group = f"/gone/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": now_ms(), "message": "once"}])
    out = run_source(cloudwatch(moto, group, remove_log_streams=True), tmp_path / "s.json")
    assert out.messages == ["once"] and out.stats.extra["removed_streams"] == 1
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    missing = run_source(cloudwatch(moto, "/no/such/group"), tmp_path / "m.json")
    assert f"no log group '/no/such/group' in {REGION}" in str(missing.error)
    # Without regions every region is looked at, and a group found in none is named.
    anywhere = run_source(cloudwatch(moto, "/no/such/group", regions=[]), tmp_path / "a.json")
    assert "no log group '/no/such/group' in any region" in str(anywhere.error)


# -- Inspector --------------------------------------------------------------------------


def test_inspector_findings_once_each(moto, tmp_path):
    """Without regions, every region Inspector is offered in is read (here the finding
    is in eu-west-1), as Wazuh does."""
    moto.reset()
    region = "eu-west-1"
    updated = datetime.now(timezone.utc).replace(microsecond=0)
    finding = {"awsAccountId": ACCOUNT, "findingArn": f"arn:aws:inspector2:{region}:{ACCOUNT}:finding/f1",
               "description": "OpenSSL buffer overflow", "title": "CVE-2024-0001 - openssl",
               "severity": "HIGH", "status": "ACTIVE", "type": "PACKAGE_VULNERABILITY",
               "firstObservedAt": updated.timestamp() - 3600, "lastObservedAt": updated.timestamp(),
               "updatedAt": updated.timestamp(),
               "remediation": {"recommendation": {"text": "Upgrade openssl"}},
               "resources": [{"id": "i-0abc", "type": "AWS_EC2_INSTANCE"}]}
    requests.post(f"{moto.endpoint}/moto-api/static/inspector2/findings-results", timeout=10,
                  json={"results": [[finding], [finding]], "account_id": ACCOUNT,
                        "region": region}).raise_for_status()
    state = tmp_path / "state.json"
    source = InspectorSource(InspectorOptions(access=Access(service_endpoint=moto.endpoint)))
    first = run_source(source, state)
    assert first.error is None
    [event] = first.records
    assert event["integration"] == "aws"
    aws = event["aws"]
    assert (aws["source"], aws["severity"], aws["title"]) == ("inspector", "HIGH",
                                                             "CVE-2024-0001 - openssl")
    assert aws["createdAt"] == aws["firstObservedAt"]
    assert aws["updatedAt"] == updated.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The same finding, unchanged, is answered again: it is not sent twice.
    source = InspectorSource(InspectorOptions(access=Access(service_endpoint=moto.endpoint)))
    assert run_source(source, state).records == []


# -- SQS -----------------------------------------------------------------------------------


def notification(bucket: str, key: str) -> str:
    return json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                                    "eventName": "ObjectCreated:Put", "awsRegion": REGION,
                                    "s3": {"bucket": {"name": bucket},
                                           "object": {"key": key.replace(" ", "+")}}}]})


def queue(moto, visibility: int = 30) -> tuple[str, str]:
    name = f"q-{uuid.uuid4().hex[:10]}"
    return name, moto.client("sqs").create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": str(visibility)})["QueueUrl"]


def sqs_source(moto, name, **options) -> SqsSource:
    return SqsSource(SqsOptions(sqs_name=name, access=Access(service_endpoint=moto.endpoint),
                                **options))


def remaining(moto, url) -> int:
    attributes = moto.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                      "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return (int(attributes["ApproximateNumberOfMessages"])
            + int(attributes["ApproximateNumberOfMessagesNotVisible"]))


def test_sqs_notifications_fetch_objects_then_delete_messages(moto, tmp_path):
    bucket = new_bucket(moto)
    when = days_ago(0)
    good = cloudtrail_key(when, 1)
    spaced = f"uploads/with space/{uuid.uuid4().hex}.json.gz"
    put(moto, bucket, good, cloudtrail_object([cloudtrail_record("CreateUser", when=when)]))
    put(moto, bucket, spaced, cloudtrail_object([cloudtrail_record("DeleteUser", when=when)]))
    name, url = queue(moto)
    sqs = moto.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody=notification(bucket, good))
    # SNS-wrapped, with the key URL-encoded as S3 writes it.
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(
        {"Type": "Notification", "Message": notification(bucket, spaced)}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Event": "s3:TestEvent"}))
    out = run_source(sqs_source(moto, name, log_type="cloudtrail"), tmp_path / "s.json")
    assert out.error is None
    assert sorted(e["aws"]["eventName"] for e in out.records) == ["CreateUser", "DeleteUser"]
    assert {e["aws"]["log_info"]["log_file"] for e in out.records} == {good, spaced}
    assert all(e["aws"]["log_info"]["s3bucket"] == bucket for e in out.records)
    assert out.stats.extra["messages"] == 3
    assert remaining(moto, url) == 0


def test_sqs_unreadable_object_keeps_its_message_unless_skipping(moto, tmp_path):
    bucket = new_bucket(moto)
    broken = "broken.json.gz"
    put(moto, bucket, broken, b"\x1f\x8bnot gzip at all")
    # Visible again at once: the run must still end rather than read it over and over.
    name, url = queue(moto, visibility=0)
    moto.client("sqs").send_message(QueueUrl=url, MessageBody=notification(bucket, broken))
    kept = run_source(sqs_source(moto, name, log_type="cloudtrail", skip_on_error=False),
                      tmp_path / "a.json")
    assert kept.error is None and kept.records == []
    assert f"s3://{bucket}/{broken}: corrupt gzip data" in kept.stats.last_error
    assert "left in the queue" in kept.stats.last_error
    assert remaining(moto, url) == 1
    dropped = run_source(sqs_source(moto, name, log_type="cloudtrail", skip_on_error=True),
                         tmp_path / "b.json")
    assert "skipped (skip_on_error)" in dropped.stats.last_error
    assert remaining(moto, url) == 0


def test_sqs_security_lake_parquet_records_are_sent_as_they_are(moto, tmp_path):
    bucket = new_bucket(moto, "aws-security-data-lake")
    key = f"ext/CLOUD_TRAIL_MGMT/region={REGION}/accountId={ACCOUNT}/eventDay=20240115/x.gz.parquet"
    rows = [{"activity_id": 3, "category_uid": 5, "class_name": "Cloud API",
             "metadata": {"product": {"name": "CloudTrail", "vendor_name": "AWS"}},
             "api": {"operation": "CreateRole", "response": {"error": None}},
             "time": 1705312800000}]
    put(moto, bucket, key, parquet_bytes(rows))
    name, url = queue(moto)
    moto.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(
        {"source": "aws.s3", "detail-type": "Object Created",
         "detail": {"bucket": {"name": bucket}, "object": {"key": key}}}))
    out = run_source(sqs_source(moto, name, subscriber="security_lake"), tmp_path / "s.json")
    assert out.error is None
    [record] = out.records
    assert record["activity_id"] == 3 and record["metadata"]["product"]["name"] == "CloudTrail"
    assert "integration" not in record
    assert remaining(moto, url) == 0


def test_sqs_security_hub_findings_one_event_each(moto, tmp_path):
    name, url = queue(moto)
    sqs = moto.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(security_hub_event("IAM.4")))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"not": "a finding"}))
    out = run_source(sqs_source(moto, name, subscriber="security_hub"), tmp_path / "s.json")
    assert out.error is None
    [event] = out.records
    finding = event["aws"]["finding"]
    assert event["integration"] == "aws" and event["aws"]["source"] == "securityhub"
    assert finding["Compliance"] == {"Status": "FAILED", "SecurityControlId": "IAM.4"}
    # One-element lists become their element, as Wazuh sends them.
    assert finding["Resources"]["Type"] == "AwsAccount"
    assert "is not a Security Hub findings event; deleted" in out.stats.last_error
    assert remaining(moto, url) == 0


def test_objects_of_refuses_what_is_not_a_notification():
    assert objects_of("not json") is None
    assert objects_of(json.dumps({"hello": "world"})) is None
    assert objects_of(json.dumps({"Event": "s3:TestEvent"})) == []
    assert objects_of(notification("b", "a b/c%2Bd")) == [("b", "a b/c+d")]
