"""Shared helpers of the aws plugin's tests: a real moto server and realistic objects.

(Not a conftest.py: test folders of several distributions run in one pytest session.)
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wazuhd.testing import free_port, wait_for

ACCOUNT = "123456789012"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}


def moto_server_command() -> str | None:
    beside = Path(sys.executable).parent / "moto_server"
    return str(beside) if beside.exists() else shutil.which("moto_server")


class MotoServer:
    """``moto_server -H 127.0.0.1 -p PORT`` as a subprocess."""

    def __init__(self):
        command = moto_server_command()
        if command is None:
            pytest.skip("moto_server is not installed (pip install 'moto[server]')")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = open(os.devnull, "w")
        self.proc = subprocess.Popen([command, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=self.log)
        import socket

        def listening():
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0
        if not wait_for(listening, timeout=30):
            self.stop()
            raise AssertionError("moto_server did not start listening in 30 s")

    def client(self, service: str, region: str = REGION):
        import boto3
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def reset(self) -> None:
        import requests
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def moto():
    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = MotoServer()
    yield server
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def new_bucket(moto: MotoServer, prefix: str = "logs") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    moto.client("s3").create_bucket(Bucket=name)
    return name


def gz(text: str | bytes) -> bytes:
    return gzip.compress(text.encode() if isinstance(text, str) else text)


# -- realistic objects ------------------------------------------------------------------


def cloudtrail_record(event_name: str = "DescribeInstances", *, when: datetime,
                      error: str | None = None, user_type: str = "IAMUser",
                      source: str = "ec2.amazonaws.com", ip: str = "203.0.113.10",
                      **extra) -> dict:
    record = {
        "eventVersion": "1.08",
        "userIdentity": {"type": user_type, "principalId": "AIDAEXAMPLE",
                         "arn": f"arn:aws:iam::{ACCOUNT}:user/alice" if user_type != "Root"
                         else f"arn:aws:iam::{ACCOUNT}:root",
                         "accountId": ACCOUNT, "userName": "alice"},
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source, "eventName": event_name, "awsRegion": REGION,
        "sourceIPAddress": ip, "userAgent": "aws-cli/2.15.0",
        "requestParameters": None, "responseElements": None,
        "requestID": str(uuid.uuid4()), "eventID": str(uuid.uuid4()),
        "readOnly": event_name.startswith("Describe"), "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": ACCOUNT,
    }
    if error:
        record["errorCode"], record["errorMessage"] = error, f"{error}: not allowed"
    record.update(extra)
    return record


def console_login(when: datetime, *, success: bool, user_type: str = "IAMUser",
                  ip: str = "198.51.100.7") -> dict:
    return cloudtrail_record(
        "ConsoleLogin", when=when, user_type=user_type, source="signin.amazonaws.com", ip=ip,
        eventType="AwsConsoleSignIn",
        responseElements={"ConsoleLogin": "Success" if success else "Failure"},
        additionalEventData={"LoginTo": "https://console.aws.amazon.com/console/home",
                             "MobileVersion": "No", "MFAUsed": "No"},
        **({} if success else {"errorMessage": "Failed authentication"}))


def cloudtrail_key(when: datetime, n: int = 0, account: str = ACCOUNT, region: str = REGION,
                   path: str = "") -> str:
    stamp = when.strftime("%Y%m%dT%H%MZ")
    return (f"{path}AWSLogs/{account}/CloudTrail/{region}/{when:%Y/%m/%d}/"
            f"{account}_CloudTrail_{region}_{stamp}_{n:06d}{uuid.uuid4().hex[:6]}.json.gz")


def cloudtrail_object(records: list[dict]) -> bytes:
    return gz(json.dumps({"Records": records}))


def put(moto: MotoServer, bucket: str, key: str, body: bytes) -> None:
    moto.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


def vpcflow_text(lines: list[tuple]) -> str:
    header = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol "
              "packets bytes start end action log-status")
    return header + "\n" + "".join(
        f"2 {ACCOUNT} eni-0a1b2c3d {src} {dst} {sport} {dport} 6 10 840 1700000000 1700000060 "
        f"{action} OK\n" for src, dst, sport, dport, action in lines)


ALB_LINE = ('https 2024-01-15T10:00:01.123456Z app/web-alb/50dc6c495c0c9188 '
            '192.0.2.44:2817 10.0.0.12:80 0.000 0.026 0.000 {status} {status} 34 366 '
            '"GET https://www.example.com:443/admin HTTP/1.1" "curl/8.4.0" '
            'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
            'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067 '
            '"Root=1-58337262-36d228ad5d99923122bbe354" "www.example.com" '
            '"arn:aws:acm:us-east-1:123456789012:certificate/12345678" 0 '
            '2024-01-15T10:00:01.096000Z "forward" "-" "-" "10.0.0.12:80" "{status}" "-" "-" "-"')


def guardduty_finding(severity: float = 8.0, probes: int = 1) -> dict:
    details = [{"localPortDetails": {"port": 22 + i, "portName": "SSH"},
                "remoteIpDetails": {"ipAddressV4": f"198.51.100.{20 + i}",
                                    "country": {"countryName": "Nowhere"}}}
               for i in range(probes)]
    return {
        "schemaVersion": "2.0", "accountId": ACCOUNT, "region": REGION,
        "partition": "aws", "id": uuid.uuid4().hex, "type": "Recon:EC2/PortProbeUnprotectedPort",
        "arn": f"arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/d1/finding/{uuid.uuid4().hex}",
        "severity": severity, "title": "Unprotected port on EC2 instance is being probed.",
        "description": "EC2 instance has an unprotected port which is being probed.",
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc"}},
        "service": {"serviceName": "guardduty", "detectorId": "d1", "count": 3,
                    "action": {"actionType": "PORT_PROBE",
                               "portProbeAction": {"blocked": False,
                                                   "portProbeDetails": details}}},
        "createdAt": "2024-01-15T10:00:00.000Z", "updatedAt": "2024-01-15T10:05:00.000Z",
    }


def days_ago(days: int, hour: int = 12) -> datetime:
    now = datetime.now(timezone.utc).replace(hour=hour, minute=0, second=0, microsecond=0)
    return now - timedelta(days=days)


def only_logs_after(when: datetime) -> str:
    return when.strftime("%Y-%b-%d").upper()


def parquet_bytes(rows: list[dict]) -> bytes:
    import pyarrow
    import pyarrow.parquet as parquet
    sink = io.BytesIO()
    parquet.write_table(pyarrow.Table.from_pylist(rows), sink)
    return sink.getvalue()


# -- running a source in-process ---------------------------------------------------------


class ListSink:
    """A sink that keeps the events; with ``refuse_after`` it stops taking them (the
    daemon's queue gone) after that many sends, as a crash in the middle would."""

    def __init__(self, refuse_after: int | None = None):
        self.events: list = []
        self.sends = 0
        self.refuse_after = refuse_after

    async def send(self, events):
        if self.refuse_after is not None and self.sends >= self.refuse_after:
            raise ConnectionError("the queue went away")
        self.sends += 1
        self.events.extend(events)

    async def aclose(self):
        pass


class Outcome:
    def __init__(self, sink: ListSink, stats, error: BaseException | None):
        self.sink, self.stats, self.error = sink, stats, error
        self.messages = [event.message for event in sink.events]
        self.locations = {event.location for event in sink.events}

    @property
    def records(self) -> list[dict]:
        return [json.loads(message) for message in self.messages]


def run_source(source, state: Path, sink: ListSink | None = None) -> Outcome:
    """One run of ``source`` with checkpoints in the JSON file ``state``."""
    import trio

    from wazuhd import collect

    sink = sink or ListSink()
    stats = collect.SourceStats()
    error = None
    try:
        trio.run(collect.run_once, source, sink, collect.FileCheckpoints(state), stats)
    except Exception as exc:  # noqa: BLE001 - the test looks at it
        error = exc
    return Outcome(sink, stats, error)


def security_hub_event(control: str = "IAM.4", status: str = "FAILED") -> dict:
    """A Security Hub "Findings - Imported" EventBridge event with one finding."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Security Hub Findings - Imported",
            "source": "aws.securityhub", "account": ACCOUNT, "region": REGION,
            "detail": {"findings": [{
                "SchemaVersion": "2018-10-08", "Id": f"arn:aws:securityhub:{REGION}:{ACCOUNT}:x/{control}",
                "ProductName": "Security Hub", "AwsAccountId": ACCOUNT,
                "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
                "Title": "IAM root user access key should not exist",
                "Severity": {"Label": "CRITICAL", "Normalized": 90},
                "Compliance": {"Status": status, "SecurityControlId": control},
                "RecordState": "ACTIVE", "Workflow": {"Status": "NEW"},
                "Resources": [{"Type": "AwsAccount", "Id": f"AWS::::Account:{ACCOUNT}"}]}]}}
