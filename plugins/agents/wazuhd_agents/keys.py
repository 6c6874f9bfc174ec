"""Agent keys and ``etc/client.keys`` in Wazuh's format.

A line is ``ID NAME IP KEY`` (the key: 64 hex characters). A removed agent that was not
purged stays as ``ID !NAME IP KEY`` so its id is never reused (Wazuh's authd does the same).
What the API hands out (``GET /agents/{id}/key``, ``POST /agents``) is the base64 of the
agent's line, which ``agent-auth -k`` / ``manage_agents -i`` import.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import sqlite3
import time

from wazuhd.errors import WazuhError, error_for
from wazuhd.home import write_atomic
from wazuhd.rbac import expose_resources
from wazuhd.results import AffectedItemsResult

from wazuhd_agents.db import Registry, agent_id

log = logging.getLogger("wazuhd.agents.keys")

KEY_RE = re.compile(r"^[A-Za-z0-9+/=]{64}$")
_LINE = re.compile(r"^(\d+)\s+(!?)(\S+)\s+(\S+)\s+(\S+)\s*$")


def new_key() -> str:
    """A fresh agent key: 64 hex characters, as Wazuh's authd makes them."""
    return hashlib.sha256(secrets.token_bytes(32)).hexdigest()


def encoded(agent: int, name: str, ip: str, key: str) -> str:
    return base64.b64encode(f"{agent_id(agent)} {name} {ip} {key}".encode()).decode()


# -- client.keys ----------------------------------------------------------------------------


def render_client_keys(conn: sqlite3.Connection) -> str:
    rows = conn.execute(
        "SELECT id, name, register_ip AS ip, internal_key AS key, 0 AS removed FROM agent WHERE id > 0"
        " UNION ALL SELECT id, name, ip, internal_key, 1 FROM agent_removed ORDER BY id")
    return "".join(f"{agent_id(r['id'])} {'!' if r['removed'] else ''}{r['name']} {r['ip'] or 'any'}"
                   f" {r['key']}\n" for r in rows)


def write_client_keys(registry: Registry) -> int:
    """Rewrite etc/client.keys from the registry, atomically, mode 0640. Blocking."""
    text = registry.db.read_sync(render_client_keys)
    write_atomic(registry.client_keys, text, 0o640)
    return text.count("\n")


def parse_client_keys(text: str) -> tuple[list[tuple[int, str, str, str, bool]], list[str]]:
    """((id, name, ip, key, removed) per valid line, problems per invalid line)."""
    entries, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            problems.append(f"line {number}: not 'ID NAME IP KEY'")
            continue
        ident, removed, name, ip, key = match.groups()
        if name.startswith("#") or name.startswith("!"):
            removed, name = "!", name.lstrip("#!")
        entries.append((int(ident), name, ip, key, bool(removed)))
    return entries, problems


def import_client_keys(registry: Registry, text: str, *, node_name: str = "node01") -> dict:
    """Import agents (same id, name, IP and key) from client.keys text. Blocking.

    Agents already registered with the same id are left alone when identical and reported
    as conflicts otherwise; duplicate names or IPs are reported too. Returns counts."""
    entries, problems = parse_client_keys(text)
    now = int(time.time())
    report = {"imported": 0, "removed": 0, "unchanged": 0, "conflicts": [], "invalid": problems}

    def work(conn):
        for ident, name, ip, key, removed in entries:
            if ident == 0:
                report["conflicts"].append(f"{agent_id(ident)}: id 000 is the manager")
                continue
            if removed:
                conn.execute("INSERT OR IGNORE INTO agent_removed (id, name, ip, internal_key, removed_at)"
                             " VALUES (?, ?, ?, ?, ?)", (ident, name, ip, key, now))
                report["removed"] += 1
                continue
            row = conn.execute("SELECT name, register_ip, internal_key FROM agent WHERE id = ?",
                               (ident,)).fetchone()
            if row is not None:
                if (row[0], row[1], row[2]) == (name, ip, key):
                    report["unchanged"] += 1
                else:
                    report["conflicts"].append(f"{agent_id(ident)}: another agent has this id")
                continue
            if conn.execute("SELECT 1 FROM agent WHERE name = ?", (name,)).fetchone():
                report["conflicts"].append(f"{agent_id(ident)}: name {name!r} is taken")
                continue
            if ip.lower() != "any" and conn.execute(
                    "SELECT 1 FROM agent WHERE register_ip = ? AND register_ip != 'any'", (ip,)).fetchone():
                report["conflicts"].append(f"{agent_id(ident)}: IP {ip} is taken")
                continue
            conn.execute("INSERT INTO agent (id, name, ip, register_ip, internal_key, date_add, node_name,"
                         " groups) VALUES (?, ?, ?, ?, ?, ?, ?, 'default')",
                         (ident, name, ip, ip, key, now, node_name))
            conn.execute("INSERT INTO belongs (agent_id, grp, priority) VALUES (?, 'default', 0)", (ident,))
            conn.execute("DELETE FROM agent_removed WHERE id = ?", (ident,))
            report["imported"] += 1

    registry.db.write_sync(work)
    return report


# -- the API operation --------------------------------------------------------------------


async def _agent_groups(ids, arguments):
    from wazuhd_agents.registry import agent_groups
    return await agent_groups(ids, arguments)


@expose_resources(actions=["agent:read"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": _agent_groups})
async def get_agents_keys(rbac, agent_list: list[str], *, registry: Registry) -> AffectedItemsResult:
    """``GET /agents/{agent_id}/key``: each agent's base64 key line (000 has none: 1703)."""
    result = AffectedItemsResult(all_msg="Obtained keys for all selected agents",
                                 some_msg="Some agent keys were not obtained",
                                 none_msg="No agent keys were obtained")
    numbers = {a: int(a) for a in agent_list}
    rows = await registry.db.fetchall(
        f"SELECT id, name, register_ip, internal_key FROM agent WHERE id IN ({','.join('?' * len(numbers))})",
        list(numbers.values())) if numbers else []
    found = {row["id"]: row for row in rows}
    for ident, number in numbers.items():
        if number == 0:
            result.add_failed_item(ident, WazuhError(1703))
        elif number not in found:
            result.add_failed_item(ident, error_for(1701))
        else:
            row = found[number]
            result.add_affected_items([{"id": agent_id(number),
                                        "key": encoded(number, row["name"], row["register_ip"] or "any",
                                                       row["internal_key"])}])
    return result
