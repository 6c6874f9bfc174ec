"""Where the packaged ATT&CK data is, and keeping the home's ``mitre.db`` current.

The package carries MITRE's ``enterprise-attack.json`` (fetched at install time, see
``buildtools/backend.py``) and ``attack.db``, the same bundle prebuilt into our tables. The
home's database records where its data came from (``metadata.origin``):

- ``package``: the packaged bundle; re-copied when the package's bundle hash changes;
- ``config``: ``mitre.source`` in the config (a bundle file); re-imported when its hash changes;
- ``cli``: ``wazuhd mitre import FILE``; kept (pinned) until ``wazuhd mitre import --default``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

from wazuhd_mitre import importer

log = logging.getLogger("wazuhd.mitre")

DATA_DIR = Path(__file__).resolve().parent / "data"
BUNDLE = DATA_DIR / "enterprise-attack.json"
PREBUILT = DATA_DIR / "attack.db"
PROVENANCE = DATA_DIR / "provenance.json"


def provenance() -> dict:
    try:
        return json.loads(PROVENANCE.read_text())
    except (OSError, ValueError):
        return {}


def connect(path: Path) -> sqlite3.Connection:
    """A connection of our own to the home's mitre.db (autocommit: the importer owns BEGIN)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    conn.execute("PRAGMA journal_mode=WAL")
    importer.create_schema(conn)
    return conn


def resolve_source(source: str | None, etc: Path) -> Path | None:
    if not source:
        return None
    path = Path(source)
    return path if path.is_absolute() else etc / path


def ensure_current(db_path: Path, configured: Path | None = None) -> dict:
    """Bring the database to the configured (or packaged) source unless a CLI import pins it.

    Returns the importer's result, or ``{"imported": False, "reason": ...}``. Raises
    :class:`importer.BundleError` when the configured source is not a bundle (data stays).
    """
    conn = connect(db_path)
    try:
        current = importer.read_metadata(conn)
        if current.get("origin") == "cli":
            return {"imported": False, "reason": f"pinned to {current.get('source')} by 'wazuhd mitre import'",
                    "metadata": current}
        if configured is not None:
            return importer.import_into(conn, configured, origin="config")
        if PREBUILT.exists():
            return importer.copy_database(conn, PREBUILT)
        if BUNDLE.exists():
            return importer.import_into(conn, BUNDLE, origin="package")
        return {"imported": False, "reason": "no ATT&CK data is packaged (reinstall wazuhd-mitre or run "
                                             "'wazuhd mitre import FILE')", "metadata": current}
    finally:
        conn.close()


def import_file(db_path: Path, path: Path, *, force: bool = False) -> dict:
    conn = connect(db_path)
    try:
        return importer.import_into(conn, path, origin="cli", force=force)
    finally:
        conn.close()


def import_default(db_path: Path, configured: Path | None = None) -> dict:
    """Back to the configured or packaged source (``wazuhd mitre import --default``)."""
    conn = connect(db_path)
    try:
        if configured is not None:
            return importer.import_into(conn, configured, origin="config", force=True)
        if PREBUILT.exists():
            return importer.copy_database(conn, PREBUILT, force=True)
        return importer.import_into(conn, BUNDLE, origin="package", force=True)
    finally:
        conn.close()
