"""The SQLite store: WAL files, migrations applied once and in order, off-loop access."""

from __future__ import annotations

import sqlite3

import pytest
import trio

from wazuhd.store import Migration, MigrationError, Store


def test_migrations_apply_once_in_order(tmp_path):
    order = []
    migrations = [
        ("notes", Migration("notes", "notes-1", sql="CREATE TABLE n (id INTEGER PRIMARY KEY,"
                                                    " text TEXT);\nCREATE INDEX n_text ON n(text);")),
        ("notes", Migration("notes", "notes-2", apply=lambda c: (
            order.append("notes-2"), c.execute("ALTER TABLE n ADD COLUMN tag TEXT")))),
    ]
    store = Store(tmp_path)
    assert store.migrate(migrations) == ["notes-1", "notes-2"]
    store.close()
    store = Store(tmp_path)
    assert store.migrate(migrations) == []
    assert order == ["notes-2"]
    columns = [r["name"] for r in store.db("notes").fetchall_sync("PRAGMA table_info(n)")]
    assert columns == ["id", "text", "tag"]
    mode = store.db("notes").fetchall_sync("PRAGMA journal_mode")[0]["journal_mode"]
    assert mode == "wal"
    assert oct((tmp_path / "notes.db").stat().st_mode & 0o777) == "0o640"
    store.close()


def test_failed_migration_rolls_back_and_names_plugin(tmp_path):
    store = Store(tmp_path)
    bad = Migration("x", "x-1", sql="CREATE TABLE ok (a);\nCREATE TABLE broken (;")
    with pytest.raises(MigrationError, match=r"migration 'x-1' of plugin 'xplug' on x.db failed"):
        store.migrate([("xplug", bad)])
    tables = store.db("x").fetchall_sync("SELECT name FROM sqlite_master WHERE type='table'")
    assert [t["name"] for t in tables] == ["_wazuhd_migrations"]  # 'ok' was rolled back
    store.close()


def test_invalid_database_names_are_refused(tmp_path):
    with pytest.raises(ValueError):
        Store(tmp_path).db("../escape")


async def test_concurrent_writers_and_readers_from_trio(tmp_path):
    store = Store(tmp_path)
    store.migrate([("t", Migration("t", "t-1", sql="CREATE TABLE c (v INTEGER)"))])
    db = store.db("t")

    async def writer(n):
        for i in range(50):
            await db.execute("INSERT INTO c (v) VALUES (?)", (n * 1000 + i,))

    async def reader():
        for _ in range(50):
            rows = await db.fetchall("SELECT count(*) AS n FROM c")
            assert rows[0]["n"] >= 0

    async with trio.open_nursery() as nursery:
        for n in range(4):
            nursery.start_soon(writer, n)
            nursery.start_soon(reader)
    assert (await db.fetchone("SELECT count(*) AS n FROM c"))["n"] == 200
    store.close()


async def test_a_failed_write_rolls_back(tmp_path):
    store = Store(tmp_path)
    db = store.db("t")
    await db.execute("CREATE TABLE c (v INTEGER UNIQUE)")

    def insert_twice(conn):
        conn.execute("INSERT INTO c VALUES (1)")
        conn.execute("INSERT INTO c VALUES (1)")

    with pytest.raises(sqlite3.IntegrityError):
        await db.write(insert_twice)
    assert (await db.fetchone("SELECT count(*) AS n FROM c"))["n"] == 0
    store.close()
