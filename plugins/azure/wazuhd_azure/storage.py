"""Azure Blob Storage: read each new blob of a container once, one event per record.

Blobs are taken in (last modified, name) order; the checkpoint is the newest
last-modified time processed and the names read at that time, so a blob
written later, even within the same second, is still read and none is read
twice. The azure-storage-blob client is synchronous: listing and downloads run
in worker threads, several downloads at a time.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass

import requests
import trio
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import ContainerClient

from wazuhd.collect import CollectError, Run, Source
from wazuhd_azure.common import (AZURE_LOCATION, Watermark, iso, redact,
                                 window_start)

CONTENT_TYPES = ("json_file", "json_inline", "text")
#: Blobs downloaded, emitted and committed together.
BATCH_BLOBS = 64


class BlobFormatError(ValueError):
    """A blob is not what its container's content type says."""


@dataclass
class StorageSettings:
    """One container to read (Wazuh's ``<storage><container>``)."""

    container: str
    account_name: str | None = None
    account_key: str | None = None
    connection_string: str | None = None
    sas_token: str | None = None
    endpoint: str | None = None
    prefix: str = ""
    blobs: str = "*"
    content_type: str = "text"
    tag: str = "azure-storage"
    only_logs_after: str | None = None
    time_offset: str | None = None
    interval: float = 600.0
    max_concurrency: int = 8
    timeout: float = 60.0
    retries: int = 3

    @property
    def secrets(self) -> list[str | None]:
        return [self.account_key, self.connection_string, self.sas_token]


def container_client(settings: StorageSettings) -> ContainerClient:
    """The client for one of the three ways to sign in; no request is made yet."""
    # One pooled connection per concurrent download (requests keeps 10 by default).
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=settings.max_concurrency)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    options = {"retry_total": settings.retries, "connection_timeout": settings.timeout,
               "read_timeout": settings.timeout,
               "transport": RequestsTransport(session=session, session_owner=True)}
    if settings.connection_string:
        return ContainerClient.from_connection_string(
            settings.connection_string, settings.container, **options)
    if not settings.account_name:
        raise ValueError("azure storage: give a connection string, or an account name with "
                         "an account key or a SAS token")
    url = settings.endpoint or f"https://{settings.account_name}.blob.core.windows.net"
    if settings.account_key:
        credential: object = {"account_name": settings.account_name,
                              "account_key": settings.account_key}
    elif settings.sas_token:
        credential = settings.sas_token.lstrip("?")
    else:
        raise ValueError(f"azure storage: account {settings.account_name!r} needs an "
                         f"account key or a SAS token")
    return ContainerClient(url.rstrip("/"), settings.container, credential=credential, **options)


def name_matches(pattern: str, name: str) -> bool:
    """Wazuh's ``<blobs>``: a wildcard pattern (on the whole name or its last part), or
    else an ending such as ``.json``; empty or ``*`` takes every blob."""
    if pattern in ("", "*"):
        return True
    if any(char in pattern for char in "*?["):
        return (fnmatch.fnmatchcase(name, pattern)
                or fnmatch.fnmatchcase(name.rsplit("/", 1)[-1], pattern))
    return name.endswith(pattern)


def tagged(record: dict, tag: str) -> dict:
    return {**record, "azure_tag": "azure-storage", "azure_storage_tag": tag}


def parse_blob(data: bytes, content_type: str, tag: str) -> tuple[list[dict | str], list[str]]:
    """The events of one blob and what was wrong with parts of it (a JSON line that
    is not an object, ...). A blob that cannot be read at all raises BlobFormatError.

    JSON records get the tags as fields; a text line is sent as Wazuh sends it,
    ``azure_tag: azure-storage. azure_storage_tag: <tag>. <line>``, which Wazuh's
    ``azure-storage`` decoder reads."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BlobFormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if content_type == "json_file":
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise BlobFormatError(f"not a JSON document ({exc})") from None
        records = document.get("records") if isinstance(document, dict) else None
        if not isinstance(records, list):
            raise BlobFormatError('not a JSON document with a "records" array')
        problems = [f"record {number} is not a JSON object"
                    for number, record in enumerate(records, 1) if not isinstance(record, dict)]
        return [tagged(r, tag) for r in records if isinstance(r, dict)], problems
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)]
    lines = [(number, line) for number, line in lines if line]
    if content_type == "text":
        return [f"azure_tag: azure-storage. azure_storage_tag: {tag}. {line}"
                for _, line in lines], []
    events: list[dict | str] = []
    problems = []
    for number, line in lines:
        try:
            record = json.loads(line)
        except ValueError as exc:
            problems.append(f"line {number} is not JSON ({exc})")
            continue
        if isinstance(record, dict):
            events.append(tagged(record, tag))
        else:
            problems.append(f"line {number} is not a JSON object")
    return events, problems


class StorageSource(Source):
    """One container (and prefix) of one storage account."""

    def __init__(self, settings: StorageSettings):
        if settings.content_type not in CONTENT_TYPES:
            raise ValueError(f"azure storage: content type {settings.content_type!r} is not "
                             f"one of {', '.join(CONTENT_TYPES)}")
        self.settings = settings
        self.client = container_client(settings)
        where = f"{self.client.account_name}/{settings.container}"
        self.name = f"azure-storage:{where}" + (f"/{settings.prefix}" if settings.prefix else "")
        self.location = AZURE_LOCATION
        self.interval = settings.interval

    def _failure(self, action: str, exc: Exception) -> CollectError:
        message = getattr(exc, "message", None) or str(exc)
        first_line = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
        return CollectError(redact(f"{action}: {first_line}", self.settings.secrets))

    def _list(self) -> list[tuple[str, str]]:
        try:
            return [(iso(blob.last_modified), blob.name) for blob in
                    self.client.list_blobs(name_starts_with=self.settings.prefix or None)]
        except AzureError as exc:
            raise self._failure(f"cannot list container {self.settings.container!r}", exc) from None

    def _read(self, name: str) -> tuple[list[dict | str], list[str]] | BlobFormatError | None:
        """Download and parse one blob (in a worker thread): its events and problems,
        the reason it cannot be parsed, or None when it is gone."""
        try:
            data = self.client.download_blob(name).readall()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self._failure(f"cannot read blob {self.settings.container}/{name}", exc) from None
        try:
            return parse_blob(data, self.settings.content_type, self.settings.tag)
        except BlobFormatError as exc:
            return exc

    async def _read_all(self, names: list[str]) -> list:
        """``_read`` of every name, ``max_concurrency`` at a time, in the names' order."""
        results: list = [None] * len(names)
        failures: list[CollectError] = []
        limiter = trio.CapacityLimiter(self.settings.max_concurrency)

        async def fetch(index: int, name: str):
            try:
                results[index] = await trio.to_thread.run_sync(self._read, name, limiter=limiter)
            except CollectError as exc:
                failures.append(exc)

        async with trio.open_nursery() as nursery:
            for index, name in enumerate(names):
                nursery.start_soon(fetch, index, name)
        if failures:
            raise failures[0]
        return results

    async def collect(self, run: Run) -> None:
        settings = self.settings
        mark = Watermark.from_checkpoint(await run.checkpoint())
        start = window_start(settings.only_logs_after, settings.time_offset)
        floor = iso(start) if start else ""
        listed = await trio.to_thread.run_sync(self._list)
        pending = sorted((when, name) for when, name in listed
                         if when >= floor and mark.is_new(when, name)
                         and name_matches(settings.blobs, name))
        for first in range(0, len(pending), BATCH_BLOBS):
            batch = pending[first:first + BATCH_BLOBS]
            results = await self._read_all([name for _, name in batch])
            events: list[dict | str] = []
            for (when, name), result in zip(batch, results):
                events.extend(self._events(run, name, result))
                mark.advance(when, name)
            await run.deliver(events, "", mark.as_checkpoint())
            run.count("blobs", len(batch))

    def _events(self, run: Run, name: str, result) -> list[dict | str]:
        """The events of a read blob; what was wrong with it is counted and logged."""
        where = f"blob {self.settings.container}/{name}"
        if result is None:
            run.warn(f"{where} was deleted before it could be read; skipped")
            return []
        if isinstance(result, BlobFormatError):
            run.count("corrupt_blobs")
            run.warn(f"{where} is not {self.settings.content_type}: {result}; skipped")
            return []
        events, problems = result
        for problem in problems:
            run.count("corrupt_records")
            run.warn(f"{where}: {problem}; skipped")
        return events
