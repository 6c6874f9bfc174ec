"""Event inputs of the analysis plugin: syslog listeners and tailed files.

They only produce :class:`wazuhd.events.Event` objects into the daemon's
event channel (``ctx.event_sender()``); they know nothing of the engine.
For the plugin's hookimpls:

- ``CONFIG_SCHEMAS``: the ``syslog`` and ``localfile`` config sections;
- ``MIGRATIONS``: the store tables (database ``analysis_inputs``);
- ``services(ctx)``: one service per syslog listener and per tailed file,
  each with its counters registered as ``syslog:<proto>:<bind>:<port>`` or
  ``localfile:<path>``.
"""

from __future__ import annotations

from wazuhd.config import defaults_of, fill_defaults
from wazuhd.daemon import Service

from .syslog import SyslogListener
from .tail import DATABASE, MIGRATIONS, FileInput

__all__ = ["CONFIG_SCHEMAS", "MIGRATIONS", "services"]

_LISTENER = {
    "type": "object",
    "properties": {
        "protocol": {"enum": ["udp", "tcp"], "default": "udp"},
        "bind": {"type": "string", "default": "0.0.0.0",
                 "description": "address to listen on ('::' for IPv6 and IPv4)"},
        "port": {"type": "integer", "minimum": 0, "maximum": 65535, "default": 514},
        "allowed_ips": {"type": "array", "items": {"type": "string"},
                        "default": ["127.0.0.1", "::1"],
                        "description": "senders accepted (IPs or CIDRs, e.g. 10.0.0.0/8); "
                                       "others are refused and counted"},
        "denied_ips": {"type": "array", "items": {"type": "string"}, "default": [],
                       "description": "senders refused even when in allowed_ips"},
        "max_size": {"type": "integer", "minimum": 1, "default": 65536,
                     "description": "longest message in bytes; longer ones are dropped"},
        "rfc5424": {"enum": ["header", "raw"], "default": "header",
                    "description": "header: rewrite RFC 5424 lines to the "
                                   "'<timestamp> <host> <app>[<procid>]: ' header Wazuh's "
                                   "pre-decoder reads; raw: strip <PRI> only, as remoted does"},
        "buffer": {"type": "integer", "minimum": 1, "default": 4096,
                   "description": "UDP only: datagrams held while analysis is behind; "
                                  "beyond it they are dropped and counted"},
    },
}

_FILE = {
    "type": "object",
    "required": ["location"],
    "properties": {
        "location": {"type": "string", "minLength": 1, "description": "the file's path"},
        "log_format": {"type": "string", "default": "syslog",
                       "pattern": r"^(syslog|json|multi-line-regex|multi-line:\s*[1-9]\d*)$",
                       "description": "syslog | json | multi-line:N | multi-line-regex"},
        "only_future_events": {"type": "boolean", "default": True,
                               "description": "first time the file is seen: start at its end "
                                              "(a saved position is always resumed)"},
        "max_size": {"type": "integer", "minimum": 1, "default": 65536,
                     "description": "longer lines are cut to this many bytes"},
        "multiline_regex": {
            "type": "object",
            "description": "log_format multi-line-regex: regex (required), match, replace, "
                           "timeout (seconds before a held event is sent)",
            "properties": {
                "regex": {"type": "string", "minLength": 1},
                "match": {"enum": ["start", "end", "all"], "default": "start"},
                "replace": {"enum": ["no-replace", "none", "wspace", "tab"],
                            "default": "no-replace"},
                "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 5},
            },
        },
    },
}

CONFIG_SCHEMAS: dict[str, dict] = {
    "syslog": {
        "type": "object",
        "properties": {
            "enabled": {"type": "boolean", "default": False},
            "listeners": {"type": "array", "items": _LISTENER,
                          "default": [defaults_of(_LISTENER)]},
        },
    },
    "localfile": {
        "type": "object",
        "properties": {
            "poll_interval": {"type": "number", "exclusiveMinimum": 0, "default": 0.5,
                              "description": "seconds between checks of each file"},
            "files": {"type": "array", "items": _FILE, "default": []},
        },
    },
}


def services(ctx) -> list[Service]:
    """The inputs ``ctx.config`` asks for, their counters registered on ``ctx``."""
    inputs: list = []
    syslog_cfg = fill_defaults(CONFIG_SCHEMAS["syslog"], ctx.config.get("syslog"))
    if syslog_cfg["enabled"]:
        inputs += [SyslogListener.from_config(listener, ctx.event_sender)
                   for listener in syslog_cfg["listeners"]]
    files_cfg = fill_defaults(CONFIG_SCHEMAS["localfile"], ctx.config.get("localfile"))
    if files_cfg["files"]:
        db = ctx.store.db(DATABASE)
        inputs += [FileInput(entry, db=db, event_sender=ctx.event_sender,
                             poll_interval=files_cfg["poll_interval"])
                   for entry in files_cfg["files"]]
    names = [item.name for item in inputs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"inputs configured twice: {', '.join(duplicates)}")
    for item in inputs:
        ctx.add_counters(item.name, item.counters.as_dict)
    return [Service(item.name, item.run) for item in inputs]
