"""``wazuhd docker listen`` and ``wazuhd docker inventory``: the sources without a daemon.

Both print (``--stdout``) or queue (``--home``) events through
:func:`wazuhd.collect.run_standalone`, which stops cleanly on SIGINT/SIGTERM. ``listen``
keeps reconnecting while the engine is away and stops on its own at ``--until``.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from datetime import datetime, timezone

from wazuhd import collect
from wazuhd_docker.engine import EngineSettings, TlsSettings
from wazuhd_docker.inventory import InventorySource
from wazuhd_docker.listener import NS, EventsSource
from wazuhd_docker.settings import FILTER_NAMES

_DURATION = re.compile(r"^(\+)?(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, now: float | None = None) -> int:
    """A point in time, in ns since the epoch: a Unix timestamp (``1764180000.5``), an
    ISO 8601 date/time (UTC unless it says otherwise), a duration ago as docker reads it
    (``10m``), or a duration from now (``+30s``)."""
    now = time.time() if now is None else now
    text = text.strip()
    match = _DURATION.match(text)
    if match:
        seconds = float(match.group(2)) * _UNITS[match.group(3)]
        return int((now + seconds if match.group(1) else now - seconds) * NS)
    try:
        return int(round(float(text) * NS))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: use a Unix timestamp, an ISO 8601 date/time, "
            f"a duration ago (10m) or from now (+30s)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * NS)


def parse_filter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not value or name not in FILTER_NAMES:
        raise argparse.ArgumentTypeError(
            f"invalid filter {text!r}: expected NAME=VALUE with NAME one of {', '.join(FILTER_NAMES)}")
    return name, value


def _engine_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--docker-host", metavar="URL", default="",
                        help="the engine (unix:///var/run/docker.sock, tcp://host:2376); "
                             "default: DOCKER_HOST, else the local socket")
    parent.add_argument("--name", default="",
                        help="the engine's name for checkpoints (default: the URL, or "
                             "'default'); the daemon's docker.engines[].name shares them")
    parent.add_argument("--tls", action="store_true", help="use TLS (tcp:// engines)")
    parent.add_argument("--tlsverify", action="store_true",
                        help="use TLS and verify the engine's certificate")
    parent.add_argument("--tlscacert", metavar="FILE", default="")
    parent.add_argument("--tlscert", metavar="FILE", default="")
    parent.add_argument("--tlskey", metavar="FILE", default="")
    return parent


def configure_docker(parser) -> None:
    sub = parser.add_subparsers(dest="docker_command", metavar="ACTION", required=True)
    parents = [collect.standalone_parent(), _engine_options()]
    listen = sub.add_parser("listen", parents=parents,
                            help="follow the engine's events until interrupted (or --until)")
    listen.add_argument("--since", type=parse_time, metavar="TIME",
                        help="start here when no checkpoint is later (timestamp, ISO date, "
                             "10m ago); default: the checkpoint, else now")
    listen.add_argument("--until", type=parse_time, metavar="TIME",
                        help="stop on its own at this time (timestamp, ISO date, +30s)")
    listen.add_argument("--filter", type=parse_filter, action="append", default=[],
                        metavar="NAME=VALUE", help="docker's event filters, e.g. type=container, "
                                                   "event=start, label=env=prod (repeatable)")
    listen.add_argument("--interval", type=float, default=5.0,
                        help="seconds before reconnecting (doubling up to --max-backoff)")
    listen.add_argument("--max-backoff", type=float, default=60.0)
    sub.add_parser("inventory", parents=parents,
                   help="report the running containers once (image, command, ports, "
                        "privileged, mounts)")


def engine_from_args(args) -> EngineSettings:
    tls = TlsSettings(enabled=bool(args.tls or args.tlsverify or args.tlscacert or args.tlscert),
                      verify=args.tlsverify, ca_cert=args.tlscacert,
                      client_cert=args.tlscert, client_key=args.tlskey)
    return EngineSettings(name=args.name or args.docker_host or "default",
                          url=args.docker_host, tls=tls)


def show_state_changes() -> None:
    """Connection state changes on stderr, as the daemon would log them."""
    logger = logging.getLogger("wazuhd.docker")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("wazuhd: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def run_docker(args) -> int:
    show_state_changes()
    engine = engine_from_args(args)
    if args.docker_command == "inventory":
        return collect.run_standalone(InventorySource(engine), args)
    filters: dict[str, list[str]] = {}
    for name, value in args.filter:
        filters.setdefault(name, []).append(value)
    source = EventsSource(engine, filters=filters, interval=args.interval,
                          max_backoff=args.max_backoff, since_nano=args.since,
                          until_nano=args.until)
    return collect.run_standalone(source, args)
