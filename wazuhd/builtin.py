"""The host's own behaviour, written as a plugin of the same hooks as any other.

It owns the host's config sections, the ``control`` socket's commands and
the default event consumer (``trylast``: the analysis plugin replaces it).
"""

from __future__ import annotations

import logging
from collections import Counter

import trio

from wazuhd import hookimpl, rbac
from wazuhd.config import ConfigSection
from wazuhd.sockets import DEFAULT_MAX_FRAME, SocketCommand

log = logging.getLogger("wazuhd")
events_log = logging.getLogger("wazuhd.events")


def _object(**properties) -> dict:
    return {"type": "object", "properties": properties}


SECTIONS = [
    ConfigSection("daemon", description="How the daemon runs.", schema=_object(
        shutdown_timeout={
            "type": "number", "exclusiveMinimum": 0, "default": 5,
            "description": "Seconds a graceful stop may take before the daemon exits anyway.",
        },
    )),
    ConfigSection("plugins", description="Which plugins run.", schema=_object(
        disabled={
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Plugins (entry-point names) not to load.",
        },
        required={
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Plugins without which the daemon must not start.",
        },
    )),
    ConfigSection("logging", description="The daemon's own log, logs/wazuhd.log and .json.",
                  schema=_object(
        level={"type": "string", "enum": ["debug", "info", "warning", "error"],
               "default": "info", "description": "Least severe level written."},
        format={"type": "array", "items": {"type": "string", "enum": ["plain", "json"]},
                "minItems": 1, "uniqueItems": True, "default": ["plain"],
                "description": "plain (logs/wazuhd.log), json (logs/wazuhd.json), or both."},
        rotation=_object(
            daily={"type": "boolean", "default": True,
                   "description": "Rotate at midnight into logs/wazuhd/YYYY/Mon/."},
            max_size={"type": "integer", "minimum": 0, "default": 0,
                      "description": "Also rotate when a file reaches this many bytes (0: off)."},
            compress={"type": "boolean", "default": True,
                      "description": "gzip rotated files."},
        ),
    )),
    ConfigSection("sockets", description="The framed Unix sockets under queue/sockets/.",
                  schema=_object(
        max_frame={"type": "integer", "minimum": 1024, "maximum": 1 << 30,
                   "default": DEFAULT_MAX_FRAME,
                   "description": "Largest request or event in bytes (Wazuh's OS_MAXSTR)."},
        idle_timeout={"type": "number", "exclusiveMinimum": 0, "default": 600,
                      "description": "Seconds an idle connection is kept open."},
        io_timeout={"type": "number", "exclusiveMinimum": 0, "default": 10,
                    "description": "Seconds to finish reading or writing a frame once started."},
    )),
    ConfigSection("queue", description="The channel between inputs and analysis.",
                  schema=_object(
        size={"type": "integer", "minimum": 1, "default": 16384,
              "description": "Events buffered before inputs wait for analysis."},
    )),
]


@hookimpl
def wazuhd_config_schema():
    return SECTIONS


@hookimpl
def wazuhd_db_migrations():
    from wazuhd import collect  # collect builds on the daemon, which builds on this module
    return rbac.MIGRATIONS + collect.MIGRATIONS


@hookimpl
def wazuhd_startup(ctx):
    added = rbac.ensure_defaults(ctx.store.db(rbac.DATABASE))
    if added:
        log.info("created %d default RBAC records (users wazuh and wazuh-wui, roles, policies, "
                 "rules)", added)


async def _ping(ctx, request):
    return "pong"


async def _status(ctx, request):
    return ctx.status()


async def _restart(ctx, request):
    ctx.request_restart()
    return "restarting"


@hookimpl
def wazuhd_socket_commands():
    return [
        SocketCommand("control", "ping", _ping, "Answer 'pong' (liveness check)."),
        SocketCommand("control", "status", _status,
                      "Version, pid, uptime, plugins, sockets and services."),
        SocketCommand("control", "restart", _restart,
                      "Stop gracefully and start again with the configuration on disk."),
    ]


class CountingConsumer:
    """Counts and logs events until an analysis plugin takes the channel over."""

    def __init__(self):
        self.by_queue: Counter[str] = Counter()

    async def __call__(self, receive_channel: trio.MemoryReceiveChannel, *,
                       task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async with receive_channel:
            async for event in receive_channel:
                self.by_queue[event.queue] += 1
                events_log.debug("event %s:%s: %.200s", event.queue, event.location, event.message)


def counting_consumer(ctx) -> CountingConsumer:
    """A counting consumer whose counts show as ``counters.events`` in the status."""
    consumer = CountingConsumer()
    ctx.add_counters("events", lambda: dict(consumer.by_queue))
    return consumer


@hookimpl(trylast=True)
def wazuhd_event_consumer(ctx):
    ctx.announce("events", "counted and logged (no analysis plugin installed)")
    return counting_consumer(ctx)
