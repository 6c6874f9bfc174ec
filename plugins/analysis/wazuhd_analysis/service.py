"""Analysis inside the daemon: the event consumer, alert fan-out and hot reload.

Events arrive on the host's bounded channel and are analysed in batches in a
worker thread, so the trio loop (API, sockets) stays responsive. A reload
builds the new ruleset off to the side and swaps it in between two batches:
no event is lost and a ruleset that fails to load leaves the running one.
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

import trio

from wazuhd.errors import WazuhError
from wazuhd_analysis.engine import Engine, Ruleset, RulesetConfig
from wazuhd_analysis.errors import RulesetError
from wazuhd_analysis.outputs import AlertWriter

log = logging.getLogger("wazuhd.analysis")

BATCH = 512
STARTER_RULESET = Path(str(resources.files("wazuhd_analysis").joinpath("ruleset")))


#: The user directories (Wazuh's etc/decoders, etc/rules, etc/lists): where files uploaded
#: through the API go; config key -> default, relative to etc/.
USER_DIRS = {"user_decoder_dir": "decoders", "user_rule_dir": "rules", "user_list_dir": "lists"}


def user_dirs(section: dict, home_etc: Path) -> dict[str, Path]:
    """``{"decoders": Path, "rules": Path, "lists": Path}``: the user directories of the config."""
    out = {}
    for key, default in USER_DIRS.items():
        value = Path(section.get(key) or default)
        out[default] = value if value.is_absolute() else home_etc / value
    return out


def ruleset_config(section: dict, home_etc: Path,
                   plugin_rulesets: dict[str, Path] | None = None) -> RulesetConfig:
    """ossec.conf's <ruleset> names -> the engine's config; relative paths are under etc/.

    The starter ruleset's decoders and rules come after the configured directories,
    so a loaded Wazuh ruleset decodes and matches first; its template rule comes
    before them, so rules of a local directory always have a root to hang from.
    Other plugins' starter directories (``wazuhd_ruleset``) follow the analysis
    plugin's own, in plugin order.
    The user directories (etc/decoders, etc/rules, etc/lists, when they exist) load
    after the configured ones, as Wazuh loads etc/ after ruleset/.
    """
    def resolve(paths):
        return [str(p if Path(p).is_absolute() else home_etc / p) for p in paths]

    decoder_dirs, rule_dirs = resolve(section["decoder_dirs"]), resolve(section["rule_dirs"])
    lists = resolve(section["list_files"])
    users = user_dirs(section, home_etc)
    for kind, target in (("decoders", decoder_dirs), ("rules", rule_dirs), ("lists", lists)):
        path = str(users[kind])
        if os.path.isdir(path) and path not in target:
            target.append(path)
    if section["builtin"]:
        rule_dirs.insert(0, str(STARTER_RULESET / "templates"))
        decoder_dirs.append(str(STARTER_RULESET / "decoders"))
        rule_dirs.append(str(STARTER_RULESET / "rules"))
        for directory in (plugin_rulesets or {}).values():
            for kind, target in (("decoders", decoder_dirs), ("rules", rule_dirs),
                                 ("lists", lists)):
                if (directory / kind).is_dir():
                    target.append(str(directory / kind))
    return RulesetConfig(decoder_dirs=decoder_dirs, rule_dirs=rule_dirs,
                         list_files=[p for p in lists if not os.path.isdir(p)],
                         list_dirs=[p for p in lists if os.path.isdir(p)],
                         decoder_exclude=section["decoder_exclude"],
                         rule_exclude=section["rule_exclude"])


def plugin_rulesets(plugins) -> dict[str, Path]:
    """Every plugin's ``wazuhd_ruleset`` directory, by plugin name."""
    out = {}
    for plugin, directory in plugins.collect("wazuhd_ruleset"):
        path = Path(directory)
        if path.is_dir():
            out[plugin] = path.absolute()
        else:
            log.warning("plugin %s offers a ruleset directory that does not exist: %s",
                        plugin, path)
    return out


class AnalysisService:
    def __init__(self, ctx):
        self.ctx = ctx
        config = ctx.config["analysis"]
        self.user_dirs = user_dirs(config["ruleset"], ctx.home.etc)
        for directory in self.user_dirs.values():
            directory.mkdir(parents=True, exist_ok=True)
        self.plugin_rulesets = plugin_rulesets(ctx.plugins)
        self.config = ruleset_config(config["ruleset"], ctx.home.etc, self.plugin_rulesets)
        #: Held while files of the user directories change and while a reload runs.
        self.lock = trio.Lock()
        alerts = config["alerts"]
        self.writer = AlertWriter(ctx.home.logs, log_alert_level=alerts["log_alert_level"],
                                  formats=alerts["formats"], archives=config["archives"]["enabled"],
                                  max_size=alerts["max_size"])
        self.ruleset: Ruleset | None = None
        self.engine: Engine | None = None
        self.counters = {"received": 0, "decoded": 0, "alerts": 0, "written": 0, "reloads": 0,
                         "reload_failures": 0}

    def stats(self) -> dict:
        ruleset = self.ruleset
        return {**self.counters,
                "decoder_files": len(ruleset.sources["decoders"]) if ruleset else 0,
                "rule_files": len(ruleset.sources["rules"]) if ruleset else 0}

    async def load(self, config: RulesetConfig | None = None) -> Ruleset:
        """Load the configured ruleset (or ``config``) off the loop; raises WazuhError
        1201 naming the file, line and rule or decoder on a problem."""
        try:
            ruleset = await trio.to_thread.run_sync(Ruleset.load, config or self.config)
        except RulesetError as exc:
            raise WazuhError(1201, str(exc)) from exc
        return ruleset

    async def reload(self) -> Ruleset:
        """Swap in a freshly loaded ruleset; on failure keep the running one."""
        try:
            ruleset = await self.load()
        except WazuhError:
            self.counters["reload_failures"] += 1
            raise
        self.swap(ruleset)
        return ruleset

    def swap(self, ruleset: Ruleset) -> None:
        """Put a loaded ruleset in service: the consumer takes it for its next batch
        (the batch being analysed finishes with the old one, so no event is lost)."""
        self.ruleset, self.engine = ruleset, Engine(ruleset)
        self.counters["reloads"] += 1
        log.info("ruleset reloaded: %d decoder files, %d rule files",
                 len(ruleset.sources["decoders"]), len(ruleset.sources["rules"]))

    async def consume(self, receive_channel: trio.MemoryReceiveChannel, *,
                      task_status=trio.TASK_STATUS_IGNORED) -> None:
        self.ruleset = await self.load()
        self.engine = Engine(self.ruleset)
        task_status.started()
        try:
            async with receive_channel:
                while True:
                    try:
                        batch = [await receive_channel.receive()]
                    except trio.EndOfChannel:
                        return
                    while len(batch) < BATCH:
                        try:
                            batch.append(receive_channel.receive_nowait())
                        except (trio.WouldBlock, trio.EndOfChannel):
                            break
                    alerts = await trio.to_thread.run_sync(self._analyse, self.engine, batch)
                    # Enrichers (e.g. MITRE) change the alert before it is written.
                    for alert, _ in alerts:
                        self.ctx.plugins.call_each("wazuhd_alert", alert=alert)
                    await trio.to_thread.run_sync(self._write, alerts)
        finally:
            self.writer.close()

    def _analyse(self, engine: Engine, batch: list) -> list[tuple[dict, bool]]:
        """Worker thread: run a batch through the engine; (alert, to be written) pairs."""
        alerts = []
        for event in batch:
            result = engine.process(event.message, event.location, now=event.received)
            self.counters["received"] += 1
            if result.decoder_name:
                self.counters["decoded"] += 1
            if self.writer.archives is not None:
                self.writer.archive({"location": event.location, "full_log": event.message,
                                     "decoder": result.decoder_name})
            if result.alert is None:
                continue
            self.counters["alerts"] += 1
            alerts.append((result.alert, result.should_log and self.writer.wants(result.alert)))
        return alerts

    def _write(self, alerts: list[tuple[dict, bool]]) -> None:
        wanted = [alert for alert, keep in alerts if keep]
        self.writer.write(wanted)
        self.counters["written"] += len(wanted)
