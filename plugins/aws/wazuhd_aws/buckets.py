"""S3 log buckets: where each log type keeps its objects, and the source that reads them.

Each log type has a key layout:

* ``awslogs``: ``<path>AWSLogs/[<path_suffix>/]<account>/<Service>/<region>/YYYY/MM/DD/...``
  (CloudTrail, VPC Flow Logs, GuardDuty's own export, ELB access logs); AWS
  Config writes the same with unpadded month and day (``2024/1/5``), which do
  not sort by date, so it is listed a day at a time;
* ``dated``: ``<path>YYYY/MM/DD/HH/...`` as Firehose delivers (WAF, GuardDuty
  through Firehose, custom);
* ``flat``: ``<path>YYYY-MM-DD...`` (S3 server access logs, Cisco Umbrella).

Within one listing prefix (one account and region, or the path) keys sort by
date, which is how AWS delivers them, so the checkpoint of a prefix is the
last key read there: the next run lists with ``StartAfter`` it, page after
page of 1,000 keys. It moves only after that object's events were handed
over, so a crash re-reads at most one object and never skips one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import botocore.exceptions
import trio

from wazuhd import collect
from wazuhd.collect import CollectError, Run
from wazuhd_aws import events as shaping
from wazuhd_aws import formats
from wazuhd_aws.session import Access, aws_errors, describe_aws_error, error_code

log = logging.getLogger("wazuhd.aws")

#: Objects fetched and parsed at once (threads); their events are still sent in key order.
FETCH_WIDTH = 8


@dataclass(frozen=True)
class LogType:
    name: str
    layout: str                 # "awslogs", "dated" or "flat"
    service: str = ""           # the AWSLogs/<account>/<service>/ folder
    parser: str = ""            # formats.PARSERS key (default: the name)
    unpadded_days: bool = False  # AWS Config's 2024/1/5

    def wants(self, key: str) -> bool:
        """Objects of this type (ELB types share one folder; folder markers are skipped)."""
        if key.endswith("/"):
            return False
        name = key.rsplit("/", 1)[-1]
        if self.name == "alb":
            return "_app." in name
        if self.name == "nlb":
            return "_net." in name
        if self.name == "clb":
            return "_app." not in name and "_net." not in name
        return True


LOG_TYPES = {t.name: t for t in (
    LogType("cloudtrail", "awslogs", "CloudTrail"),
    LogType("config", "awslogs", "Config", unpadded_days=True),
    LogType("vpcflow", "awslogs", "vpcflowlogs"),
    LogType("guardduty", "awslogs", "GuardDuty"),
    LogType("waf", "dated"),
    LogType("server_access", "flat"),
    LogType("alb", "awslogs", "elasticloadbalancing"),
    LogType("clb", "awslogs", "elasticloadbalancing"),
    LogType("nlb", "awslogs", "elasticloadbalancing"),
    LogType("cisco_umbrella", "flat"),
    LogType("custom", "dated"),
)}
#: GuardDuty delivered by Firehose (no AWSLogs/ folder) reads as the custom type does.
GUARDDUTY_FIREHOSE = LogType("guardduty", "dated", parser="guardduty-firehose")

_DAY_IN_KEY = re.compile(r"/(\d{4})/(\d{1,2})/(\d{1,2})/")


@dataclass
class BucketOptions:
    """One configured bucket (names as in Wazuh's ``<bucket>`` block)."""

    name: str
    type: str
    path: str = ""
    path_suffix: str = ""
    aws_account_id: list[str] = field(default_factory=list)
    aws_account_alias: str = ""
    regions: list[str] = field(default_factory=list)
    only_logs_after: str | None = None
    remove_from_bucket: bool = False
    skip_on_error: bool = True
    discard_field: str | None = None
    discard_regex: str | None = None
    interval: float = 600.0
    access: Access = field(default_factory=Access)

    def __post_init__(self):
        if self.type not in LOG_TYPES:
            raise ValueError(f"bucket {self.name}: unknown type {self.type!r} (one of "
                             f"{', '.join(sorted(LOG_TYPES))})")
        if self.path and not self.path.endswith("/"):
            self.path += "/"
        self.path_suffix = self.path_suffix.strip("/")
        if self.only_logs_after:
            collect.parse_date(self.only_logs_after)  # refuse a bad date at configuration time

    @property
    def source_name(self) -> str:
        return f"aws-s3:{self.name}:{self.type}" + (f":{self.path}" if self.path else "")


def start_day(only_logs_after: str | None) -> date:
    """Where a prefix without checkpoint starts: ``only_logs_after``, else today (as Wazuh)."""
    if only_logs_after:
        return datetime.fromtimestamp(collect.parse_date(only_logs_after), timezone.utc).date()
    return datetime.now(timezone.utc).date()


class S3Source(shaping.AwsSource):
    """One bucket of one log type; checkpoints per listing prefix."""

    def __init__(self, options: BucketOptions):
        super().__init__(options)
        self.log_type = LOG_TYPES[options.type]
        self.account_alias = options.aws_account_alias

    # -- the run ------------------------------------------------------------------------

    async def collect(self, run: Run) -> None:
        s3 = await trio.to_thread.run_sync(self.options.access.client, "s3")
        if not self.options.aws_account_alias:
            self.account_alias = await trio.to_thread.run_sync(self._account_alias)
        log_type = self.log_type
        if log_type.name == "guardduty" and not await self._has_awslogs(s3):
            log_type = GUARDDUTY_FIREHOSE
        for prefix in await self._prefixes(s3, log_type):
            await self._read_prefix(run, s3, log_type, prefix)

    def _account_alias(self) -> str:
        """The credentials' account alias (IAM), as Wazuh puts it in ``log_info``; empty
        when the account has none or the credentials may not read it."""
        try:
            iam = self.options.access.client("iam")
            aliases = iam.list_account_aliases().get("AccountAliases", [])
        except aws_errors as exc:
            log.debug("%s: no account alias (%s)", self.name, describe_aws_error(exc))
            return ""
        return aliases[0] if aliases else ""

    async def _list(self, s3, **arguments) -> dict:
        try:
            return await trio.to_thread.run_sync(
                lambda: s3.list_objects_v2(Bucket=self.options.name, **arguments))
        except aws_errors as exc:
            where = f"s3://{self.options.name}/{arguments.get('Prefix', '')}"
            raise CollectError(f"{where}: cannot list ({describe_aws_error(exc)}); the "
                               f"checkpoint stays, the next run retries") from exc

    async def _folders(self, s3, prefix: str) -> list[str]:
        """The ``<prefix><name>/`` sub-folders, paginated."""
        folders, token = [], None
        while True:
            page = await self._list(s3, Prefix=prefix, Delimiter="/",
                                    **({"ContinuationToken": token} if token else {}))
            folders += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            if not page.get("IsTruncated"):
                return folders
            token = page["NextContinuationToken"]

    async def _has_awslogs(self, s3) -> bool:
        page = await self._list(s3, Prefix=f"{self.options.path}AWSLogs/", MaxKeys=1)
        return bool(page.get("Contents") or page.get("CommonPrefixes"))

    async def _prefixes(self, s3, log_type: LogType) -> list[str]:
        """Every listing prefix: one per account and region, or the path alone."""
        options = self.options
        if log_type.layout != "awslogs":
            return [options.path]
        base = f"{options.path}AWSLogs/" + (f"{options.path_suffix}/" if options.path_suffix else "")
        if options.aws_account_id:
            accounts = [f"{base}{account}/" for account in options.aws_account_id]
        else:
            accounts = []
            for folder in await self._folders(s3, base):
                name = folder[len(base):-1]
                if name.isdigit():
                    accounts.append(folder)
                elif name.startswith("o-") and not options.path_suffix:
                    # An organization trail: AWSLogs/<org id>/<account>/CloudTrail/...
                    accounts += [sub for sub in await self._folders(s3, folder)
                                 if sub[len(folder):-1].isdigit()]
        prefixes = []
        for account in accounts:
            service = f"{account}{log_type.service}/"
            if options.regions:
                prefixes += [f"{service}{region}/" for region in options.regions]
            else:
                prefixes += await self._folders(s3, service)
        return prefixes

    def _start_after(self, log_type: LogType, prefix: str, day: date) -> str:
        if log_type.layout == "flat":
            return f"{prefix}{day:%Y-%m-%d}"
        return f"{prefix}{day:%Y/%m/%d}"

    async def _read_prefix(self, run: Run, s3, log_type: LogType, prefix: str) -> None:
        checkpoint = await run.checkpoint(prefix) or {}
        first = start_day(self.options.only_logs_after)
        if log_type.unpadded_days:
            await self._read_by_day(run, s3, log_type, prefix, checkpoint.get("key") or "", first)
            return
        start_after = max(checkpoint.get("key") or "", self._start_after(log_type, prefix, first))
        if not checkpoint:
            # Remember where this prefix began, so "today" does not move on with the clock.
            await run.commit(prefix, {"key": start_after, "timestamp": None})
        await self._read_listing(run, s3, log_type, prefix, prefix, start_after)

    async def _read_by_day(self, run: Run, s3, log_type: LogType, prefix: str, last_key: str,
                           first: date) -> None:
        found = _DAY_IN_KEY.search(last_key[len(prefix) - 1:]) if last_key else None
        day = max(first, date(*map(int, found.groups()))) if found else first
        if not last_key:
            await run.commit(prefix, {"key": f"{prefix}{day.year}/{day.month}/{day.day}/",
                                      "timestamp": None})
        today = datetime.now(timezone.utc).date()
        while day <= today:
            folder = f"{prefix}{day.year}/{day.month}/{day.day}/"
            await self._read_listing(run, s3, log_type, prefix, folder,
                                     last_key if last_key.startswith(folder) else "")
            day += timedelta(days=1)

    async def _read_listing(self, run: Run, s3, log_type: LogType, checkpoint_key: str,
                            prefix: str, start_after: str) -> None:
        token = None
        while True:
            arguments = {"Prefix": prefix, "MaxKeys": 1000}
            if token:
                arguments["ContinuationToken"] = token
            elif start_after:
                arguments["StartAfter"] = start_after
            page = await self._list(s3, **arguments)
            run.count("listed", page.get("KeyCount", 0))
            wanted = [obj for obj in page.get("Contents", []) if log_type.wants(obj["Key"])]
            for start in range(0, len(wanted), FETCH_WIDTH):
                batch = wanted[start:start + FETCH_WIDTH]
                outcomes: list = [None] * len(batch)

                async def fetch(index: int, obj: dict) -> None:
                    try:
                        outcomes[index] = await trio.to_thread.run_sync(
                            self._fetch, s3, log_type, obj["Key"])
                    except Exception as exc:  # noqa: BLE001 - raised in key order by _deliver
                        outcomes[index] = "fail", exc
                async with trio.open_nursery() as nursery:
                    for index, obj in enumerate(batch):
                        nursery.start_soon(fetch, index, obj)
                for obj, outcome in zip(batch, outcomes):
                    await run.deliver(self._events(run, obj, outcome), checkpoint_key, {
                        "key": obj["Key"],
                        "timestamp": obj["LastModified"].astimezone(timezone.utc).isoformat()},
                        location=self.location)
                    if self.options.remove_from_bucket:
                        await self._remove(run, s3, obj["Key"])
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    async def _remove(self, run: Run, s3, key: str) -> None:
        try:
            await trio.to_thread.run_sync(
                lambda: s3.delete_object(Bucket=self.options.name, Key=key))
        except aws_errors as exc:
            run.warn(f"s3://{self.options.name}/{key}: read but not removed "
                     f"({describe_aws_error(exc)})")
        else:
            run.count("removed")

    # -- one object -----------------------------------------------------------------------

    def _fetch(self, s3, log_type: LogType, key: str):
        """In a worker thread: get, parse and shape one object -> (events, discarded,
        oversized) or the per-object problem (a message) for :meth:`_deliver`."""
        try:
            data = s3.get_object(Bucket=self.options.name, Key=key)["Body"].read()
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in ("NoSuchKey", "404"):
                return "gone", "deleted between listing and reading; skipped"
            if code in ("AccessDenied", "KMS.AccessDeniedException", "InvalidObjectState"):
                return "error", f"cannot read ({code})"
            raise CollectError(f"s3://{self.options.name}/{key}: cannot read "
                               f"({describe_aws_error(exc)}); the checkpoint stays before it, "
                               f"the next run retries") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise CollectError(f"s3://{self.options.name}/{key}: cannot read "
                               f"({describe_aws_error(exc)}); the checkpoint stays before it, "
                               f"the next run retries") from exc
        try:
            return "ok", self.shape(formats.parse(log_type.parser or log_type.name, data, key), key)
        except formats.FormatError as exc:
            return "error", str(exc)
        except Exception as exc:  # noqa: BLE001 - a record shaped like nothing expected
            return "error", f"cannot read its records ({type(exc).__name__}: {exc})"

    def shape(self, records: list[dict], key: str) -> tuple[list[str], int, list[int]]:
        out, discarded, oversized = [], 0, []
        for record in records:
            if self.discard and self.discard.drops(record):
                discarded += 1
                continue
            for shaped in shaping.reshape(record):
                text = shaping.encode(shaping.wrap(shaped, bucket=self.options.name, log_file=key,
                                                   account_alias=self.account_alias))
                if len(text) > shaping.MAX_EVENT_SIZE and len(text.encode()) > shaping.MAX_EVENT_SIZE:
                    oversized.append(len(text.encode()))
                    continue
                out.append(text)
        return out, discarded, oversized

    def _events(self, run: Run, obj: dict, outcome) -> list[str]:
        """The events of one fetched object (none when it is skipped); raises what stops
        the run before the object."""
        where = f"s3://{self.options.name}/{obj['Key']}"
        status, detail = outcome
        if status == "fail":
            raise detail
        if status == "gone":
            run.count("skipped_objects")
            run.warn(f"{where}: {detail}")
            return []
        if status == "error":
            if not self.options.skip_on_error:
                raise CollectError(f"{where}: {detail} (skip_on_error is off: the checkpoint "
                                   f"stays before this object)")
            run.count("skipped_objects")
            run.warn(f"{where}: {detail}; skipped (skip_on_error)")
            return []
        texts, discarded, oversized = detail
        for size in oversized:
            run.warn(f"{where}: an event of {size} bytes is longer than the queue accepts "
                     f"({shaping.MAX_EVENT_SIZE}); skipped")
        if discarded:
            run.count("discarded", discarded)
        run.count("objects")
        return texts
