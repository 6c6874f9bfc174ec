"""Microsoft Graph: Entra ID audit logs and sign-ins, and the resources Wazuh's
ms-graph module reads (security alerts_v2 and incidents, identity protection,
Intune), as the Wazuh ruleset expects them.

* A ``query`` (``auditLogs/directoryAudits``, ``auditLogs/signIns``) gives Wazuh
  azure-logs' events: the record plus ``azure_tag: "azure-ad-graph"`` and
  ``azure_aad_tag``.
* A ``resource`` and ``relationship`` (``security`` / ``alerts_v2``) give Wazuh
  ms-graph's events: ``{"integration": "ms-graph", "ms-graph": {record...,
  "resource": ..., "relationship": ...}}``.

Each run reads the window [checkpoint, now - ingestion_delay), ``max_window``
seconds at a time: every ``@odata.nextLink`` page of a piece, then its records in
time order, committing as it goes (Graph pages are not in time order, so a piece
is held in memory until its last page).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from wazuhd.collect import CollectError, Run
from wazuhd_azure.common import AZURE_LOCATION, MS_GRAPH_LOCATION, Watermark, iso, parse_time
from wazuhd_azure.rest import (AppCredentials, HttpSettings, RestClient, TokenProvider,
                               WindowedApiSource)

DEFAULT_ENDPOINT = "https://graph.microsoft.com"
BATCH_RECORDS = 1000

#: The time property each collection is filtered and ordered by.
TIME_FIELDS = {
    "directoryAudits": "activityDateTime",
    "signIns": "createdDateTime",
    "provisioning": "activityDateTime",
    "alerts_v2": "createdDateTime",
    "alerts": "createdDateTime",
    "incidents": "createdDateTime",
    "riskDetections": "detectedDateTime",
    "servicePrincipalRiskDetections": "detectedDateTime",
    "auditEvents": "activityDateTime",
}


@dataclass
class GraphSettings:
    """One Graph collection of one tenant: ``query``, or ``resource`` + ``relationship``."""

    credentials: AppCredentials
    query: str | None = None
    resource: str | None = None
    relationship: str | None = None
    tag: str = "azure-ad-graph"
    time_field: str | None = None
    endpoint: str = DEFAULT_ENDPOINT
    version: str = "v1.0"
    scope: str | None = None
    only_logs_after: str | None = None
    time_offset: str | None = None
    #: The first run reads no history, only what comes after it (without a start).
    only_future_events: bool = False
    ingestion_delay: float = 60.0
    max_window: float = 86400.0
    interval: float = 600.0
    http: HttpSettings = field(default_factory=HttpSettings)

    def __post_init__(self):
        if bool(self.query) == bool(self.resource or self.relationship):
            raise ValueError("azure graph: give either a query (e.g. auditLogs/signIns) or a "
                             "resource and a relationship (e.g. security, alerts_v2)")
        if self.resource and not self.relationship or self.relationship and not self.resource:
            raise ValueError("azure graph: a resource needs a relationship and vice versa")

    @property
    def path(self) -> str:
        return (self.query or f"{self.resource}/{self.relationship}").strip("/")

    @property
    def ms_graph(self) -> bool:
        return self.resource is not None


class GraphSource(WindowedApiSource):
    def __init__(self, settings: GraphSettings):
        self.settings = settings
        scope = settings.scope or f"{settings.endpoint.rstrip('/')}/.default"
        self.tokens = TokenProvider(settings.credentials, scope)
        kind = "ms-graph" if settings.ms_graph else "azure-graph"
        self.name = f"{kind}:{settings.credentials.tenant_id}:{settings.path}"
        self.location = MS_GRAPH_LOCATION if settings.ms_graph else AZURE_LOCATION
        self.interval = settings.interval
        self.time_field = (settings.time_field
                           or TIME_FIELDS.get(settings.path.rsplit("/", 1)[-1], "createdDateTime"))

    @property
    def url(self) -> str:
        return f"{self.settings.endpoint.rstrip('/')}/{self.settings.version}/{self.settings.path}"

    def event(self, record: dict) -> dict:
        settings = self.settings
        if settings.ms_graph:
            return {"integration": "ms-graph",
                    "ms-graph": {**record, "resource": settings.resource,
                                 "relationship": settings.relationship}}
        return {**record, "azure_tag": "azure-ad-graph", "azure_aad_tag": settings.tag}

    async def _read_window(self, run: Run, client: RestClient, mark: Watermark,
                           lower: str, upper: str) -> None:
        """Every page of [lower, upper), then the records not read yet in time order."""
        flt = f"{self.time_field} lt {upper}"
        if lower:
            flt = f"{self.time_field} ge {lower} and {flt}"
        pending = []
        for record in await self._read_pages(run, client, {"$filter": flt}):
            when, ident = self._position(run, record)
            if when is not None and mark.is_new(when, ident):
                pending.append((when, ident, record))
        pending.sort(key=lambda item: item[0])
        for first in range(0, len(pending), BATCH_RECORDS):
            batch = pending[first:first + BATCH_RECORDS]
            for when, ident, _ in batch:
                mark.advance(when, ident)
            await run.deliver([self.event(record) for _, _, record in batch], "",
                              mark.as_checkpoint(), location=self.location)

    async def _read_pages(self, run: Run, client: RestClient, params: dict) -> list[dict]:
        records: list[dict] = []
        url: str | None = self.url
        pages = 0
        while url:
            pages += 1
            page = await client.request(run, "GET", url, params=params,
                                        what=f"graph {self.settings.path} (page {pages})")
            value = page.get("value") if isinstance(page, dict) else None
            if not isinstance(value, list):
                raise CollectError(f"graph {self.settings.path}: page {pages} holds no "
                                   f'"value" array')
            records.extend(value)
            url, params = page.get("@odata.nextLink"), None
        run.count("pages", pages)
        return records

    def _position(self, run: Run, record) -> tuple[str | None, str]:
        where = f"graph {self.settings.path}"
        if not isinstance(record, dict):
            run.warn(f"{where}: a record is not a JSON object; skipped")
            return None, ""
        ident = str(record.get("id") or hashlib.sha1(
            json.dumps(record, sort_keys=True).encode()).hexdigest())
        try:
            return iso(parse_time(record[self.time_field])), ident
        except (KeyError, ValueError, TypeError):
            run.warn(f"{where}: record {ident} has no readable {self.time_field}; skipped")
            return None, ident
