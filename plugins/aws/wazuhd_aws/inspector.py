"""Amazon Inspector (v2) findings, in the shape Wazuh's ``inspector`` rules read.

Wazuh's module reads Inspector Classic, which AWS has retired for new
accounts; this reads Inspector v2 (``inspector2``) and gives each finding
the fields Wazuh's rules 80495-80499 use: ``source: inspector``, ``title``,
``severity`` (AWS's ``HIGH`` matches Wazuh's case-insensitive ``High``) and
``createdAt`` (the first time the finding was observed). The checkpoint of a
region is the newest ``updatedAt`` read and the findings seen at that instant,
so a finding updated again is sent again and an unchanged one never twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import trio

from wazuhd.collect import CollectError, Run
from wazuhd_aws import events as shaping
from wazuhd_aws.buckets import start_day
from wazuhd_aws.session import Access, available_regions, aws_errors, describe_aws_error

ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class InspectorOptions:
    #: Empty: every region AWS offers the service in, as Wazuh reads them.
    regions: list[str] = field(default_factory=list)
    only_logs_after: str | None = None
    discard_field: str | None = None
    discard_regex: str | None = None
    interval: float = 600.0
    access: Access = field(default_factory=Access)

    @property
    def source_name(self) -> str:
        return f"aws-inspector:{','.join(self.regions) or 'all-regions'}"


def _utc(value) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(timezone.utc)


def finding_event(finding: dict) -> dict:
    """One finding as Wazuh sends an Inspector finding."""
    record = dict(finding, source="inspector")
    for name, value in list(record.items()):
        if isinstance(value, datetime):
            record[name] = _utc(value).strftime(ISO)
    if "createdAt" not in record and "firstObservedAt" in record:
        record["createdAt"] = record["firstObservedAt"]
    return {"integration": "aws", "aws": record}


class InspectorSource(shaping.AwsSource):
    """Inspector v2 findings of the configured regions; checkpoints per region."""

    async def collect(self, run: Run) -> None:
        for region in self.options.regions or available_regions("inspector2"):
            client = await trio.to_thread.run_sync(self.options.access.client, "inspector2", region)
            await self._read_region(run, client, region)

    async def _read_region(self, run: Run, client, region: str) -> None:
        checkpoint = await run.checkpoint(region) or {}
        since = (_utc(checkpoint["updated_at"]) if checkpoint.get("updated_at") else
                 datetime.combine(start_day(self.options.only_logs_after), datetime.min.time(),
                                  timezone.utc))
        seen_at_since = set(checkpoint.get("ids", []))
        arguments = {"filterCriteria": {"updatedAt": [{"startInclusive": since}]},
                     "sortCriteria": {"field": "LAST_OBSERVED_AT", "sortOrder": "ASC"},
                     "maxResults": 100}
        fresh: list[dict] = []
        while True:
            try:
                page = await trio.to_thread.run_sync(lambda: client.list_findings(**arguments))
            except aws_errors as exc:
                raise CollectError(f"Inspector {region}: cannot list findings "
                                   f"({describe_aws_error(exc)})") from exc
            for finding in page.get("findings", []):
                updated = _utc(finding.get("updatedAt") or finding.get("lastObservedAt") or since)
                if updated < since or (updated == since and finding.get("findingArn") in seen_at_since):
                    continue
                fresh.append(finding)
            if not page.get("nextToken"):
                break
            arguments["nextToken"] = page["nextToken"]
        fresh.sort(key=lambda f: _utc(f.get("updatedAt") or f.get("lastObservedAt") or since))
        if not fresh:
            return
        texts = []
        for finding in fresh:
            if self.discard and self.discard.drops(finding):
                run.count("discarded")
                continue
            texts.append(shaping.encode(finding_event(finding)))
        newest = max(_utc(f.get("updatedAt") or f.get("lastObservedAt") or since) for f in fresh)
        ids = {f.get("findingArn") for f in fresh
               if _utc(f.get("updatedAt") or f.get("lastObservedAt") or since) == newest}
        if newest == since:
            ids |= seen_at_since
        await run.deliver(texts, region, {"updated_at": newest.isoformat(),
                                          "ids": sorted(i for i in ids if i)},
                          location=self.location)
