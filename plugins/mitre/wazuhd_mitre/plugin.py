"""Hook implementations of the MITRE ATT&CK plugin (thin: the work is in the modules)."""

from __future__ import annotations

from importlib import resources

import yaml

from wazuhd import hookimpl
from wazuhd.cli import CliCommand
from wazuhd.config import ConfigSection
from wazuhd.daemon import Service
from wazuhd.rbac import RbacAction
from wazuhd.store import Migration
from wazuhd_mitre import api, cli, core, importer
from wazuhd_mitre.service import MitreRuntime

#: The running daemons' enrichers (the alert hook gets no ctx); one per daemon in practice.
_ENRICHERS: dict = {}

SECTION = ConfigSection("mitre", description="MITRE ATT&CK data (Wazuh's mitre.db).", schema={
    "type": "object",
    "properties": {
        "source": {"type": "string", "default": "",
                   "description": "A STIX bundle (enterprise-attack.json) to load instead of the packaged "
                                  "ATT&CK data; relative paths are under etc/. Re-imported when its hash changes."},
        "reload_interval": {"type": "number", "exclusiveMinimum": 0, "default": 5,
                            "description": "Seconds between checks for an import made by 'wazuhd mitre import'."},
    },
})


@hookimpl
def wazuhd_config_schema():
    return SECTION


@hookimpl
def wazuhd_db_migrations():
    return [Migration(core.DATABASE, "mitre-0001-tables", sql=importer.SCHEMA)]


@hookimpl
def wazuhd_startup(ctx):
    runtime = ctx.runtime["mitre"] = MitreRuntime(ctx)
    runtime.reload_sync()
    ctx.add_counters("mitre", runtime.stats)
    _ENRICHERS[id(ctx)] = runtime.enricher


@hookimpl
def wazuhd_shutdown(ctx):
    _ENRICHERS.pop(id(ctx), None)


@hookimpl
def wazuhd_services(ctx):
    return [Service("mitre", ctx.runtime["mitre"].run)]


@hookimpl
def wazuhd_rbac_actions():
    return [RbacAction("mitre:read", "Access information from MITRE database", ["*:*"],
                       [f"GET {route.path}" for route in api.ROUTES],
                       {"actions": ["mitre:read"], "resources": ["*:*:*"], "effect": "allow"})]


@hookimpl
def wazuhd_api_routes():
    return api.ROUTES


@hookimpl
def wazuhd_openapi():
    return yaml.safe_load(resources.files("wazuhd_mitre").joinpath("openapi.yaml").read_text())


@hookimpl(tryfirst=True)
def wazuhd_alert(alert):
    # The alert hook has no ctx: the runtime registers its enricher at startup.
    for enricher in _ENRICHERS.values():
        enricher.enrich(alert)


@hookimpl
def wazuhd_cli_commands():
    return [CliCommand("mitre", "MITRE ATT&CK: 'show T1110', 'import enterprise-attack.json'",
                       cli.configure_mitre, cli.run_mitre)]
