"""``wazuhd mitre show ID`` and ``wazuhd mitre import FILE``: work with or without a daemon.

Both open the home's ``queue/db/mitre.db`` directly. An import runs in one SQLite transaction
(WAL): a running daemon keeps answering from the previous data until the commit, then sees the
new rows at once; its in-memory enrichment table follows within ``mitre.reload_interval``
seconds (it polls the import stamp). A truncated or non-STIX file is refused before anything
is written.
"""

from __future__ import annotations

import json
import sys
import time

from wazuhd import daemon
from wazuhd.cli import home_parent
from wazuhd.config import ConfigError
from wazuhd.home import Home
from wazuhd_mitre import core, importer, sources


def configure_mitre(parser) -> None:
    sub = parser.add_subparsers(dest="mitre_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", parents=[home_parent()], help="an ATT&CK object (T1110, TA0006, G0016, S0002, M1036 or a STIX id) "
                                       "and its relations")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="print the API's item as JSON")
    imp = sub.add_parser("import", parents=[home_parent()], help="load an enterprise-attack.json STIX bundle into the home's store")
    what = imp.add_mutually_exclusive_group(required=True)
    what.add_argument("file", nargs="?", help="the STIX bundle (pins the home to it)")
    what.add_argument("--default", action="store_true",
                      help="go back to the configured mitre.source, else the packaged bundle")
    imp.add_argument("--force", action="store_true", help="import even when the file's hash is unchanged")


def _home(args) -> Home:
    return Home.at(getattr(args, "home", None))


def _db_path(home: Home):
    home.db.mkdir(parents=True, exist_ok=True)
    return home.db / f"{core.DATABASE}.db"


def run_mitre(args) -> int:
    home = _home(args)
    if args.mitre_command == "import":
        return _run_import(args, home)
    return _run_show(args, home)


def _configured_source(home: Home):
    try:
        _, config = daemon.load_plugins_and_config(home, write_default=False)
    except (ConfigError, daemon.StartError):
        return None
    return sources.resolve_source(config.get("mitre", {}).get("source"), home.etc)


def _run_import(args, home: Home) -> int:
    db_path = _db_path(home)
    began = time.monotonic()
    try:
        if args.default:
            result = sources.import_default(db_path, _configured_source(home))
        else:
            result = sources.import_file(db_path, args.file, force=args.force)
    except importer.BundleError as exc:
        print(f"wazuhd mitre import: refused: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"wazuhd mitre import: {exc}", file=sys.stderr)
        return 1
    meta = result["metadata"]
    counts = ", ".join(f"{k} {v}" for k, v in result["counts"].items())
    if result["imported"]:
        print(f"imported MITRE ATT&CK {meta.get('mitre_version')} ({meta.get('domain')}) from {meta.get('source')} "
              f"in {time.monotonic() - began:.1f} s: {counts}")
    else:
        print(f"unchanged: {meta.get('source')} (sha256 {meta.get('source_sha256', '')[:12]}) is already imported; "
              f"--force imports it again")
    pid = daemon.running_pid(home)
    if pid is not None and result["imported"]:
        print(f"the running daemon (pid {pid}) serves the new data now and enriches alerts with it "
              f"within its mitre.reload_interval")
    return 0


def _label(names: dict, ident: str) -> str:
    external, name = names.get(ident, (None, ident))
    return f"{external or ident} {name}"


def _run_show(args, home: Home) -> int:
    db_path = _db_path(home)
    conn = sources.connect(db_path)
    try:
        if not importer.read_metadata(conn).get("import_id"):
            # No daemon has filled this home yet: load the configured or packaged data first.
            sources.ensure_current(db_path, _configured_source(home))
        found = core.find(conn, args.id)
        if found is None:
            print(f"wazuhd mitre show: {args.id} is not in the ATT&CK data of {home.root}", file=sys.stderr)
            return 1
        kind, item = found
        if args.json:
            print(json.dumps(item, indent=2))
            return 0
        related = [i for r in kind.related_names if r != "references" for i in item.get(r, [])]
        names = core.names_of(conn, related + [item.get("subtechnique_of") or "", item.get("revoked_by") or ""])
        subtechniques = []
        if kind.name == "techniques":
            subtechniques = [(r[0], r[1]) for r in conn.execute(
                "SELECT external_id, name FROM technique WHERE subtechnique_of = ? ORDER BY external_id",
                (item["id"],))]
    finally:
        conn.close()
    lines: list[str] = []
    state = " (deprecated)" if item.get("deprecated") else ""
    state += f" (revoked by {_label(names, item['revoked_by'])})" if item.get("revoked_by") else ""
    lines.append(f"{item.get('external_id', '')} {item['name']}{state}")
    lines.append(f"  {kind.name[:-1] if kind.name != 'software' else 'software'}: {item['id']}")
    if item.get("url"):
        lines.append(f"  url: {item['url']}")
    if item.get("subtechnique_of"):
        lines.append(f"  sub-technique of: {_label(names, item['subtechnique_of'])}")
    if subtechniques:
        lines.append(f"  sub-techniques: {', '.join(f'{e} {n}' for e, n in subtechniques)}")
    for relation in kind.related_names:
        if relation == "references":
            continue
        ids = item.get(relation, [])
        labels = sorted(_label(names, i) for i in ids)
        lines.append(f"  {relation} ({len(ids)}):" + ("" if ids else " none"))
        for label in labels:
            lines.append(f"    {label}")
    lines.append(f"  references: {len(item.get('references', []))}")
    print("\n".join(lines))
    return 0
