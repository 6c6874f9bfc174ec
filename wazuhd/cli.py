"""The ``wazuhd`` command. Plugins add subcommands through ``wazuhd_cli_commands``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Callable

import wazuhd
from wazuhd import daemon
from wazuhd import config as config_mod
from wazuhd.config import ConfigError
from wazuhd.home import Home
from wazuhd.plugins import PluginHost, make_plugin_host
from wazuhd.sockets import SocketClient

# LSB exit codes for "status".
STATUS_NOT_RUNNING = 3


@dataclass(frozen=True)
class CliCommand:
    """A ``wazuhd NAME`` subcommand.

    ``configure(parser)`` adds its arguments (and nested subparsers if it
    wants them); ``run(args)`` does the work and returns the exit code.
    ``args.home`` is always set (``--home``, else ``$WAZUHD_HOME``, else
    ``./var/wazuhd``).
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def home_parent(help: str = "wazuhd home") -> argparse.ArgumentParser:
    """The ``--home`` option as a parent parser. Every ``wazuhd`` subcommand has it; a
    plugin's nested subcommands (``wazuhd mitre show``) take ``parents=[home_parent()]``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                        help=f"{help} (default: $WAZUHD_HOME, else ./var/wazuhd)")
    return parent


# -- the host's commands ------------------------------------------------------------


def _configure_start(parser):
    parser.add_argument("--daemon", action="store_true",
                        help="detach: double fork, write the pidfile, log to logs/")


def _run_start(args) -> int:
    home = Home.at(args.home)
    try:
        return daemon.start(home, daemonize=args.daemon)
    except (daemon.StartError, ConfigError) as exc:
        print(f"wazuhd: cannot start: {exc}", file=sys.stderr)
        return 1


def _run_stop(args) -> int:
    stopped, message = daemon.stop(Home.at(args.home), timeout=args.timeout)
    print(message, file=sys.stdout if stopped else sys.stderr)
    return 0 if stopped else 1


def _configure_stop(parser):
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for the daemon to exit (default 10)")


def _query_control(home: Home, command: str) -> dict:
    with SocketClient(home.socket(daemon.CONTROL_SOCKET), timeout=5) as client:
        return client.request(command)


def _run_restart(args) -> int:
    home = Home.at(args.home)
    pid = daemon.running_pid(home)
    if pid is None:
        print(f"wazuhd is not running on {home.root}", file=sys.stderr)
        return 1
    before = _query_control(home, "status")["started_at"]
    _query_control(home, "restart")
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            status = _query_control(home, "status")
        except OSError:
            continue
        if status["started_at"] != before and status["state"] == "running":
            print(f"wazuhd (pid {status['pid']}) restarted")
            return 0
    print(f"wazuhd did not come back within {args.timeout:g} s; see its log", file=sys.stderr)
    return 1


def _configure_json(parser):
    parser.add_argument("--json", action="store_true", help="print JSON")


def _run_status(args) -> int:
    home = Home.at(args.home)
    pid = daemon.running_pid(home)
    if pid is None:
        print(f"wazuhd is not running (home {home.root})")
        return STATUS_NOT_RUNNING
    try:
        status = _query_control(home, "status")
    except OSError as exc:
        print(f"wazuhd is running (pid {pid}) but its control socket does not answer: {exc}")
        return 1
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"wazuhd {status['version']} is running (pid {status['pid']}, "
          f"up {_duration(status['uptime'])}, home {status['home']})")
    loaded = [p["name"] for p in status["plugins"] if not p["error"]]
    print(f"  plugins: {', '.join(loaded)}")
    for plugin in status["plugins"]:
        if plugin["error"]:
            print(f"  FAILED plugin {plugin['name']}: {plugin['error']}")
    for name, sock in sorted(status["sockets"].items()):
        print(f"  socket {name}: {sock['path']}")
    for line in status["announcements"]:
        print(f"  {line}")
    for name, service in sorted(status["services"].items()):
        error = f" ({service['error']})" if service["error"] else ""
        print(f"  service {name}: {service['status']}{error}")
    for name, counters in sorted(status["counters"].items()):
        flat = {k: v for k, v in counters.items() if not isinstance(v, dict)}
        nested = {k: v for k, v in counters.items() if isinstance(v, dict)}
        if flat or not nested:
            print(f"  counters {name}: {_pairs(flat)}")
        for source, values in sorted(nested.items()):  # e.g. one line per pull source
            print(f"  counters {name} {source}: {_pairs(values)}")
    return 0


def _pairs(values: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(values.items())
                     if value is not None) or "-"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    return (f"{days}d " if days else "") + time.strftime("%H:%M:%S", time.gmtime(rest))


def _disabled_plugins(home: Home) -> set[str]:
    """``plugins.disabled`` of the home's config (an unreadable config disables nothing)."""
    try:
        selection = config_mod.read_raw(home.config_file).get("plugins") or {}
    except ConfigError:
        return set()
    names = selection.get("disabled") if isinstance(selection, dict) else None
    return {str(name) for name in names} if isinstance(names, list) else set()


def _run_plugins(args) -> int:
    home = Home.at(args.home)
    report = {p["name"]: p for p in args.plugin_host.report()}
    for name in _disabled_plugins(home) & set(report):
        report[name] = {**report[name], "hooks": [], "disabled": True}
    if daemon.running_pid(home) is not None:
        # The running daemon knows about failures that happened at run time.
        try:
            for plugin in _query_control(home, "status")["plugins"]:
                report[plugin["name"]] = plugin
        except OSError:
            pass
    rows = [report[name] for name in sorted(report)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = (f"FAILED: {row['error']}" if row["error"]
                 else "disabled (plugins.disabled)" if row.get("disabled") else "ok")
        print(f"{row['name']} {row['version']} ({row['distribution']}) {state}")
        if row["hooks"]:
            print(f"    hooks: {', '.join(row['hooks'])}")
    return 1 if any(row["error"] for row in rows) else 0


HOST_COMMANDS = [
    CliCommand("start", "run the daemon (foreground unless --daemon)", _configure_start,
               _run_start),
    CliCommand("stop", "stop the daemon running on the home", _configure_stop, _run_stop),
    CliCommand("restart", "stop gracefully and start again (re-reads the configuration)",
               _configure_stop, _run_restart),
    CliCommand("status", "is the daemon running; its plugins, sockets, services",
               _configure_json, _run_status),
    CliCommand("plugins", "installed plugins: version, distribution, hooks, load errors",
               _configure_json, _run_plugins),
]


# -- assembling the parser --------------------------------------------------------------


def build_parser(plugin_host: PluginHost) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wazuhd", description=wazuhd.__doc__)
    parser.add_argument("--version", action="version", version=f"wazuhd {wazuhd.__version__}")
    parser.add_argument("--home", metavar="DIR", default=None,
                        help="wazuhd home (default: $WAZUHD_HOME, else ./var/wazuhd)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    parent = home_parent()
    seen: set[str] = set()
    commands = [("core", command) for command in HOST_COMMANDS]
    commands += plugin_host.collect("wazuhd_cli_commands")
    for plugin, command in commands:
        if not isinstance(command, CliCommand) or command.name in seen:
            plugin_host.fail(plugin, f"invalid or duplicate CLI command {command!r}")
            continue
        seen.add(command.name)
        sub = subparsers.add_parser(command.name, help=command.help, parents=[parent],
                                    description=command.help)
        command.configure(sub)
        sub.set_defaults(_run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    plugin_host = make_plugin_host()
    for info in plugin_host.report():
        if info["error"] and not (argv or sys.argv[1:])[:1] == ["plugins"]:
            print(f"wazuhd: warning: plugin {info['name']} failed to load: {info['error']}",
                  file=sys.stderr)
    parser = build_parser(plugin_host)
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    args.plugin_host = plugin_host
    return args._run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
