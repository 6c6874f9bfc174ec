"""The embedded store: SQLite files under ``queue/db/``.

One file per database name (``global.db``, ``mitre.db``, ...), WAL mode so
readers never wait for the writer. Writes go through one connection guarded
by a lock (SQLite has one writer anyway); reads use a small pool of reader
connections. Every call runs in a worker thread so the trio loop never blocks
on disk. Plugins contribute :class:`Migration` objects; each is applied once.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import trio

log = logging.getLogger("wazuhd.store")

READERS = 4


class MigrationError(Exception):
    """A migration failed; the message names its plugin, database and id."""


@dataclass(frozen=True)
class Migration:
    """A schema change: ``sql`` (a script) or ``apply(connection)``, run once.

    ``id`` must be unique within its database and never change once released
    (e.g. ``"agents-0001-create-tables"``); it is what marks it as applied.
    """

    database: str
    id: str
    sql: str | None = None
    apply: Callable[[sqlite3.Connection], None] | None = None


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                               timeout=30)
    else:
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.row_factory = sqlite3.Row
    return conn


class Database:
    """One SQLite file: a writer connection and a pool of readers."""

    def __init__(self, path: Path):
        self.path = path
        self._writer = _connect(path)
        path.chmod(0o640)
        self._write_lock = threading.Lock()
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._limiter = trio.CapacityLimiter(READERS + 1)

    # -- synchronous API (CLI, migrations, worker threads) ----------------------

    def write_sync(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work(conn)`` in one transaction on the writer connection."""
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    def read_sync(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        conn = self._take_reader()
        try:
            return work(conn)
        finally:
            self._readers.put(conn)

    def execute_sync(self, sql: str, params: Sequence | dict = ()) -> int:
        return self.write_sync(lambda conn: conn.execute(sql, params).rowcount)

    def fetchall_sync(self, sql: str, params: Sequence | dict = ()) -> list[dict]:
        return self.read_sync(lambda conn: [dict(row) for row in conn.execute(sql, params)])

    def _take_reader(self) -> sqlite3.Connection:
        try:
            return self._readers.get_nowait()
        except queue.Empty:
            return _connect(self.path, readonly=True)

    # -- async API (the daemon) ---------------------------------------------------

    async def write(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        return await trio.to_thread.run_sync(self.write_sync, work, limiter=self._limiter)

    async def read(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        # A cancelled read (e.g. an API request past its timeout) answers at once; the
        # thread finishes on its own and returns its connection to the pool.
        return await trio.to_thread.run_sync(self.read_sync, work, limiter=self._limiter,
                                             abandon_on_cancel=True)

    async def execute(self, sql: str, params: Sequence | dict = ()) -> int:
        return await trio.to_thread.run_sync(self.execute_sync, sql, params,
                                             limiter=self._limiter)

    async def fetchall(self, sql: str, params: Sequence | dict = ()) -> list[dict]:
        return await trio.to_thread.run_sync(self.fetchall_sync, sql, params,
                                             limiter=self._limiter, abandon_on_cancel=True)

    async def fetchone(self, sql: str, params: Sequence | dict = ()) -> dict | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
        while True:
            try:
                self._readers.get_nowait().close()
            except queue.Empty:
                break


class Store:
    """The set of databases of one home."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._databases: dict[str, Database] = {}
        self._lock = threading.Lock()

    def db(self, name: str) -> Database:
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"invalid database name {name!r}")
        with self._lock:
            database = self._databases.get(name)
            if database is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                database = self._databases[name] = Database(self.directory / f"{name}.db")
            return database

    def migrate(self, migrations: Iterable[tuple[str, Migration]]) -> list[str]:
        """Apply ``(plugin, migration)`` pairs not yet applied, in order; return their ids."""
        applied = []
        for plugin, migration in migrations:
            database = self.db(migration.database)
            database.write_sync(lambda conn: conn.execute(
                "CREATE TABLE IF NOT EXISTS _wazuhd_migrations ("
                " id TEXT PRIMARY KEY, plugin TEXT NOT NULL, applied_at REAL NOT NULL)"))
            done = database.fetchall_sync("SELECT 1 FROM _wazuhd_migrations WHERE id = ?",
                                          (migration.id,))
            if done:
                continue

            def run(conn, migration=migration, plugin=plugin):
                if migration.sql:
                    for statement in _statements(migration.sql):
                        conn.execute(statement)
                if migration.apply:
                    migration.apply(conn)
                conn.execute("INSERT INTO _wazuhd_migrations (id, plugin, applied_at)"
                             " VALUES (?, ?, ?)", (migration.id, plugin, time.time()))

            try:
                database.write_sync(run)
            except Exception as exc:
                raise MigrationError(f"migration {migration.id!r} of plugin {plugin!r} on "
                                     f"{database.path.name} failed: {exc}") from exc
            log.info("applied migration %s (%s) to %s", migration.id, plugin, database.path.name)
            applied.append(migration.id)
        return applied

    def close(self) -> None:
        with self._lock:
            for database in self._databases.values():
                database.close()
            self._databases.clear()


def _statements(script: str) -> list[str]:
    """Split a script into complete statements so each runs inside our transaction.

    (``executescript`` would commit the open transaction first.)
    """
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
