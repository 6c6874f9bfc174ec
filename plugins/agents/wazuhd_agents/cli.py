"""``wazuhd agents list|add|remove|key|import-keys``: the registry without the API.

The commands open the home's store directly (SQLite allows it while the daemon runs), act
with full permissions (whoever can read the home owns it) and rewrite etc/client.keys.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import trio

from wazuhd.cli import CliCommand, home_parent
from wazuhd.errors import WazuhException
from wazuhd.home import Home
from wazuhd.rbac import RbacContext
from wazuhd.store import Store

from wazuhd_agents import db, groups, keys, registry

ADMIN = RbacContext({}, mode="black")  # nothing denied: the CLI runs as the home's owner


def _open(args) -> tuple[Store, db.Registry]:
    home = Home.at(args.home)
    home.ensure()
    store = Store(home.db)
    store.migrate(("agents", m) for m in db.MIGRATIONS)
    return store, db.Registry(store.db(db.DATABASE), home.etc)


def _configure(parser: argparse.ArgumentParser) -> None:
    home = home_parent()
    sub = parser.add_subparsers(dest="action", required=True)
    add_parser = sub.add_parser
    sub.add_parser = lambda *a, **k: add_parser(*a, parents=[home], **k)
    listing = sub.add_parser("list", help="list agents")
    listing.add_argument("-q", "--query", help="Wazuh query, e.g. 'status=active;os.platform=ubuntu'")
    listing.add_argument("--limit", type=int, default=500)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--sort")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add = sub.add_parser("add", help="register an agent and print its key")
    add.add_argument("name")
    add.add_argument("--ip", default="any", help="IP, IP/NET or any (default)")
    add.add_argument("--id", help="agent id (default: the next free one)")
    add.add_argument("--group", action="append", help="group (repeatable; default: default)")
    remove = sub.add_parser("remove", help="remove agents")
    remove.add_argument("ids", nargs="+", help="agent ids")
    remove.add_argument("--purge", action="store_true", help="forget their keys too")
    key = sub.add_parser("key", help="print an agent's key (base64, for agent-auth -k)")
    key.add_argument("id")
    imp = sub.add_parser("import-keys", help="import agents from a Wazuh client.keys file")
    imp.add_argument("file", type=Path)


def _print_error(exc: WazuhException) -> int:
    print(f"wazuhd agents: {exc}", file=sys.stderr)
    return 1


def _run(args) -> int:
    store, reg = _open(args)
    try:
        return _ACTIONS[args.action](args, reg)
    except WazuhException as exc:
        return _print_error(exc)
    finally:
        store.close()


def _list(args, reg) -> int:
    result = trio.run(lambda: registry.get_agents(ADMIN, None, registry=reg, q=args.query, limit=args.limit,
                                                  offset=args.offset, sort=args.sort))
    if args.json:
        print(json.dumps(result.render(), indent=2))
        return 0
    print(f"{'ID':<6} {'NAME':<30} {'IP':<18} {'STATUS':<16} GROUPS")
    for agent in result.affected_items:
        print(f"{agent['id']:<6} {agent['name']:<30} {agent.get('registerIP', ''):<18} "
              f"{agent['status']:<16} {','.join(agent.get('group', []))}")
    print(f"{len(result.affected_items)} of {result.total_affected_items} agents")
    return 0


def _add(args, reg) -> int:
    wanted = args.group or ["default"]
    for name in wanted:
        groups.check_group_name(name)
    missing = [g for g in wanted if not reg.db.fetchall_sync("SELECT 1 FROM grp WHERE name = ?", (g,))]
    if missing:
        print(f"wazuhd agents: no such group(s): {', '.join(missing)}", file=sys.stderr)
        return 1
    data = registry.register_sync(reg, args.name, args.ip, ident=args.id, groups=wanted)
    keys.write_client_keys(reg)
    print(f"agent {data['id']} registered; key:\n{data['key']}")
    return 0


def _remove(args, reg) -> int:
    ids = [db.agent_id(int(i)) for i in args.ids]
    result = trio.run(lambda: registry.delete_agents(ADMIN, ids, registry=reg, purge=args.purge,
                                                     filters={"older_than": None}))
    keys.write_client_keys(reg)
    for item in result.affected_items:
        print(f"agent {item} removed")
    for error, failed in result.failed_items.items():
        print(f"not removed ({error.code} {error.message}): {', '.join(failed)}", file=sys.stderr)
    return 0 if not result.total_failed_items else 1


def _key(args, reg) -> int:
    result = trio.run(lambda: keys.get_agents_keys(ADMIN, [db.agent_id(int(args.id))], registry=reg))
    if not result.affected_items:
        error = next(iter(result.failed_items))
        print(f"wazuhd agents: {error.message}", file=sys.stderr)
        return 1
    print(result.affected_items[0]["key"])
    return 0


def _import(args, reg) -> int:
    report = keys.import_client_keys(reg, args.file.read_text())
    keys.write_client_keys(reg)
    print(f"imported {report['imported']}, removed entries {report['removed']}, "
          f"unchanged {report['unchanged']}")
    for line in report["conflicts"] + report["invalid"]:
        print(f"  skipped: {line}", file=sys.stderr)
    return 0 if not report["conflicts"] and not report["invalid"] else 1


_ACTIONS = {"list": _list, "add": _add, "remove": _remove, "key": _key, "import-keys": _import}

COMMANDS = [CliCommand("agents", "agent registry: list, add, remove, key, import-keys", _configure, _run)]
