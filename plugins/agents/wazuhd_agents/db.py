"""Tables, indexes and queryable fields of the agent registry (database ``global``).

Agents live in ``agent`` (integer ``id``; the API shows ``'%03d'``), their groups in
``belongs`` (one row per agent and group, ``priority`` keeps the order) with the ordered
list denormalised in ``agent.groups`` for output. Every text column an API filter or sort
can touch has an index of the form ``(col COLLATE NOCASE, col)``: it is the order the
shared query layer asks for on text (``ORDER BY (col) COLLATE NOCASE, (col)``) and the
collation its filters compare with; date columns (epoch numbers) have plain indexes, as
the query layer sorts them plainly. So SQLite walks an index instead of sorting 100k rows.
"""

from __future__ import annotations

import platform
import socket
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from wazuhd.query import Field, Schema
from wazuhd.store import Database, Migration

DATABASE = "global"
VERSION = "Wazuh v4.14.0"
NEVER = 253402300799  # 9999-12-31T23:59:59Z: agent 000's lastKeepAlive, as Wazuh shows it

_INDEXED = ("name", "ip", "register_ip", "connection_status", "os_name", "os_platform",
            "os_version", "version", "manager_host", "node_name", "group_config_status", "groups")
_INDEXED_DATES = ("date_add", "last_keepalive")

SCHEMA_SQL = """
CREATE TABLE agent (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    ip TEXT,
    register_ip TEXT,
    internal_key TEXT,
    os_name TEXT, os_version TEXT, os_major TEXT, os_minor TEXT, os_codename TEXT,
    os_build TEXT, os_platform TEXT, os_uname TEXT, os_arch TEXT,
    version TEXT,
    config_sum TEXT,
    merged_sum TEXT,
    manager_host TEXT,
    node_name TEXT NOT NULL DEFAULT 'node01',
    date_add INTEGER NOT NULL,
    last_keepalive INTEGER,
    connection_status TEXT NOT NULL DEFAULT 'never_connected',
    status_code INTEGER NOT NULL DEFAULT 0,
    disconnection_time INTEGER,
    group_config_status TEXT NOT NULL DEFAULT 'not synced',
    groups TEXT
);
CREATE UNIQUE INDEX agent_name_unique ON agent (name);
CREATE TABLE agent_removed (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    ip TEXT,
    internal_key TEXT,
    removed_at INTEGER NOT NULL
);
CREATE TABLE grp (
    name TEXT PRIMARY KEY,
    created INTEGER NOT NULL
);
CREATE TABLE belongs (
    agent_id INTEGER NOT NULL REFERENCES agent (id) ON DELETE CASCADE,
    grp TEXT NOT NULL REFERENCES grp (name) ON DELETE CASCADE,
    priority INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, grp)
) WITHOUT ROWID;
CREATE INDEX belongs_grp ON belongs (grp, agent_id);
CREATE TABLE task (
    task_id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL,
    node TEXT NOT NULL,
    module TEXT NOT NULL,
    command TEXT NOT NULL,
    status TEXT NOT NULL,
    error_message TEXT,
    create_time INTEGER NOT NULL,
    last_update_time INTEGER NOT NULL
);
CREATE INDEX task_agent ON task (agent_id);
CREATE INDEX task_status ON task (status COLLATE NOCASE, status);
""" + "".join(f"CREATE INDEX agent_{c} ON agent ({c} COLLATE NOCASE, {c});\n" for c in _INDEXED) + \
    "".join(f"CREATE INDEX agent_{c} ON agent ({c});\n" for c in _INDEXED_DATES) + """
CREATE INDEX agent_unique_ip ON agent (register_ip) WHERE register_ip != 'any';
CREATE INDEX agent_platform_status_date ON agent (os_platform COLLATE NOCASE,
    connection_status COLLATE NOCASE, date_add);
CREATE INDEX agent_status_keepalive ON agent (connection_status, last_keepalive);
INSERT INTO grp (name, created) VALUES ('default', CAST(strftime('%s', 'now') AS INTEGER));
"""


def _manager_row(conn) -> None:
    now = int(time.time())
    conn.execute(
        "INSERT INTO agent (id, name, ip, register_ip, internal_key, version, manager_host, date_add,"
        " last_keepalive, connection_status, group_config_status)"
        " VALUES (0, ?, '127.0.0.1', '127.0.0.1', NULL, ?, ?, ?, ?, 'active', 'synced')",
        (socket.gethostname() or "manager", VERSION, socket.gethostname(), now, NEVER))
    update_manager_os(conn)


def update_manager_os(conn) -> None:
    """Agent 000 describes the machine the daemon runs on."""
    uname = platform.uname()
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        release = {}
    version = release.get("VERSION_ID") or uname.release
    parts = (version.split(".") + ["", ""])[:2]
    conn.execute(
        "UPDATE agent SET os_name = ?, os_version = ?, os_major = ?, os_minor = ?, os_codename = ?,"
        " os_platform = ?, os_uname = ?, os_arch = ?, version = ?, manager_host = ? WHERE id = 0",
        (release.get("NAME") or uname.system, version, parts[0] or None, parts[1] or None,
         release.get("VERSION_CODENAME") or None, release.get("ID") or uname.system.lower(),
         " |".join([uname.system, uname.node, uname.release, uname.version, uname.machine]),
         uname.machine, VERSION, socket.gethostname()))


#: Binary-collation indexes for the GROUP BY / DISTINCT of summaries and the overview (the
#: NOCASE ones above serve filters and sorts; grouping compares with BINARY).
SUMMARY_INDEXES_SQL = """
CREATE INDEX agent_summary ON agent (connection_status, group_config_status);
CREATE INDEX agent_platform_binary ON agent (os_platform);
CREATE INDEX agent_version_binary ON agent (version);
CREATE INDEX agent_node_binary ON agent (node_name);
"""

MIGRATIONS = [
    Migration(DATABASE, "agents-0001-tables", sql=SCHEMA_SQL),
    Migration(DATABASE, "agents-0002-manager", apply=_manager_row),
    Migration(DATABASE, "agents-0003-summary-indexes", sql=SUMMARY_INDEXES_SQL),
    # What a task carries to the agent (an upgrade's version, repository, WPK...), as JSON.
    Migration(DATABASE, "agents-0004-task-parameters", sql="ALTER TABLE task ADD COLUMN parameters TEXT;\n"
              "CREATE INDEX task_module_agent ON task (module, agent_id, status);"),
]

# -- queryable fields --------------------------------------------------------------------

_OS = ("arch", "build", "codename", "major", "minor", "name", "platform", "uname", "version")

AGENT_FIELDS = [
    Field("id", "agent.id", "integer"),
    Field("name", "agent.name"),
    Field("ip", "agent.ip"),
    Field("registerIP", "agent.register_ip"),
    Field("status", "agent.connection_status"),
    Field("status_code", "agent.status_code", "integer"),
    *(Field(f"os.{name}", f"agent.os_{name}") for name in _OS),
    Field("version", "agent.version"),
    Field("manager", "agent.manager_host"),
    Field("node_name", "agent.node_name"),
    Field("dateAdd", "agent.date_add", "date"),
    Field("lastKeepAlive", "agent.last_keepalive", "date"),
    Field("disconnection_time", "agent.disconnection_time", "date"),
    Field("group", "agent.groups"),
    Field("group_config_status", "agent.group_config_status"),
    Field("configSum", "agent.config_sum"),
    Field("mergedSum", "agent.merged_sum"),
]
#: Not shown: what ``q=group=<g>`` is rewritten to (membership, as Wazuh's q means it).
GROUP_MEMBER = Field("group_member", "(',' || agent.groups || ',')")
AGENTS = Schema([*AGENT_FIELDS, GROUP_MEMBER], id_field="id", table="agent")
DEFAULT_SELECT = tuple(f.name for f in AGENT_FIELDS)
DATE_FIELDS = ("dateAdd", "lastKeepAlive", "disconnection_time")

#: SQL naming an agent for RBAC: its id, and its groups (agent:group:<name>)
RBAC_COLUMNS = {
    "agent:id": "agent.id",
    "agent:group": "agent.id IN (SELECT b.agent_id FROM belongs b WHERE b.grp IN ({values}))",
}


def agent_id(number: int) -> str:
    return f"{number:03d}"


def iso(epoch) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


def present(row: dict) -> dict:
    """A flat-nested SQL row as Wazuh shows an agent: string id, ISO dates, group list,
    absent fields instead of nulls (Wazuh omits what an agent never reported)."""
    out: dict = {}
    for key, value in row.items():
        if key == "os" and isinstance(value, dict):
            os_ = {k: v for k, v in value.items() if v is not None}
            if os_:
                out["os"] = os_
            continue
        if value is None:
            continue
        if key == "id":
            value = agent_id(value)
        elif key in DATE_FIELDS:
            value = iso(value)
        elif key == "group":
            value = value.split(",") if value else []
            if not value:
                continue
        out[key] = value
    return out


class PageCache:
    """Recent list pages, valid while the database is unchanged.

    Validity is SQLite's ``PRAGMA data_version`` read on a connection of the cache's own that
    never writes: it changes whenever any connection commits (the daemon's writer, a CLI in
    another process), so a cached page is served only if nothing at all was written since
    it was read. The version is read before the query, so a page is never labelled newer
    than its data. Callers do not cache time-dependent queries (timeframes)."""

    def __init__(self, size: int = 32):
        self.size = size
        self._lock = threading.Lock()
        self._pages: OrderedDict = OrderedDict()
        self._conn: sqlite3.Connection | None = None
        self.hits = self.misses = 0

    def version(self, path: Path) -> int:
        with self._lock:
            if self._conn is None:
                self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def get(self, key, version: int, *, count_miss: bool = True):
        with self._lock:
            found = self._pages.get(key)
            if found is not None and found[0] == version:
                self._pages.move_to_end(key)
                self.hits += 1
                return found[1]
            if count_miss:
                self.misses += 1
            return None

    def put(self, key, version: int, page) -> None:
        with self._lock:
            self._pages[key] = (version, page)
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._pages.clear()


@dataclass
class Settings:
    """The ``agents`` section of the config."""

    disconnection_time: int = 600
    auto_remove_after: int | None = None
    check_interval: float = 10.0
    node_name: str = "node01"

    @classmethod
    def from_config(cls, section: dict) -> Settings:
        return cls(disconnection_time=section.get("disconnection_time", 600),
                   auto_remove_after=section.get("remove_disconnected_after"),
                   check_interval=section.get("status_check_interval", 10.0),
                   node_name=section.get("node_name", "node01"))


@dataclass
class Registry:
    """What every operation needs: the database, the home's etc/ and the settings.

    ``keys_changed`` is called after a change that client.keys must reflect (the daemon
    batches those into one rewrite; the CLI writes at once)."""

    db: Database
    etc: Path
    settings: Settings = field(default_factory=Settings)
    keys_changed: Callable[[], None] = lambda: None
    cache: PageCache = field(default_factory=lambda: PageCache())

    @property
    def shared(self) -> Path:
        return self.etc / "shared"

    @property
    def client_keys(self) -> Path:
        return self.etc / "client.keys"
