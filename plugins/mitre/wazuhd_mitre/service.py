"""The daemon side: keep mitre.db current, keep the enrichment table in memory, notice imports."""

from __future__ import annotations

import logging

import trio

from wazuhd_mitre import core, importer, sources

log = logging.getLogger("wazuhd.mitre")

#: How long an API request waits for the first import of a new home.
READY_TIMEOUT = 120


class MitreRuntime:
    """What the hooks share: the database, the enricher, readiness and the item cache."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.db = ctx.store.db(core.DATABASE)
        settings = ctx.config["mitre"]
        self.source = sources.resolve_source(settings["source"], ctx.home.etc)
        self.interval = settings["reload_interval"]
        self.enricher = core.Enricher()
        self.cache = core.ItemCache()
        self.ready = trio.Event()
        self.import_id: str | None = None
        self.counters = {"imports": 0, "import_errors": 0, "reloads": 0}

    # -- in the trio thread or a worker -------------------------------------------------
    def _read_state(self, conn):
        """(import id, technique map) - the map only when the import changed, else None."""
        import_id = importer.read_metadata(conn).get("import_id")
        if import_id == self.import_id and self.enricher.loaded:
            return import_id, None
        return import_id, core.technique_map(conn)

    def reload_sync(self) -> None:
        import_id, techniques = self.db.read_sync(self._read_state)
        self._apply(import_id, techniques)

    def _apply(self, import_id, techniques) -> None:
        if techniques is not None:
            self.import_id = import_id
            self.enricher.update(techniques)
            self.counters["reloads"] += 1
            if techniques:
                log.info("MITRE ATT&CK data loaded: %d technique ids", len(techniques))
        if import_id is not None:
            self.ready.set()

    def stats(self) -> dict:
        return {**self.counters, "techniques": len(self.enricher.techniques),
                "unknown_ids": self.enricher.unknown}

    async def wait_ready(self) -> None:
        with trio.move_on_after(READY_TIMEOUT):
            await self.ready.wait()

    # -- the service ---------------------------------------------------------------------
    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            # Abandoned if the daemon stops meanwhile: the import is one transaction, so it
            # either committed or leaves the previous data.
            result = await trio.to_thread.run_sync(sources.ensure_current, self.db.path, self.source,
                                                   abandon_on_cancel=True)
        except (importer.BundleError, OSError, ValueError) as exc:
            self.counters["import_errors"] += 1
            log.error("MITRE ATT&CK import refused, the current data stays: %s", exc)
        else:
            if result.get("imported"):
                self.counters["imports"] += 1
                meta = result["metadata"]
                log.info("imported MITRE ATT&CK %s (%s) from %s: %s", meta.get("mitre_version"),
                         meta.get("domain"), meta.get("source"), result.get("counts"))
            elif result.get("reason"):
                log.info("MITRE ATT&CK data kept: %s", result["reason"])
        while True:
            import_id, techniques = await self.db.read(self._read_state)
            self._apply(import_id, techniques)
            if import_id is None:
                self.ready.set()  # nothing to wait for: answer with what there is
            await trio.sleep(self.interval)
