"""CloudWatch Logs: the events of log groups, stream by stream, as Wazuh reads them.

Each message is sent as it is (Wazuh's aws module does not wrap CloudWatch
messages: they are whatever the application logged, for the decoders to
read). The checkpoint of a stream (per region, group and stream) is the
forward token of the next page and the newest event time read; a token AWS
no longer accepts falls back to that time. ``remove_log_streams`` deletes a
stream once everything in it was sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import botocore.exceptions
import trio

from wazuhd.collect import CollectError, Run
from wazuhd_aws import events as shaping
from wazuhd_aws.buckets import start_day
from wazuhd_aws.session import Access, available_regions, describe_aws_error, error_code


@dataclass
class CloudWatchOptions:
    aws_log_groups: list[str]
    #: Empty: every region AWS offers the service in, as Wazuh reads them.
    regions: list[str] = field(default_factory=list)
    log_stream_prefix: str = ""
    only_logs_after: str | None = None
    remove_log_streams: bool = False
    discard_field: str | None = None
    discard_regex: str | None = None
    interval: float = 600.0
    access: Access = field(default_factory=Access)

    def __post_init__(self):
        if not self.aws_log_groups:
            raise ValueError("cloudwatchlogs: aws_log_groups names no log group")

    @property
    def source_name(self) -> str:
        regions = ",".join(self.regions) or "all-regions"
        return (f"aws-cloudwatchlogs:{','.join(self.aws_log_groups)}:{regions}"
                + (f":{self.log_stream_prefix}" if self.log_stream_prefix else ""))


def _ms(day) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


class CloudWatchSource(shaping.AwsSource):
    """CloudWatch Logs groups of the configured regions; checkpoints per stream."""

    async def collect(self, run: Run) -> None:
        regions = self.options.regions or available_regions("logs")
        found: set[str] = set()
        for region in regions:
            logs = await trio.to_thread.run_sync(self.options.access.client, "logs", region)
            for group in self.options.aws_log_groups:
                streams = await self._streams(logs, group)
                if streams is None:
                    continue  # not in this region; a group lives in one or a few
                found.add(group)
                for stream in streams:
                    await self._read_stream(run, logs, region, group, stream)
        missing = [group for group in self.options.aws_log_groups if group not in found]
        if missing:
            where = ", ".join(regions) if self.options.regions else "any region"
            raise CollectError(f"CloudWatch Logs: no log group {', '.join(map(repr, missing))} "
                               f"in {where}")

    async def _streams(self, logs, group: str) -> list[dict] | None:
        """The group's streams (None when the region has no such group)."""
        streams, token = [], None
        while True:
            arguments = {"logGroupName": group}
            if self.options.log_stream_prefix:
                arguments["logStreamNamePrefix"] = self.options.log_stream_prefix
            if token:
                arguments["nextToken"] = token
            try:
                page = await trio.to_thread.run_sync(lambda: logs.describe_log_streams(**arguments))
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return None
                raise CollectError(f"CloudWatch Logs {group}: cannot list the streams "
                                   f"({describe_aws_error(exc)})") from exc
            streams += page.get("logStreams", [])
            token = page.get("nextToken")
            if not token:
                return streams

    async def _read_stream(self, run: Run, logs, region: str, group: str, stream: dict) -> None:
        name = stream["logStreamName"]
        key = f"{region}/{group}/{name}"
        checkpoint = await run.checkpoint(key) or {}
        newest = checkpoint.get("last_timestamp")
        last_event = stream.get("lastEventTimestamp")
        if newest is not None and last_event is not None and last_event <= newest:
            await self._maybe_remove(run, logs, group, name)
            return
        arguments = {"logGroupName": group, "logStreamName": name, "startFromHead": True}
        if checkpoint.get("token"):
            # A token continues the query it came from: the same startTime goes with it.
            arguments["nextToken"] = checkpoint["token"]
            if checkpoint.get("start_time") is not None:
                arguments["startTime"] = checkpoint["start_time"]
        else:
            arguments["startTime"] = (newest + 1 if newest is not None
                                      else _ms(start_day(self.options.only_logs_after)))
        while True:
            try:
                page = await trio.to_thread.run_sync(lambda: logs.get_log_events(**arguments))
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == "InvalidParameterException" and "nextToken" in arguments:
                    # An expired token: go on from the newest event time instead.
                    run.warn(f"CloudWatch Logs {group}/{name}: the saved token was refused; "
                             f"resuming after the newest event read")
                    del arguments["nextToken"]
                    arguments["startTime"] = (newest + 1 if newest is not None
                                              else _ms(start_day(self.options.only_logs_after)))
                    continue
                raise CollectError(f"CloudWatch Logs {region} {group}/{name}: "
                                   f"{describe_aws_error(exc)}") from exc
            messages = []
            for event in page.get("events", []):
                newest = max(newest or 0, event["timestamp"])
                if self._discarded(event["message"]):
                    run.count("discarded")
                    continue
                if len(event["message"].encode()) > shaping.MAX_EVENT_SIZE:
                    run.warn(f"CloudWatch Logs {group}/{name}: a message of "
                             f"{len(event['message'].encode())} bytes is longer than the queue "
                             f"accepts; skipped")
                    continue
                messages.append(event["message"])
            token = page.get("nextForwardToken")
            await run.deliver(messages, key, {"token": token, "last_timestamp": newest,
                                              "start_time": arguments.get("startTime")},
                              location=self.location)
            if not page.get("events") or token == arguments.get("nextToken"):
                break
            arguments["nextToken"] = token  # startTime stays: the token continues that query
        await self._maybe_remove(run, logs, group, name)

    async def _maybe_remove(self, run: Run, logs, group: str, name: str) -> None:
        if self.options.remove_log_streams:
            await trio.to_thread.run_sync(
                lambda: logs.delete_log_stream(logGroupName=group, logStreamName=name))
            run.count("removed_streams")

    def _discarded(self, message: str) -> bool:
        if not self.discard or not message.startswith("{"):
            return False
        try:
            record = json.loads(message)
        except ValueError:
            return False
        return isinstance(record, dict) and self.discard.drops(record)
