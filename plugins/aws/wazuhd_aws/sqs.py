"""SQS-driven ingestion: S3 event notifications and Security Lake.

Each message names objects (an S3 event notification, the same wrapped in an
SNS notification, or an EventBridge ``Object Created`` event); the objects are
read with the parser of the configured log type, their events handed over,
and only then is the message deleted: the queue is the checkpoint, so a
crash before the delete makes the message visible again and nothing is lost.
A message whose objects cannot be read stays in the queue (it comes back
after its visibility timeout) unless ``skip_on_error`` says to drop it.

``security_lake`` reads Parquet OCSF records and sends each as it is (Wazuh's
Security Lake rules read them at the top level); ``buckets`` wraps the records
as S3 events are wrapped; ``security_hub`` takes the findings of the Security Hub
EventBridge events the queue receives (no object to fetch), one event each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

import botocore.exceptions
import trio

from wazuhd.collect import CollectError, Run
from wazuhd_aws import events as shaping
from wazuhd_aws import formats
from wazuhd_aws.session import Access, describe_aws_error, error_code

SUBSCRIBERS = ("buckets", "security_lake", "security_hub")


@dataclass
class SqsOptions:
    sqs_name: str
    subscriber: str = "buckets"
    log_type: str = "custom"
    skip_on_error: bool = True
    discard_field: str | None = None
    discard_regex: str | None = None
    wait_seconds: int = 0
    interval: float = 60.0
    region: str | None = None
    access: Access = field(default_factory=Access)

    def __post_init__(self):
        if self.subscriber not in SUBSCRIBERS:
            raise ValueError(f"sqs {self.sqs_name}: unknown subscriber {self.subscriber!r} "
                             f"(one of {', '.join(SUBSCRIBERS)})")
        if self.subscriber in ("security_lake", "security_hub"):
            self.log_type = self.subscriber
        elif self.log_type not in formats.PARSERS:
            raise ValueError(f"sqs {self.sqs_name}: unknown log type {self.log_type!r}")

    @property
    def source_name(self) -> str:
        return f"aws-sqs:{self.sqs_name}:{self.subscriber}"


def unwrap_sns(body: str):
    """The JSON a message carries, out of its SNS notification when it is one (None: not JSON)."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if isinstance(message, dict) and message.get("Type") == "Notification" and isinstance(
            message.get("Message"), str):
        return unwrap_sns(message["Message"])
    return message


def objects_of(body: str) -> list[tuple[str, str]] | None:
    """The (bucket, key) pairs a message names; [] for S3's test event; None when the
    message is none of the notification forms."""
    message = unwrap_sns(body)
    if not isinstance(message, dict):
        return None
    if message.get("Event") == "s3:TestEvent":
        return []
    if isinstance(message.get("Records"), list):
        pairs = []
        for record in message["Records"]:
            s3 = record.get("s3", {}) if isinstance(record, dict) else {}
            if not str(record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
                continue
            try:
                pairs.append((s3["bucket"]["name"], unquote_plus(s3["object"]["key"])))
            except (KeyError, TypeError):
                return None
        return pairs
    detail = message.get("detail")
    if isinstance(detail, dict):
        try:
            return [(detail["bucket"]["name"], detail["object"]["key"])]
        except (KeyError, TypeError):
            return None
    return None


class SqsSource(shaping.AwsSource):
    """What an SQS queue announces (S3 objects, Security Lake, Security Hub findings); a
    message is deleted once its records are queued."""

    async def collect(self, run: Run) -> None:
        access, region = self.options.access, self.options.region
        session = await trio.to_thread.run_sync(access.session, region)
        sqs = access.client("sqs", region, session)
        s3 = access.client("s3", region, session)
        try:
            url = (await trio.to_thread.run_sync(
                lambda: sqs.get_queue_url(QueueName=self.options.sqs_name)))["QueueUrl"]
        except botocore.exceptions.ClientError as exc:
            raise CollectError(f"SQS: no queue {self.options.sqs_name!r} "
                               f"({error_code(exc)})") from exc
        kept: set[str] = set()  # left in the queue this run: seeing one again ends the run
        while True:
            reply = await trio.to_thread.run_sync(lambda: sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=self.options.wait_seconds))
            messages = [m for m in reply.get("Messages", []) if m["MessageId"] not in kept]
            if not messages:
                return
            for message in messages:
                kept.add(message["MessageId"])
                if await self._handle(run, s3, message):
                    await trio.to_thread.run_sync(lambda: sqs.delete_message(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"]))
                    kept.discard(message["MessageId"])
                    run.count("messages")

    async def _handle(self, run: Run, s3, message: dict) -> bool:
        """Send the events of a message's objects; True when the message may be deleted."""
        if self.options.subscriber == "security_hub":
            return await self._handle_findings(run, message)
        pairs = objects_of(message.get("Body", ""))
        if pairs is None:
            run.warn(f"SQS {self.options.sqs_name}: message {message.get('MessageId')} is not an "
                     f"S3 notification" + ("; deleted (skip_on_error)" if self.options.skip_on_error
                                           else "; left in the queue"))
            return self.options.skip_on_error
        for bucket, key in pairs:
            outcome = await trio.to_thread.run_sync(self._fetch, s3, bucket, key)
            where = f"s3://{bucket}/{key}"
            if isinstance(outcome, str):
                if not self.options.skip_on_error:
                    run.warn(f"{where}: {outcome}; message {message.get('MessageId')} left in "
                             f"the queue (skip_on_error is off)")
                    return False
                run.count("skipped_objects")
                run.warn(f"{where}: {outcome}; skipped (skip_on_error)")
                continue
            texts, oversized = outcome
            if oversized:
                run.warn(f"{where}: {oversized} events longer than the queue accepts "
                         f"({shaping.MAX_EVENT_SIZE} bytes); skipped")
            await run.emit(texts, location=self.location)
            run.count("objects")
        return True

    async def _handle_findings(self, run: Run, message: dict) -> bool:
        envelope = unwrap_sns(message.get("Body", ""))
        if not formats.security_hub_envelope(envelope):
            run.warn(f"SQS {self.options.sqs_name}: message {message.get('MessageId')} is not a "
                     f"Security Hub findings event" + (
                         "; deleted (skip_on_error)" if self.options.skip_on_error
                         else "; left in the queue"))
            return self.options.skip_on_error
        texts = []
        for record in formats.security_hub_records(envelope):
            if self.discard and self.discard.drops(record):
                run.count("discarded")
                continue
            for shaped in shaping.reshape(record):
                text = shaping.encode({"integration": "aws", "aws": shaped})
                if len(text.encode()) > shaping.MAX_EVENT_SIZE:
                    run.warn(f"SQS {self.options.sqs_name}: a finding of {len(text.encode())} "
                             f"bytes is longer than the queue accepts; skipped")
                    continue
                texts.append(text)
        await run.emit(texts, location=self.location)
        return True

    def _fetch(self, s3, bucket: str, key: str) -> tuple[list[str], int] | str:
        """Events of one object and how many were too long, or what went wrong with it."""
        try:
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in ("NoSuchKey", "404", "AccessDenied", "NoSuchBucket"):
                return f"cannot read ({code})"
            raise CollectError(f"s3://{bucket}/{key}: cannot read ({describe_aws_error(exc)}); "
                               f"its message stays in the queue") from exc
        try:
            records = formats.parse(self.options.log_type, data, key)
        except formats.FormatError as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - a record shaped like nothing expected
            return f"cannot read its records ({type(exc).__name__}: {exc})"
        out = []
        for record in records:
            if self.discard and self.discard.drops(record):
                continue
            if self.options.subscriber == "security_lake":
                out.append(shaping.encode(record))
                continue
            for shaped in shaping.reshape(record):
                out.append(shaping.encode(shaping.wrap(shaped, bucket=bucket, log_file=key)))
        fitting = [text for text in out if len(text.encode()) <= shaping.MAX_EVENT_SIZE]
        return fitting, len(out) - len(fitting)
