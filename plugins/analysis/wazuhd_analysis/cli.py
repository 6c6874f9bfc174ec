"""``wazuhd logtest`` and ``wazuhd ruleset test``.

``wazuhd logtest`` speaks to the running daemon's ``logtest`` socket, or with
``--standalone`` loads a ruleset in-process; it prints Wazuh logtest's three
phases and, with ``-U rule:level:decoder``, exits as Wazuh's unit-test mode
does: 0 when the last event's verdict matches (the number of empty expected
fields, to support Wazuh's runtests.py), 1 when it does not.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from wazuhd.errors import WazuhException
from wazuhd.home import Home
from wazuhd.sockets import SocketClient, SocketReplyError
from wazuhd_analysis import inirunner
from wazuhd_analysis.engine import Ruleset
from wazuhd_analysis.errors import RulesetError
from wazuhd_analysis.logtest import LogtestSessions


def configure_logtest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-U", dest="ut", metavar="rule:level:decoder",
                        help="unit test: compare the last event's verdict and exit 0 or 1")
    parser.add_argument("-l", dest="location", default="stdin", help='location (default "stdin")')
    parser.add_argument("-f", dest="log_format", default="syslog", help="log format (syslog)")
    parser.add_argument("-q", dest="quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("-v", dest="verbose", action="store_true",
                        help="rule debugging: show every rule tried and matched")
    parser.add_argument("--standalone", action="store_true",
                        help="load the ruleset in this process instead of asking the daemon")
    parser.add_argument("--decoder-dir", action="append", default=[], metavar="DIR")
    parser.add_argument("--rule-dir", action="append", default=[], metavar="DIR")
    parser.add_argument("--list", action="append", default=[], metavar="FILE",
                        help="CDB list file or directory (repeatable)")


def _socket_backend(home: Home) -> tuple[Callable, Callable]:
    path = home.socket("logtest")

    def request(command: str, parameters: dict) -> dict:
        with SocketClient(path, timeout=30) as client:
            return client.request(command, parameters, origin="wazuhd-logtest",
                                  module="wazuhd-logtest")

    return (lambda params: request("log_processing", params),
            lambda token: request("remove_session", {"token": token}))


def _local_backend(args) -> tuple[Callable, Callable]:
    lists = []
    for path in args.list:
        if os.path.isdir(path):
            lists += [os.path.join(root, name) for root, _, names in os.walk(path)
                      for name in sorted(names) if not name.endswith(".cdb")]
        else:
            lists.append(path)
    ruleset = Ruleset.load(decoder_dirs=args.decoder_dir, rule_dirs=args.rule_dir,
                           list_files=lists)
    sessions = LogtestSessions(lambda: ruleset)
    def process(params: dict) -> dict:
        options = params.pop("options", {})
        return sessions.process(**params, rules_debug=bool(options.get("rules_debug")))

    return process, sessions.remove


def _show(data: dict, out) -> None:
    output = dict(data["output"])
    print("**Phase 1: Completed pre-decoding.", file=out)
    if "full_log" in output:
        print(f"\tfull event: '{output['full_log']}'", file=out)
    _fields(output.get("predecoder", {}), ("timestamp", "hostname", "program_name"), out)
    print("\n**Phase 2: Completed decoding.", file=out)
    if output.get("decoder"):
        _fields(output["decoder"], ("name", "parent"), out)
        _fields(output.get("data", {}), (), out)
    else:
        print("\tNo decoder matched.", file=out)
    if "rules_debug" in data:
        print("\n**Rule debugging:", file=out)
        for line in data["rules_debug"]:
            print(line, file=out)
    if "rule" in output:
        print("\n**Phase 3: Completed filtering (rules).", file=out)
        _fields(output["rule"], ("id", "level", "description", "groups", "firedtimes"), out)
    if data["alert"]:
        print("**Alert to be generated.", file=out)


def _fields(values: dict, first: tuple[str, ...], out, prefix: str = "") -> None:
    for name in [*[f for f in first if f in values], *sorted(set(values) - set(first))]:
        value = values[name]
        if isinstance(value, dict):
            _fields(value, (), out, f"{prefix}{name}.")
        else:
            print(f"\t{prefix}{name}: '{value}'", file=out)


def verdict(output: dict) -> list[str]:
    rule = output.get("rule", {})
    decoder = output.get("decoder") or {}
    return [str(rule.get("id", "")), str(rule.get("level", "")), decoder.get("name", "")]


def run_logtest(args, stdin=None, out=None) -> int:
    stdin, out = stdin or sys.stdin, out or sys.stdout
    expected = args.ut.split(":") if args.ut else None
    if expected is not None and len(expected) != 3:
        print(f"-U expects rule:level:decoder, got {args.ut!r}", file=sys.stderr)
        return 1
    try:
        process, remove = (_local_backend(args) if args.standalone
                           else _socket_backend(Home.at(args.home)))
    except RulesetError as exc:
        print(f"ruleset error: {exc}", file=sys.stderr)
        return 1
    token, last = None, ["", "", ""]
    try:
        for line in stdin:
            event = line.rstrip("\n")
            if not event:
                continue
            params = {"event": event, "log_format": args.log_format, "location": args.location}
            if token:
                params["token"] = token
            if args.verbose:
                params["options"] = {"rules_debug": True}
            try:
                data = process(params)
            except (SocketReplyError, WazuhException) as exc:
                print(f"** wazuhd logtest error: {exc}", file=sys.stderr)
                continue
            except OSError as exc:
                print(f"** cannot reach the daemon's logtest socket: {exc} "
                      f"(start the daemon or use --standalone)", file=sys.stderr)
                return 1
            token = data["token"]
            last = verdict(data["output"])
            if not args.quiet:
                for message in data["messages"]:
                    if message.startswith("WARNING"):
                        print(f"** wazuhd logtest: {message}", file=out)
                _show(data, out)
                print(file=out)
    finally:
        if token:
            try:
                remove(token)
            except (OSError, SocketReplyError, WazuhException):
                pass
    if expected is None:
        return 0
    return expected.count("") if last == expected else 1


def run_ruleset(args) -> int:
    return inirunner.cli(args.arguments)


def configure_ruleset(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["test"],
                        help="test: run Wazuh-format .ini regression files")
    parser.add_argument("arguments", nargs=argparse.REMAINDER,
                        help="[--decoder-dir D] [--rule-dir R] [--list F] FILE.ini...")
