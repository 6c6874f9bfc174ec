"""What the parsers and Wazuh's reshaping make of each log type's bytes (no server needed)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from aws_helpers import gz, parquet_bytes, vpcflow_text

from wazuhd_aws import formats
from wazuhd_aws.buckets import BucketOptions, S3Source
from wazuhd_aws.events import MAX_EVENT_SIZE, Discard, reshape


def test_containers_are_recognised_by_their_bytes():
    document = json.dumps({"Records": [{"eventName": "A"}]}).encode()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("trail.json", document)
    for data in (document, gz(document), archive.getvalue()):
        assert formats.parse("cloudtrail", data, "k.json.gz") == [
            {"eventName": "A", "source": "cloudtrail"}]


@pytest.mark.parametrize("data, reason", [
    (b"\x1f\x8b\x08\x00\x00\x00", "corrupt gzip data"),
    (b"PK\x03\x04broken", "corrupt zip data"),
    (b'{"Records": [', "invalid JSON at line 1"),
    (b"\xff\xfe\xfa", "not UTF-8 text"),
    (b'[1, 2]', "expected one JSON object"),
    (b'{"Records": "nope"}', "'Records' is not a list"),
])
def test_unreadable_objects_say_why(data, reason):
    with pytest.raises(formats.FormatError) as error:
        formats.parse("cloudtrail", data, "k")
    assert reason in str(error.value)


def test_vpcflow_custom_header_and_parquet():
    text = ("version vpc-id interface-id srcaddr dstaddr dstport action start end\n"
            "5 vpc-1 eni-9 10.0.0.1 10.0.0.2 443 ACCEPT 1700000000 1700000060\n")
    [record] = formats.parse("vpcflow", text.encode(), "k")
    assert record == {"version": "5", "vpc_id": "vpc-1", "interface_id": "eni-9",
                      "srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2", "dstport": "443",
                      "action": "ACCEPT", "start": "2023-11-14T22:13:20Z",
                      "end": "2023-11-14T22:14:20Z", "source": "vpc"}
    headerless = vpcflow_text([("1.1.1.1", "2.2.2.2", 1, 2, "REJECT")]).split("\n", 1)[1]
    assert formats.parse("vpcflow", headerless.encode(), "k")[0]["action"] == "REJECT"
    rows = formats.parse("vpcflow", parquet_bytes([{"interface-id": "eni-1", "action": "REJECT",
                                                    "start": 1700000000}]), "k.log.parquet")
    assert rows == [{"interface_id": "eni-1", "action": "REJECT",
                     "start": "2023-11-14T22:13:20Z", "source": "vpc"}]
    with pytest.raises(formats.FormatError, match="line 3: 3 fields where 9"):
        formats.parse("vpcflow", (text + "a b c\n").encode(), "k")


def test_nlb_and_umbrella_proxy_logs():
    nlb = ("tls 2.0 2024-01-15T10:00:00 net/my-nlb/c6e77e28c25b2234 g3d4b5e8bb8464cd "
           "[2001:db8::1]:51341 10.0.0.5:443 5 2 98 246 - "
           "arn:aws:acm:us-east-1:1:certificate/x - ECDHE-RSA-AES128-SHA tlsv12 - "
           "my-nlb.example.com - - - 2024-01-15T09:59:59")
    [record] = formats.parse("nlb", nlb.encode(), "k")
    assert (record["source"], record["client_ip"], record["client_port"], record["destination_ip"],
            record["tls_protocol_version"]) == ("nlb", "[2001:db8::1]", "51341", "10.0.0.5",
                                                "tlsv12")
    proxy = ('"2024-01-15 10:00:00","Laptop","10.0.0.9","203.0.113.1","198.51.100.7",'
             '"text/html","BLOCKED","http://bad.example/","","curl","403","10","20","20","",'
             '"Malware","","","","","","AD Users","Malware"\n')
    [record] = formats.parse("cisco_umbrella", gz(proxy), "u/proxylogs/2024-01-15/x.csv.gz")
    assert (record["verdict"], record["url"], record["source"]) == (
        "BLOCKED", "http://bad.example/", "cisco_umbrella")
    with pytest.raises(formats.FormatError, match="unknown Umbrella log"):
        formats.parse("cisco_umbrella", gz(proxy), "u/other/x.csv.gz")


def test_custom_type_envelopes_records_and_plain_objects():
    data = (json.dumps({"source": "aws.macie", "detail": {"title": "PII", "severity": {"description": "HIGH"}}})
            + json.dumps({"Records": [{"a": 1}]}) + "\n" + json.dumps({"source": "app", "b": 2}))
    assert formats.parse("custom", data.encode(), "k") == [
        {"title": "PII", "severity": {"description": "HIGH"}, "source": "macie"},
        {"a": 1, "source": "custom"}, {"source": "app", "b": 2}]


def test_reshape_as_wazuh_sends():
    record = {"source": "cloudtrail", "resources": [{"ARN": "arn:1", "type": None}],
              "sourceIPAddress": "192.0.2.1", "tags": ["a", "b"], "gone": None,
              "nested": {"list": ["only"]}}
    [shaped] = reshape(record)
    assert shaped == {"source": "cloudtrail", "resources": {"ARN": "arn:1"},
                      "sourceIPAddress": "192.0.2.1", "source_ip_address": "192.0.2.1",
                      "tags": {"value": ["a", "b"]}, "nested": {"list": "only"}}
    [named] = reshape({"sourceIPAddress": "ec2.amazonaws.com"})
    assert "source_ip_address" not in named


def test_config_items_keep_readable_field_types():
    [shaped] = reshape({"source": "config", "configuration": {
        "configRuleList": [{"configRuleName": "s3-public", "complianceType": "NON_COMPLIANT"},
                           {"configRuleName": "mfa", "complianceType": "COMPLIANT"}],
        "securityGroups": [{"groupId": "sg-1"}], "state": "running", "createdTime": 1700000000}})
    assert shaped["configuration"] == {
        "configRuleList": {"configRuleName": ["s3-public", "mfa"],
                           "complianceType": ["NON_COMPLIANT", "COMPLIANT"]},
        "securityGroups": {"groupId": "sg-1"}, "state": {"name": "running"},
        "createdTime": "2023-11-14T22:13:20Z"}


def test_discard_field_and_regex():
    discard = Discard("userIdentity.type", "^AWSService$")
    assert discard.drops({"userIdentity": {"type": "AWSService"}})
    assert not discard.drops({"userIdentity": {"type": "IAMUser"}})
    assert not discard.drops({"other": 1})
    assert Discard("resources.type", "Bucket").drops({"resources": [{"type": "x"}, {"type": "S3Bucket"}]})
    with pytest.raises(ValueError, match="go together"):
        Discard("field", None)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        Discard("field", "(")


def test_events_longer_than_the_queue_takes_are_counted_not_sent():
    source = S3Source(BucketOptions(name="b", type="cloudtrail"))
    texts, discarded, oversized = source.shape(
        [{"eventName": "Big", "blob": "x" * MAX_EVENT_SIZE}, {"eventName": "Small"}], "k")
    assert [json.loads(t)["aws"]["eventName"] for t in texts] == ["Small"]
    assert discarded == 0 and len(oversized) == 1 and oversized[0] > MAX_EVENT_SIZE
