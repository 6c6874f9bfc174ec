"""Hook implementations of the analysis plugin (thin: the work is in the modules)."""

from __future__ import annotations

from wazuhd import hookimpl
from wazuhd.cli import CliCommand
from wazuhd.config import ConfigSection
from wazuhd.sockets import SocketCommand
from wazuhd_analysis import cli
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
    return SECTION


@hookimpl
def wazuhd_startup(ctx):
    service = ctx.runtime["analysis"] = AnalysisService(ctx)
    settings = ctx.config["analysis"]["logtest"]
    ctx.runtime["logtest"] = LogtestSessions(lambda: service.ruleset,
                                             timeout=settings["session_timeout"],
                                             max_sessions=settings["max_sessions"])
    ctx.add_counters("analysis", service.stats)


@hookimpl
def wazuhd_event_consumer(ctx):
    return ctx.runtime["analysis"].consume


async def _log_processing(ctx, request):
    params = request.parameters
    return ctx.runtime["logtest"].process(event=params.get("event"),
                                          log_format=params.get("log_format", "syslog"),
                                          location=params.get("location"),
                                          token=params.get("token"))


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
