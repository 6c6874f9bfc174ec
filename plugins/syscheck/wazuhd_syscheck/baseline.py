"""The baseline in the store (``queue/db/syscheck.db``): one row per monitored file per agent,
and when each agent's last scan started and ended."""

from __future__ import annotations

import time

from wazuhd.store import Database, Migration

from wazuhd_syscheck.files import Entry

DATABASE = "syscheck"
MANAGER = 0

MIGRATIONS = [Migration(DATABASE, "syscheck-0001-baseline", sql="""
    CREATE TABLE fim_entry (
        agent_id   INTEGER NOT NULL,
        file       TEXT NOT NULL,
        dir        TEXT,
        type       TEXT NOT NULL DEFAULT 'file',
        size       INTEGER,
        perm       TEXT,
        uid        TEXT,
        gid        TEXT,
        uname      TEXT,
        gname      TEXT,
        mtime      INTEGER,
        inode      INTEGER,
        md5        TEXT,
        sha1       TEXT,
        sha256     TEXT,
        attributes TEXT NOT NULL DEFAULT '',
        arch       TEXT,
        value_name TEXT,
        value_type TEXT,
        checksum   TEXT NOT NULL,
        signature  TEXT NOT NULL DEFAULT '',
        changes    INTEGER NOT NULL DEFAULT 1,
        date       REAL NOT NULL,
        PRIMARY KEY (agent_id, file)
    );
    CREATE INDEX fim_entry_md5 ON fim_entry (md5);
    CREATE INDEX fim_entry_sha1 ON fim_entry (sha1);
    CREATE INDEX fim_entry_sha256 ON fim_entry (sha256);
    CREATE TABLE fim_scan (
        agent_id INTEGER PRIMARY KEY,
        start    REAL,
        end      REAL
    );
"""), Migration(DATABASE, "syscheck-0002-baselined-directories", sql="""
    CREATE TABLE fim_directory (
        agent_id INTEGER NOT NULL,
        dir      TEXT NOT NULL,
        PRIMARY KEY (agent_id, dir)
    );
""")]

ATTRIBUTES = ("type", "size", "perm", "uid", "gid", "uname", "gname", "mtime", "inode", "md5", "sha1",
              "sha256")
_COLUMNS = ("agent_id", "file", "dir", *ATTRIBUTES, "checksum", "signature", "changes", "date")


def row_of(entry: Entry, text: str, directory: str, changes: int, now: float) -> tuple:
    return (MANAGER, text, directory, *(getattr(entry, name) for name in ATTRIBUTES),
            entry.checksum(), entry.signature, changes, now)


def save_sync(conn, rows: list[tuple], deleted: list[str]) -> None:
    """Write one batch of a scan or of realtime: upserts and deletions in one transaction."""
    if rows:
        conn.executemany(
            f"INSERT INTO fim_entry ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
            " ON CONFLICT (agent_id, file) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[2:]), rows)
    if deleted:
        conn.executemany("DELETE FROM fim_entry WHERE agent_id = ? AND file = ?",
                         [(MANAGER, path) for path in deleted])


async def index(db: Database) -> dict[str, tuple[str, str, str]]:
    """The manager's baseline as ``{file: (checksum, signature, dir)}``: what a scan compares with."""
    return await db.read(lambda conn: {
        row[0]: (row[1], row[2], row[3]) for row in conn.execute(
            "SELECT file, checksum, signature, dir FROM fim_entry WHERE agent_id = ?", (MANAGER,))})


def rows_sync(conn, files: list[str]) -> dict[str, dict]:
    """Full baseline rows of some files (the 'before' of modified and deleted events)."""
    out = {}
    for start in range(0, len(files), 500):
        part = files[start:start + 500]
        cursor = conn.execute(f"SELECT * FROM fim_entry WHERE agent_id = ? AND file IN "
                              f"({','.join('?' * len(part))})", (MANAGER, *part))
        for row in cursor:
            out[row["file"]] = dict(row)
    return out


async def scan_started(db: Database, agent: int = MANAGER) -> float:
    now = time.time()
    await db.execute("INSERT INTO fim_scan (agent_id, start, end) VALUES (?, ?, NULL)"
                     " ON CONFLICT (agent_id) DO UPDATE SET start = excluded.start, end = NULL",
                     (agent, now))
    return now


async def scan_ended(db: Database, agent: int = MANAGER) -> None:
    await db.execute("UPDATE fim_scan SET end = ? WHERE agent_id = ?", (time.time(), agent))


async def baselined(db: Database) -> set[str]:
    """The configured directories of the manager whose baseline was recorded by a full scan:
    their changes are reported; a directory new to the configuration is recorded first."""
    rows = await db.fetchall("SELECT dir FROM fim_directory WHERE agent_id = ?", (MANAGER,))
    return {row["dir"] for row in rows}


async def mark_baselined(db: Database, directory: str) -> None:
    await db.execute("INSERT OR IGNORE INTO fim_directory (agent_id, dir) VALUES (?, ?)",
                     (MANAGER, directory))


async def clear(db: Database, agent: int) -> int:
    def work(conn):
        removed = conn.execute("DELETE FROM fim_entry WHERE agent_id = ?", (agent,)).rowcount
        conn.execute("DELETE FROM fim_scan WHERE agent_id = ?", (agent,))
        conn.execute("DELETE FROM fim_directory WHERE agent_id = ?", (agent,))
        return removed
    return await db.write(work)
