"""STIX 2.x ATT&CK bundle -> the tables of Wazuh's ``mitre.db`` (standard library only).

Tables as Wazuh's ``tools/mitre/mitredb.py`` builds them: technique, tactic, group, software,
mitigation, reference, phase, mitigate, use, metadata. Each main table also keeps the object's
ATT&CK id (``external_id``), ``source`` and ``url`` (the ``mitre-attack`` reference) so a query
on ``T1110`` runs in SQL. Dates are epoch seconds (``REAL``); booleans 0/1 as Wazuh returns them.

A bundle is refused (:class:`BundleError`) before anything is written when it is not JSON,
truncated, not a STIX bundle, or holds no ATT&CK objects; the import runs in one transaction,
so a failure leaves the previous data as it was. This module imports nothing from wazuhd: the
plugin's build step uses it to prebuild the packaged database.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

DB_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS technique (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, created_time REAL, modified_time REAL,
    mitre_version TEXT, mitre_detection TEXT, network_requirements INTEGER NOT NULL DEFAULT 0,
    remote_support INTEGER NOT NULL DEFAULT 0, revoked_by TEXT, deprecated INTEGER NOT NULL DEFAULT 0,
    subtechnique_of TEXT, external_id TEXT, source TEXT, url TEXT);
CREATE TABLE IF NOT EXISTS tactic (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, created_time REAL, modified_time REAL,
    short_name TEXT, external_id TEXT, source TEXT, url TEXT);
CREATE TABLE IF NOT EXISTS "group" (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, created_time REAL, modified_time REAL,
    mitre_version TEXT, revoked_by TEXT, deprecated INTEGER NOT NULL DEFAULT 0,
    external_id TEXT, source TEXT, url TEXT);
CREATE TABLE IF NOT EXISTS software (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, created_time REAL, modified_time REAL,
    mitre_version TEXT, revoked_by TEXT, deprecated INTEGER NOT NULL DEFAULT 0,
    external_id TEXT, source TEXT, url TEXT);
CREATE TABLE IF NOT EXISTS mitigation (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, created_time REAL, modified_time REAL,
    mitre_version TEXT, revoked_by TEXT, deprecated INTEGER NOT NULL DEFAULT 0,
    external_id TEXT, source TEXT, url TEXT);
CREATE TABLE IF NOT EXISTS reference (
    id TEXT NOT NULL, source TEXT, external_id TEXT, url TEXT NOT NULL, description TEXT,
    type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS phase (tactic_id TEXT NOT NULL, tech_id TEXT NOT NULL,
    PRIMARY KEY (tactic_id, tech_id));
CREATE TABLE IF NOT EXISTS mitigate (
    id TEXT PRIMARY KEY, source_id TEXT NOT NULL, target_id TEXT NOT NULL, description TEXT,
    created_time REAL, modified_time REAL);
CREATE TABLE IF NOT EXISTS use (
    id TEXT PRIMARY KEY, source_id TEXT NOT NULL, source_type TEXT NOT NULL, target_id TEXT NOT NULL,
    target_type TEXT NOT NULL, description TEXT, created_time REAL, modified_time REAL);
CREATE INDEX IF NOT EXISTS technique_external_id ON technique (external_id);
CREATE INDEX IF NOT EXISTS tactic_external_id ON tactic (external_id);
CREATE INDEX IF NOT EXISTS group_external_id ON "group" (external_id);
CREATE INDEX IF NOT EXISTS software_external_id ON software (external_id);
CREATE INDEX IF NOT EXISTS mitigation_external_id ON mitigation (external_id);
CREATE INDEX IF NOT EXISTS reference_id ON reference (id);
CREATE INDEX IF NOT EXISTS phase_tech ON phase (tech_id);
CREATE INDEX IF NOT EXISTS mitigate_source ON mitigate (source_id);
CREATE INDEX IF NOT EXISTS mitigate_target ON mitigate (target_id);
CREATE INDEX IF NOT EXISTS use_source ON use (source_id, target_type);
CREATE INDEX IF NOT EXISTS use_target ON use (target_id, source_type);
"""

#: Data tables, in the order they are emptied and filled.
TABLES = ("metadata", "technique", "tactic", '"group"', "software", "mitigation", "reference",
          "phase", "mitigate", "use")

#: STIX type -> Wazuh's type name (``reference.type``, ``use.source_type``).
TYPES = {"attack-pattern": "technique", "x-mitre-tactic": "tactic", "intrusion-set": "group",
         "malware": "software", "tool": "software", "course-of-action": "mitigation",
         "campaign": "campaign"}
MAIN_TABLE = {"technique": "technique", "tactic": "tactic", "group": '"group"',
              "software": "software", "mitigation": "mitigation"}


class BundleError(ValueError):
    """The file is not an ATT&CK STIX bundle we can import; nothing was written."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()
    except ValueError:
        return None


def _type_of(stix_id: str) -> str:
    return TYPES.get(stix_id.split("--", 1)[0], "")


def load_bundle(path: Path) -> tuple[dict, str]:
    """The parsed bundle and the sha256 of its bytes; BundleError when it is not one."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        bundle = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        what = "truncated" if isinstance(exc, json.JSONDecodeError) and exc.pos >= len(raw.rstrip()) else "not valid"
        raise BundleError(f"{path} is {what} JSON ({exc}); nothing was imported") from None
    check_bundle(bundle, path)
    return bundle, digest


def check_bundle(bundle, path) -> None:
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle" or not isinstance(bundle.get("objects"), list):
        raise BundleError(f"{path} is not a STIX bundle (expected an object with \"type\": \"bundle\" "
                          "and an \"objects\" list); nothing was imported")
    objects = bundle["objects"]
    bad = next((i for i, o in enumerate(objects)
                if not isinstance(o, dict) or not isinstance(o.get("type"), str) or not isinstance(o.get("id"), str)), None)
    if bad is not None:
        raise BundleError(f"{path}: object #{bad} is not a STIX object (no type/id); nothing was imported")
    kinds = {o["type"] for o in objects}
    missing = {"attack-pattern", "x-mitre-tactic"} - kinds
    if missing:
        raise BundleError(f"{path} holds no ATT&CK {', '.join(sorted(missing))} objects; nothing was imported")


def bundle_info(bundle: dict) -> dict:
    """ATT&CK version, domain and spec versions from the x-mitre-collection (if any)."""
    collection = next((o for o in bundle["objects"] if o["type"] == "x-mitre-collection"), {})
    spec = collection.get("spec_version") or bundle.get("spec_version") or next(
        (o.get("spec_version") for o in bundle["objects"] if o.get("spec_version")), "2.0")
    domain = next((d for o in bundle["objects"] if o["type"] == "x-mitre-matrix"
                   for r in o.get("external_references", []) if (d := r.get("external_id"))), None)
    return {"mitre_version": collection.get("x_mitre_version") or "unknown",
            "name": collection.get("name") or "ATT&CK",
            "domain": domain or "enterprise-attack",
            "stix_spec_version": spec,
            "attack_spec_version": collection.get("x_mitre_attack_spec_version") or "",
            "modified": collection.get("modified") or ""}


def _main_reference(obj: dict) -> dict:
    return next((r for r in obj.get("external_references") or []
                 if r.get("source_name") in ("mitre-attack", "mitre-mobile-attack", "mitre-ics-attack")
                 and r.get("external_id")), {})


def rows_from_bundle(bundle: dict) -> dict[str, list[tuple]]:
    """Every table's rows (as tuples in column order) from a checked bundle."""
    rows: dict[str, list[tuple]] = {name: [] for name in TABLES}
    tactic_by_short: dict[str, str] = {}
    pending_phases: list[tuple[str, str]] = []
    revoked_by: dict[str, str] = {}
    parent_of: dict[str, str] = {}
    objects = bundle["objects"]
    for obj in objects:
        if obj["type"] == "relationship":
            kind, src, dst = obj.get("relationship_type"), obj.get("source_ref"), obj.get("target_ref")
            if not src or not dst:
                continue
            if kind == "revoked-by":
                revoked_by[src] = dst
            elif kind == "subtechnique-of":
                parent_of[src] = dst
            elif kind == "mitigates":
                rows["mitigate"].append((obj["id"], src, dst, obj.get("description"),
                                         _epoch(obj.get("created")), _epoch(obj.get("modified"))))
            elif kind == "uses":
                rows["use"].append((obj["id"], src, _type_of(src), dst, _type_of(dst), obj.get("description"),
                                    _epoch(obj.get("created")), _epoch(obj.get("modified"))))
    for obj in objects:
        kind = TYPES.get(obj["type"])
        if kind is None or kind == "campaign":
            continue
        main = _main_reference(obj)
        common = (obj["id"], obj.get("name") or "", obj.get("description"),
                  _epoch(obj.get("created")), _epoch(obj.get("modified")))
        external = (main.get("external_id"), main.get("source_name"), main.get("url"))
        deprecated = 1 if obj.get("x_mitre_deprecated") else 0
        if kind == "technique":
            rows["technique"].append((*common, obj.get("x_mitre_version"), obj.get("x_mitre_detection") or None,
                                      1 if obj.get("x_mitre_network_requirements") else 0,
                                      1 if obj.get("x_mitre_remote_support") else 0,
                                      revoked_by.get(obj["id"]), deprecated, parent_of.get(obj["id"]), *external))
            for phase in obj.get("kill_chain_phases") or []:
                if phase.get("kill_chain_name", "mitre-attack").startswith("mitre"):
                    pending_phases.append((phase.get("phase_name"), obj["id"]))
        elif kind == "tactic":
            tactic_by_short.setdefault(obj.get("x_mitre_shortname"), obj["id"])
            rows["tactic"].append((*common, obj.get("x_mitre_shortname"), *external))
        else:
            rows[MAIN_TABLE[kind]].append((*common, obj.get("x_mitre_version"), revoked_by.get(obj["id"]),
                                           deprecated, *external))
        for ref in obj.get("external_references") or []:
            if ref.get("url"):  # as Wazuh: references without a URL are not kept
                rows["reference"].append((obj["id"], ref.get("source_name"), ref.get("external_id"),
                                          ref["url"], ref.get("description"), kind))
    seen = set()
    for short, tech in pending_phases:
        tactic = tactic_by_short.get(short)
        if tactic and (tactic, tech) not in seen:
            seen.add((tactic, tech))
            rows["phase"].append((tactic, tech))
    return rows


def create_schema(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def write_rows(conn: sqlite3.Connection, rows: dict[str, list[tuple]], metadata: dict[str, str]) -> None:
    """Replace every table's content (the caller owns the transaction)."""
    for table in TABLES:
        conn.execute(f"DELETE FROM {table}")
    conn.executemany("INSERT INTO metadata (key, value) VALUES (?, ?)", sorted(metadata.items()))
    for table in TABLES[1:]:
        if rows[table]:
            marks = ", ".join("?" * len(rows[table][0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows[table])


def read_metadata(conn: sqlite3.Connection) -> dict[str, str]:
    try:
        return {key: value for key, value in conn.execute("SELECT key, value FROM metadata")}
    except sqlite3.OperationalError:
        return {}


def import_into(conn: sqlite3.Connection, path: Path, *, origin: str, force: bool = False,
                parsed: tuple[dict, str] | None = None, source: str | None = None) -> dict:
    """Import a bundle file into ``conn`` in one transaction (BEGIN IMMEDIATE .. COMMIT).

    Returns ``{"imported": bool, "metadata": {...}, "counts": {...}}``; skips the work when the
    stored ``source_sha256`` already equals the file's (unless ``force``).
    """
    bundle, digest = parsed or load_bundle(path)
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = read_metadata(conn)
        if not force and current.get("source_sha256") == digest and current.get("origin") == origin:
            conn.execute("ROLLBACK")
            return {"imported": False, "metadata": current, "counts": counts(conn)}
        metadata = {"db_version": DB_VERSION, **bundle_info(bundle), "source": source or str(path),
                    "source_sha256": digest, "origin": origin,
                    "imported_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "import_id": f"{digest[:16]}-{time.time_ns()}"}
        write_rows(conn, rows_from_bundle(bundle), metadata)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return {"imported": True, "metadata": metadata, "counts": counts(conn)}


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {table.strip('"'): conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in TABLES[1:]}


def build_database(bundle_path: Path, db_path: Path, *, origin: str, source: str) -> dict:
    """A fresh SQLite file with the schema and the bundle (the packaged, prebuilt database)."""
    db_path = Path(db_path)
    tmp = db_path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        create_schema(conn)
        result = import_into(conn, bundle_path, origin=origin, force=True, source=source)
        conn.execute("VACUUM")
    finally:
        conn.close()
    tmp.replace(db_path)
    return result


def copy_database(conn: sqlite3.Connection, prebuilt: Path, *, force: bool = False) -> dict:
    """Replace the data with a prebuilt database's (same schema) in one transaction.

    Skips when the stored ``source_sha256`` and ``origin`` already equal the prebuilt one's.
    ``conn`` must be in autocommit mode (ATTACH cannot run inside a transaction).
    """
    conn.execute("ATTACH DATABASE ? AS prebuilt", (str(prebuilt),))
    try:
        wanted = {k: v for k, v in conn.execute("SELECT key, value FROM prebuilt.metadata")}
        if "source_sha256" not in wanted:
            raise BundleError(f"{prebuilt} is not a prebuilt ATT&CK database")
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = read_metadata(conn)
            if (not force and current.get("source_sha256") == wanted["source_sha256"]
                    and current.get("origin") == wanted.get("origin")):
                conn.execute("ROLLBACK")
                return {"imported": False, "metadata": current, "counts": counts(conn)}
            for table in TABLES:
                conn.execute(f"DELETE FROM main.{table}")
                conn.execute(f"INSERT INTO main.{table} SELECT * FROM prebuilt.{table}")
            stamp = {"imported_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "import_id": f"{wanted['source_sha256'][:16]}-{time.time_ns()}"}
            conn.executemany("INSERT OR REPLACE INTO main.metadata (key, value) VALUES (?, ?)", stamp.items())
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("DETACH DATABASE prebuilt")
    return {"imported": True, "metadata": read_metadata(conn), "counts": counts(conn)}
