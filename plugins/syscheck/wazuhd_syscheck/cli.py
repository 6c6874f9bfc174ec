"""``wazuhd syscheck scan [--dir D]`` (asks the running daemon, which owns the baseline, to
scan now and prints its report; with ``--stdout`` and no daemon, scans here and prints the
events) and ``wazuhd syscheck show PATH`` (reads the home's baseline directly, with or without
a daemon)."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time

import trio

from wazuhd import daemon
from wazuhd.cli import CliCommand, home_parent
from wazuhd.collect import StdoutSink
from wazuhd.config import ConfigError
from wazuhd.home import Home
from wazuhd.sockets import SocketClient, SocketReplyError
from wazuhd.store import Store

from wazuhd_syscheck import baseline
from wazuhd_syscheck.monitor import Monitor
from wazuhd_syscheck.options import Settings

SCAN_TIMEOUT = 24 * 3600.0


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="syscheck_command", metavar="ACTION", required=True)
    scan = sub.add_parser("scan", parents=[home_parent()],
                          help="scan now (the running daemon does it) and print what changed")
    scan.add_argument("--dir", action="append", dest="directories", metavar="D",
                      help="scan only this monitored directory (or a directory below one); repeatable")
    scan.add_argument("--json", action="store_true", help="print the report as JSON")
    scan.add_argument("--stdout", action="store_true",
                      help="no daemon: scan in this process against the home's baseline and print "
                           "each event (one JSON message a line); the report goes to stderr")
    show = sub.add_parser("show", parents=[home_parent()], help="what the baseline holds about a file")
    show.add_argument("path")
    show.add_argument("--json", action="store_true", help="print the baseline row as JSON")


def run(args) -> int:
    home = Home.at(getattr(args, "home", None))
    if args.syscheck_command == "scan":
        return _scan_here(args, home) if args.stdout else _scan(args, home)
    return _show(args, home)


def _scan(args, home: Home) -> int:
    socket = home.socket("syscheck")
    directories = [os.path.abspath(d) for d in args.directories or []]
    began = time.monotonic()
    try:
        with SocketClient(socket, timeout=SCAN_TIMEOUT) as client:
            report = client.request("scan", {"directories": directories})
    except (FileNotFoundError, ConnectionRefusedError):
        print(f"wazuhd syscheck scan: no daemon is running on {home.root} (start it: wazuhd start)",
              file=sys.stderr)
        return 1
    except SocketReplyError as exc:
        print(f"wazuhd syscheck scan: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"scanned {report['files']} files in {time.monotonic() - began:.1f} s: {report['added']} added, "
          f"{report['modified']} modified, {report['deleted']} deleted, {report['unreadable']} unreadable, "
          f"{report['events']} events")
    for problem in report["problems"]:
        print(f"  {problem}")
    return 0


def _scan_here(args, home: Home) -> int:
    """A scan without a daemon (CI, a host whose daemon is stopped): the home's configuration
    and baseline, events on stdout."""
    pid = daemon.running_pid(home)
    if pid is not None:
        print(f"wazuhd syscheck scan: the daemon (pid {pid}) owns the baseline of {home.root}: "
              f"scan without --stdout", file=sys.stderr)
        return 1
    try:
        _, config = daemon.load_plugins_and_config(home, write_default=False)
        settings = Settings.from_config(config["syscheck"])
    except (ConfigError, daemon.StartError, ValueError) as exc:
        print(f"wazuhd syscheck scan: {exc}", file=sys.stderr)
        return 1
    store = Store(home.db)
    store.migrate(("syscheck", migration) for migration in baseline.MIGRATIONS)
    monitor = Monitor(settings, store.db(baseline.DATABASE), home.root / "queue" / "syscheck" / "diff",
                      StdoutSink().send)

    async def scan():
        await monitor.load()
        return await monitor.scan([os.path.abspath(d) for d in args.directories or []] or None)

    try:
        report = trio.run(scan)
    except ValueError as exc:
        print(f"wazuhd syscheck scan: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(json.dumps(report) if args.json else
          f"scanned {report['files']} files: {report['added']} added, {report['modified']} modified, "
          f"{report['deleted']} deleted, {report['unreadable']} unreadable, {report['events']} events",
          file=sys.stderr)
    return 0


def _show(args, home: Home) -> int:
    path = home.db / f"{baseline.DATABASE}.db"
    wanted = os.path.normpath(os.path.abspath(args.path))
    if not path.exists():
        print(f"wazuhd syscheck show: no baseline in {home.root} yet (no scan has run)", file=sys.stderr)
        return 1
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM fim_entry WHERE agent_id = ? AND file = ?",
                           (baseline.MANAGER, wanted)).fetchone()
    finally:
        conn.close()
    if row is None:
        print(f"wazuhd syscheck show: {wanted} is not in the baseline", file=sys.stderr)
        return 1
    item = {k: row[k] for k in row.keys() if k not in ("agent_id", "signature") and row[k] is not None}
    if args.json:
        print(json.dumps(item, indent=2))
        return 0
    for key in ("file", "dir", "type", "size", "perm", "uid", "uname", "gid", "gname", "mtime", "inode",
                "md5", "sha1", "sha256", "changes", "date"):
        if key in item:
            value = item[key]
            if key in ("mtime", "date"):
                value = f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(value))} ({value:.0f})"
            print(f"{key:8} {value}")
    return 0


COMMANDS = [CliCommand("syscheck", "file integrity monitoring: scan now, show a file's baseline",
                       configure, run)]
