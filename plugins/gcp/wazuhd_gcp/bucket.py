"""Cloud Storage log buckets: the objects under a prefix, oldest first, one event per record.

The checkpoint of a bucket and prefix is the newest creation time read so far
plus the names already read at exactly that time (objects created in the
same microsecond are neither skipped nor read twice). It moves after each
object's events were emitted, then the object is removed if
``remove_from_bucket`` says so: a crash re-reads at most one object.
"""

from __future__ import annotations

import logging
import zlib
from datetime import datetime, timezone

import trio

from wazuhd.collect import Run, Source
from wazuhd_gcp import auth, records

log = logging.getLogger("wazuhd.gcp")

SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"]
#: Most records emitted at once (a large object goes in several batches).
BATCH = 1000
#: Seconds one listing page, download or delete may take.
RPC_TIMEOUT = 60.0


class BucketSource(Source):
    """One bucket and prefix of ``access_logs`` (CSV) or ``json`` (Cloud Logging sink) objects."""

    location = records.LOCATION

    def __init__(self, *, bucket_name: str, type: str, prefix: str = "",
                 only_logs_after: float | None = None, remove_from_bucket: bool = False,
                 credentials_file: str | None = None, project_id: str | None = None,
                 interval: float = 600.0, run_on_start: bool = True):
        if type not in records.PARSERS:
            raise ValueError(f"bucket type {type!r}: expected one of {', '.join(records.PARSERS)}")
        self.bucket_name = bucket_name
        self.type = type
        self.prefix = prefix
        self.only_logs_after = (datetime.fromtimestamp(only_logs_after, timezone.utc)
                                if only_logs_after is not None else None)
        self.remove_from_bucket = remove_from_bucket
        self.credentials_file = credentials_file
        self.project_id = project_id
        self.interval = interval
        self.run_on_start = run_on_start
        self.name = f"gcp-bucket:{bucket_name}/{prefix}"
        self.parse = records.PARSERS[type]
        self._started = False

    @property
    def where(self) -> str:
        return f"bucket {self.bucket_name}" + (f" (prefix {self.prefix!r})" if self.prefix else "")

    def client(self):
        from google.cloud import storage

        if self.credentials_file:
            credentials = auth.service_account(self.credentials_file, SCOPES)
            return storage.Client(project=self.project_id or credentials.project_id,
                                  credentials=credentials)
        if auth.emulated(auth.STORAGE_EMULATOR):
            return storage.Client.create_anonymous_client()
        return storage.Client(project=self.project_id)

    def new_objects(self, client, position: dict | None) -> list:
        """The objects not read yet, oldest first (by creation time, then name)."""
        newest = datetime.fromisoformat(position["newest"]) if position else None
        read_at_newest = set(position["names"]) if position else set()
        found = []
        for blob in client.list_blobs(self.bucket_name, prefix=self.prefix or None,
                                      timeout=RPC_TIMEOUT):
            created = blob.time_created
            if blob.name.endswith("/") or created is None:
                continue  # a folder placeholder
            if self.only_logs_after and created < self.only_logs_after:
                continue
            if newest and (created < newest or created == newest
                           and blob.name in read_at_newest):
                continue
            found.append(blob)
        found.sort(key=lambda blob: (blob.time_created, blob.name))
        return found

    async def collect(self, run: Run) -> None:
        if not self._started and not self.run_on_start:
            await trio.sleep(self.interval)
        self._started = True
        try:
            client = await trio.to_thread.run_sync(self.client)
            position = await run.checkpoint(self.prefix)
            objects = await trio.to_thread.run_sync(self.new_objects, client, position)
            for blob in objects:
                position = await self._read(run, blob, position)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a named error
            raise auth.explain(exc, self.where) from None

    async def _read(self, run: Run, blob, position: dict | None) -> dict:
        from google.api_core import exceptions as api

        try:
            data = await trio.to_thread.run_sync(
                lambda: blob.download_as_bytes(timeout=RPC_TIMEOUT))
        except api.NotFound:
            run.warn(f"{self.where}: object {blob.name} was removed before it was read")
            data = None
        last_batch = await self._emit(run, blob.name, data) if data is not None else []
        position = _advance(position, blob)
        await run.deliver(last_batch, self.prefix, position)
        run.count("objects")
        if self.remove_from_bucket and data is not None:
            try:
                await trio.to_thread.run_sync(lambda: blob.delete(timeout=RPC_TIMEOUT))
            except api.NotFound:
                pass
            except api.GoogleAPICallError as exc:
                run.warn(f"{self.where}: cannot remove {blob.name} after reading it: "
                         f"{auth.explain(exc, 'delete')}")
        return position

    async def _emit(self, run: Run, name: str, data: bytes) -> list:
        """Emit an object's records but the last batch, which is returned to be handed
        over with the object's checkpoint."""
        batch, unreadable = [], 0
        try:
            for record, readable in self.parse(data, name):
                batch.append(record)
                unreadable += not readable
                if len(batch) >= BATCH:
                    await run.emit(batch)
                    batch = []
        except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt gzip stream
            run.count("unreadable_objects")
            run.warn(f"{self.where}: object {name} cannot be read ({exc}); skipped")
            return batch
        if unreadable:
            run.count("unreadable", unreadable)
            log.warning("%s: %s: %d record(s) of %s do not parse as %s; sent as text",
                        self.name, self.where, unreadable, name, self.type)
        return batch


def _advance(position: dict | None, blob) -> dict:
    created = blob.time_created.isoformat()
    if position and position["newest"] == created:
        return {"newest": created, "names": sorted({*position["names"], blob.name})}
    return {"newest": created, "names": [blob.name]}
