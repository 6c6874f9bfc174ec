"""Azure Log Analytics: a KQL query per workspace over a time window.

The window runs from the checkpoint (or ``only_logs_after`` / ``time_offset``)
to now minus ``ingestion_delay``, since Log Analytics makes records queryable
some time after their ``TimeGenerated``; a longer backlog is queried
``max_window`` seconds at a time (a query answers at most 500,000 rows). Rows
have no id, so those already read at the checkpoint's time are known by a digest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from urllib.parse import quote

from wazuhd.collect import CollectError, Run
from wazuhd_azure.common import (AZURE_LOCATION, Watermark, 
                                 iso, parse_time)
from wazuhd_azure.rest import (AppCredentials, HttpSettings, RestClient, TokenProvider,
                               WindowedApiSource)

DEFAULT_ENDPOINT = "https://api.loganalytics.io"
TIME_COLUMN = "TimeGenerated"
BATCH_ROWS = 1000


@dataclass
class LogAnalyticsSettings:
    """One query of one workspace (Wazuh's ``<log_analytics><request>``)."""

    workspace: str
    query: str
    credentials: AppCredentials
    endpoint: str = DEFAULT_ENDPOINT
    scope: str | None = None
    tag: str = "azure-log-analytics"
    only_logs_after: str | None = None
    time_offset: str | None = None
    ingestion_delay: float = 60.0
    max_window: float = 86400.0
    interval: float = 600.0
    http: HttpSettings = field(default_factory=HttpSettings)


def build_query(query: str, start: str | None, end: str) -> str:
    """The user's query limited to [start, end) and sorted by time."""
    bounds = f"{TIME_COLUMN} < datetime({end})"
    if start:
        bounds = f"{TIME_COLUMN} >= datetime({start}) and {bounds}"
    return f"{query.strip()}\n| where {bounds}\n| sort by {TIME_COLUMN} asc"


def rows_of(answer: dict) -> list[dict]:
    """The primary table of a query answer as dicts, column name to value."""
    tables = answer.get("tables") if isinstance(answer, dict) else None
    if not isinstance(tables, list) or not tables:
        raise CollectError('the answer holds no "tables"')
    table = tables[0]
    try:
        names = [column["name"] for column in table["columns"]]
        return [dict(zip(names, row)) for row in table["rows"]]
    except (KeyError, TypeError) as exc:
        raise CollectError(f"the answer's table is malformed ({exc!r})") from None


def row_digest(row: dict) -> str:
    return hashlib.sha1(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()


class LogAnalyticsSource(WindowedApiSource):
    def __init__(self, settings: LogAnalyticsSettings):
        self.settings = settings
        scope = settings.scope or f"{settings.endpoint.rstrip('/')}/.default"
        self.tokens = TokenProvider(settings.credentials, scope)
        digest = hashlib.sha1(settings.query.encode()).hexdigest()[:10]
        self.name = f"azure-log-analytics:{settings.workspace}:{digest}"
        self.location = AZURE_LOCATION
        self.interval = settings.interval

    @property
    def url(self) -> str:
        return (f"{self.settings.endpoint.rstrip('/')}/v1/workspaces/"
                f"{quote(self.settings.workspace, safe='')}/query")

    async def _read_window(self, run: Run, client: RestClient, mark: Watermark,
                           lower: str, upper: str) -> None:
        """Query [lower, upper), emit the rows not read yet in time order, commit."""
        what = f"workspace {self.settings.workspace}"
        answer = await client.request(run, "POST", self.url, what=what, json={
            "query": build_query(self.settings.query, lower or None, upper)})
        rows = rows_of(answer)
        run.count("rows", len(rows))
        pending = []
        for row in rows:
            try:
                when = iso(parse_time(row[TIME_COLUMN]))
            except KeyError:
                raise CollectError(f"{what}: the query's result has no {TIME_COLUMN} column; "
                                   f"keep it in the query's output") from None
            except ValueError as exc:
                run.warn(f"{what}: a row's {TIME_COLUMN} is unreadable ({exc}); skipped")
                continue
            ident = row_digest(row)
            if mark.is_new(when, ident):
                pending.append((when, ident, row))
        pending.sort(key=lambda item: item[0])
        for first in range(0, len(pending), BATCH_ROWS):
            batch = pending[first:first + BATCH_ROWS]
            for when, ident, _ in batch:
                mark.advance(when, ident)
            events = [{**row, "azure_tag": "azure-log-analytics",
                       "log_analytics_tag": self.settings.tag} for _, _, row in batch]
            await run.deliver(events, "", mark.as_checkpoint())
