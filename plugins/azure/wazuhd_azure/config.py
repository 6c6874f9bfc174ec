"""The ``azure`` section of ``etc/wazuhd.yaml`` and the sources it describes."""

from __future__ import annotations

import logging

from wazuhd.collect import Source
from wazuhd.config import ConfigSection
from wazuhd_azure.graph import DEFAULT_ENDPOINT as GRAPH_ENDPOINT, GraphSettings, GraphSource
from wazuhd_azure.loganalytics import (DEFAULT_ENDPOINT as LOG_ANALYTICS_ENDPOINT,
                                       LogAnalyticsSettings, LogAnalyticsSource)
from wazuhd_azure.rest import DEFAULT_AUTHORITY, AppCredentials, HttpSettings, TokenProvider
from wazuhd_azure.storage import CONTENT_TYPES, StorageSettings, StorageSource

log = logging.getLogger("wazuhd.azure")

_TEXT = {"type": ["string", "null"], "default": None}
_WINDOW = {
    "only_logs_after": {"type": ["string", "null"], "default": None,
                        "pattern": r"^\d{4}-([A-Za-z]{3}|\d{2})-\d{2}$",
                        "description": "Read nothing older than this date (YYYY-MMM-DD)."},
    "time_offset": {"type": ["string", "null"], "default": None, "pattern": r"^\d+[smhdw]?$",
                    "description": "Read nothing older than this long ago (e.g. 2d, 12h)."},
    "interval": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": None,
                 "description": "Seconds between runs (default: the section's interval)."},
}
_APP = {
    "tenant_id": {"type": "string", "description": "The Entra ID tenant (id or domain)."},
    "client_id": {"type": "string", "description": "The application (client) id."},
    "client_secret": {"type": "string", "description": "The application's client secret."},
    "authority": {"type": "string", "default": DEFAULT_AUTHORITY,
                  "description": "The token authority (sovereign clouds, private endpoints)."},
    "scope": {**_TEXT, "description": "Token scope (default: <endpoint>/.default)."},
    "ca_file": {**_TEXT, "description": "CA bundle to verify the endpoints with."},
    "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 60},
    "max_retries": {"type": "integer", "minimum": 0, "default": 5,
                    "description": "Retries of a throttled (429) or failed (5xx) request."},
    "max_retry_wait": {"type": "number", "minimum": 0, "default": 60,
                       "description": "Longest wait before a retry, whatever Retry-After says."},
    "ingestion_delay": {"type": "number", "minimum": 0, "default": 60,
                        "description": "Seconds records take to become queryable: the window "
                                       "ends this long before now."},
    "max_window": {"type": "number", "exclusiveMinimum": 0, "default": 86400,
                   "description": "A longer backlog is read this many seconds at a time."},
}

STORAGE = {"type": "object", "required": ["container"], "properties": {
    "container": {"type": "string", "minLength": 1},
    "account_name": _TEXT, "account_key": _TEXT, "connection_string": _TEXT, "sas_token": _TEXT,
    "endpoint": {**_TEXT, "description": "Blob endpoint (default https://<account>.blob.core.windows.net)."},
    "prefix": {"type": "string", "default": ""},
    "blobs": {"type": "string", "default": "*",
              "description": "Blob names to read: a wildcard pattern or an ending (.json)."},
    "content_type": {"enum": list(CONTENT_TYPES), "default": "text",
                     "description": "json_file (a document with records), json_inline (JSON "
                                    "lines) or text (lines); text by default, as in Wazuh."},
    "tag": {"type": "string", "default": "azure-storage"},
    "max_concurrency": {"type": "integer", "minimum": 1, "default": 8},
    "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 60},
    "retries": {"type": "integer", "minimum": 0, "default": 3},
    **_WINDOW,
}}
LOG_ANALYTICS = {"type": "object", "required": ["workspace", "query", "tenant_id", "client_id",
                                                "client_secret"], "properties": {
    "workspace": {"type": "string", "minLength": 1},
    "query": {"type": "string", "minLength": 1},
    "endpoint": {"type": "string", "default": LOG_ANALYTICS_ENDPOINT},
    "tag": {"type": "string", "default": "azure-log-analytics"},
    **_APP, **_WINDOW,
}}
GRAPH = {"type": "object", "required": ["tenant_id", "client_id", "client_secret"], "properties": {
    "query": {**_TEXT, "description": "An Entra ID log, e.g. auditLogs/signIns (azure-ad-graph events)."},
    "resource": {**_TEXT, "description": "An ms-graph resource, e.g. security."},
    "relationship": {**_TEXT, "description": "Its relationship, e.g. alerts_v2 or incidents."},
    "tag": {"type": "string", "default": "azure-ad-graph"},
    "time_field": {**_TEXT, "description": "The time property to filter on (default per collection)."},
    "endpoint": {"type": "string", "default": GRAPH_ENDPOINT},
    "version": {"type": "string", "default": "v1.0"},
    "only_future_events": {
        "type": ["boolean", "null"], "default": None,
        "description": "The first run reads no history, only later events (unless "
                       "only_logs_after or time_offset say where to start). Default: yes "
                       "for an ms-graph resource, as in Wazuh's ms-graph module; no for a query."},
    **_APP, **_WINDOW,
}}

SECTION = ConfigSection("azure", description="Azure Blob Storage, Log Analytics and Microsoft Graph.",
                        schema={"type": "object", "properties": {
    "interval": {"type": "number", "exclusiveMinimum": 0, "default": 600,
                 "description": "Seconds between runs of each source."},
    "storage": {"type": "array", "default": [], "items": STORAGE},
    "log_analytics": {"type": "array", "default": [], "items": LOG_ANALYTICS},
    "graph": {"type": "array", "default": [], "items": GRAPH},
}})


def credentials(entry: dict) -> AppCredentials:
    return AppCredentials(entry["tenant_id"], entry["client_id"], entry["client_secret"],
                          entry.get("authority") or DEFAULT_AUTHORITY)


def http_settings(entry: dict) -> HttpSettings:
    return HttpSettings(ca_file=entry.get("ca_file"), timeout=entry.get("timeout", 60),
                        max_retries=entry.get("max_retries", 5),
                        max_retry_wait=entry.get("max_retry_wait", 60))


def storage_source(entry: dict, interval: float) -> StorageSource:
    fields = {key: value for key, value in entry.items() if key in StorageSettings.__dataclass_fields__}
    return StorageSource(StorageSettings(**{**fields, "interval": entry.get("interval") or interval}))


def log_analytics_source(entry: dict, interval: float) -> LogAnalyticsSource:
    return LogAnalyticsSource(LogAnalyticsSettings(
        workspace=entry["workspace"], query=entry["query"], credentials=credentials(entry),
        endpoint=entry.get("endpoint") or LOG_ANALYTICS_ENDPOINT, scope=entry.get("scope"),
        tag=entry.get("tag") or "azure-log-analytics", only_logs_after=entry.get("only_logs_after"),
        time_offset=entry.get("time_offset"), ingestion_delay=entry.get("ingestion_delay", 60),
        max_window=entry.get("max_window", 86400), interval=entry.get("interval") or interval,
        http=http_settings(entry)))


def graph_source(entry: dict, interval: float) -> GraphSource:
    return GraphSource(GraphSettings(
        credentials=credentials(entry), query=entry.get("query"), resource=entry.get("resource"),
        relationship=entry.get("relationship"), tag=entry.get("tag") or "azure-ad-graph",
        time_field=entry.get("time_field"), endpoint=entry.get("endpoint") or GRAPH_ENDPOINT,
        version=entry.get("version") or "v1.0", scope=entry.get("scope"),
        only_logs_after=entry.get("only_logs_after"), time_offset=entry.get("time_offset"),
        only_future_events=(bool(entry.get("resource")) if entry.get("only_future_events") is None
                            else entry["only_future_events"]),
        ingestion_delay=entry.get("ingestion_delay", 60), max_window=entry.get("max_window", 86400),
        interval=entry.get("interval") or interval, http=http_settings(entry)))


def build_sources(section: dict) -> list[Source]:
    """Every configured source. An entry that cannot be used is logged with its place
    in the section and left out; the others run. Sources of one application and
    scope share its token."""
    interval = section["interval"]
    shared: dict[tuple, TokenProvider] = {}
    sources: list[Source] = []
    builders = (("storage", storage_source), ("log_analytics", log_analytics_source),
                ("graph", graph_source))
    for kind, build in builders:
        for index, entry in enumerate(section[kind]):
            try:
                source = build(entry, interval)
                if hasattr(source, "tokens"):
                    key = (source.tokens.credentials, source.tokens.scope)
                    source.tokens = shared.setdefault(key, source.tokens)
            except ValueError as exc:
                log.error("azure.%s[%d]: %s; this source is not started", kind, index, exc)
                continue
            if any(existing.name == source.name for existing in sources):
                log.error("azure.%s[%d]: another source already reads %s; this one is not started",
                          kind, index, source.name)
                continue
            sources.append(source)
    return sources
