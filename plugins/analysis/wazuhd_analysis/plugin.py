"""Hook implementations of the analysis plugin (thin: the work is in the modules)."""

from __future__ import annotations

from importlib import resources

import yaml

from wazuhd import hookimpl
from wazuhd.cli import CliCommand
from wazuhd.config import ConfigSection
from wazuhd.rbac import RbacAction
from wazuhd.sockets import SocketCommand
from wazuhd_analysis import cli, inputs
from wazuhd_analysis.catalog import Catalog
from wazuhd_analysis.ingest import RateLimit
from wazuhd_analysis.logtest import LogtestSessions
from wazuhd_analysis.service import AnalysisService

_PATHS = {"type": "array", "items": {"type": "string"}, "default": []}

SECTION = ConfigSection("analysis", description="Decoders, rules, alerts (ossec.conf's <ruleset>).",
                        schema={"type": "object", "properties": {
    "ruleset": {"type": "object", "properties": {
        "builtin": {"type": "boolean", "default": True,
                    "description": "Load wazuhd's starter ruleset first."},
        "decoder_dirs": {**_PATHS, "description": "Decoder directories, e.g. the Wazuh "
                                                  "ruleset's decoders/ (relative: under etc/)."},
        "rule_dirs": {**_PATHS, "description": "Rule directories, read in file-name order."},
        "list_files": {**_PATHS, "description": "CDB list files or directories."},
        "decoder_exclude": {**_PATHS, "description": "Decoder file names to skip."},
        "rule_exclude": {**_PATHS, "description": "Rule file names to skip."},
        "user_decoder_dir": {"type": "string", "default": "decoders",
                             "description": "User decoders (Wazuh's etc/decoders; relative: under "
                                            "etc/): PUT /decoders/files writes here. Created at start."},
        "user_rule_dir": {"type": "string", "default": "rules",
                          "description": "User rules (Wazuh's etc/rules): PUT /rules/files writes here."},
        "user_list_dir": {"type": "string", "default": "lists",
                          "description": "User CDB lists (Wazuh's etc/lists): PUT /lists/files writes here."},
    }},
    "api": {"type": "object", "properties": {
        "events_max_request_per_minute": {
            "type": "integer", "minimum": 0, "default": 30,
            "description": "Requests per minute POST /events accepts (Wazuh: 30; 0: no limit)."},
    }},
    "alerts": {"type": "object", "properties": {
        "log_alert_level": {"type": "integer", "minimum": 0, "maximum": 16, "default": 3,
                            "description": "Least rule level written to the alerts files."},
        "formats": {"type": "array", "items": {"type": "string", "enum": ["json", "plain"]},
                    "uniqueItems": True, "default": ["json", "plain"],
                    "description": "logs/alerts/alerts.json and/or alerts.log."},
        "max_size": {"type": "integer", "minimum": 0, "default": 0,
                     "description": "Also rotate at this many bytes (0: daily only)."},
    }},
    "archives": {"type": "object", "properties": {
        "enabled": {"type": "boolean", "default": False,
                    "description": "Keep every event in logs/archives/archives.json."},
    }},
    "logtest": {"type": "object", "properties": {
        "session_timeout": {"type": "number", "exclusiveMinimum": 0, "default": 900},
        "max_sessions": {"type": "integer", "minimum": 1, "default": 64},
    }},
}})


@hookimpl
def wazuhd_config_schema():
    return [SECTION, *(ConfigSection(name, schema, description=f"Event input: {name}.")
                       for name, schema in inputs.CONFIG_SCHEMAS.items())]


@hookimpl
def wazuhd_db_migrations():
    return inputs.MIGRATIONS


@hookimpl
def wazuhd_services(ctx):
    return inputs.services(ctx)


@hookimpl
def wazuhd_startup(ctx):
    service = ctx.runtime["analysis"] = AnalysisService(ctx)
    settings = ctx.config["analysis"]["logtest"]
    ctx.runtime["logtest"] = LogtestSessions(lambda: service.ruleset,
                                             timeout=settings["session_timeout"],
                                             max_sessions=settings["max_sessions"])
    ctx.add_counters("analysis", service.stats)
    ctx.runtime["analysis_catalog"] = Catalog(service, ctx.home.root)
    api = ctx.config["analysis"]["api"]
    ctx.runtime["analysis_events_limit"] = RateLimit(api["events_max_request_per_minute"])
    events = ctx.runtime["analysis_events_counters"] = {"requests": 0, "events": 0}
    ctx.add_counters("events_api", lambda: dict(events))


@hookimpl
def wazuhd_event_consumer(ctx):
    return ctx.runtime["analysis"].consume


async def _log_processing(ctx, request):
    params = request.parameters
    return ctx.runtime["logtest"].process(event=params.get("event"),
                                          log_format=params.get("log_format", "syslog"),
                                          location=params.get("location"),
                                          token=params.get("token"),
                                          rules_debug=bool((params.get("options") or {})
                                                           .get("rules_debug")))


async def _remove_session(ctx, request):
    return ctx.runtime["logtest"].remove(str(request.parameters.get("token")))


@hookimpl
def wazuhd_socket_commands():
    return [
        SocketCommand("logtest", "log_processing", _log_processing,
                      "Analyse one event in a logtest session (Wazuh's protocol)."),
        SocketCommand("logtest", "remove_session", _remove_session, "Close a logtest session."),
    ]


@hookimpl
def wazuhd_cli_commands():
    return [
        CliCommand("logtest", "try events against the ruleset (one per line on stdin)",
                   cli.configure_logtest, cli.run_logtest),
        CliCommand("ruleset", "ruleset tools: 'test' runs Wazuh-format .ini regression files",
                   cli.configure_ruleset, cli.run_ruleset),
    ]


def _action(name: str, description: str, resource: str, *endpoints: str) -> RbacAction:
    return RbacAction(name, description, [resource], list(endpoints))


@hookimpl
def wazuhd_rbac_actions():
    """Wazuh's actions for the analysis operations (the resource types are the host's)."""
    files = "/{kind}/files/{{filename}}"
    rules, decoders, lists = (files.format(kind=k) for k in ("rules", "decoders", "lists"))
    return [
        _action("rules:read", "Read rules files", "rule:file", "GET /rules", "GET /rules/groups",
                "GET /rules/requirement/{requirement}", "GET /rules/files", f"GET {rules}"),
        _action("rules:update", "Update or upload custom rule files", "*:*", f"PUT {rules}"),
        _action("rules:delete", "Delete custom rule files", "rule:file", f"PUT {rules}", f"DELETE {rules}"),
        _action("decoders:read", "Read decoders files", "decoder:file", "GET /decoders",
                "GET /decoders/files", "GET /decoders/parents", f"GET {decoders}"),
        _action("decoders:update", "Update or upload custom decoder files", "*:*", f"PUT {decoders}"),
        _action("decoders:delete", "Delete custom decoder files", "decoder:file", f"PUT {decoders}",
                f"DELETE {decoders}"),
        _action("lists:read", "Read CDB lists files", "list:file", "GET /lists", "GET /lists/files",
                f"GET {lists}"),
        _action("lists:update", "Update or upload CDB lists files", "*:*", f"PUT {lists}"),
        _action("lists:delete", "Delete CDB lists files", "list:file", f"PUT {lists}", f"DELETE {lists}"),
        _action("logtest:run", "Run logtest tool or end a logtest session", "*:*", "PUT /logtest",
                "DELETE /logtest/sessions/{token}"),
        _action("event:ingest", "Ingest events", "*:*", "POST /events"),
        _action("manager:read", "Read Wazuh manager configuration", "*:*", "PUT /manager/analysisd/reload"),
        _action("manager:restart", "Restart Wazuh managers", "*:*", "PUT /manager/analysisd/reload"),
    ]


@hookimpl
def wazuhd_api_routes():
    from wazuhd_analysis.api import ROUTES

    return ROUTES


@hookimpl
def wazuhd_openapi():
    return yaml.safe_load(resources.files("wazuhd_analysis").joinpath("openapi.yaml").read_text())
