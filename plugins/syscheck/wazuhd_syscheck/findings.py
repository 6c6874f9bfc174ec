"""The operations behind ``/syscheck``: findings, scans, clearing and the last scan.

Plain async functions guarded by RBAC (``syscheck:read|run|clear`` on ``agent:id`` and
``agent:group``), usable from the API, the CLI or a forwarding cluster node alike.
Agent 000 is this host; for any other agent a scan is a queued task of the agents
plugin's task table (module ``syscheck``), taken by the agent-communication side.
"""

from __future__ import annotations

import time

from wazuhd.errors import WazuhError, error_for
from wazuhd.query import Field, Query, Schema, run_sql
from wazuhd.rbac import expose_resources
from wazuhd.results import AffectedItemsResult

from wazuhd_agents.db import Registry, agent_id
from wazuhd_agents.registry import agent_groups, scope

from wazuhd_syscheck import baseline

MANAGER_ID = "000"
MODULE, SCAN_COMMAND, PENDING = "syscheck", "scan", "Pending"

FINDINGS = Schema([
    Field("file", "file"), Field("type", "type"), Field("size", "size", "integer"),
    Field("perm", "perm"), Field("uid", "uid"), Field("gid", "gid"), Field("uname", "uname"),
    Field("gname", "gname"), Field("mtime", "mtime", "date"), Field("inode", "inode", "integer"),
    Field("md5", "md5"), Field("sha1", "sha1"), Field("sha256", "sha256"),
    Field("attributes", "attributes"), Field("changes", "changes", "integer"),
    Field("date", "date", "date"), Field("arch", "arch"), Field("value.name", "value_name"),
    Field("value.type", "value_type"),
], id_field="file", table="fim_entry")
SUMMARY = ("file", "mtime", "date")
_DATES = ("mtime", "date")


def _iso(epoch) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _present(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if value is None or (isinstance(value, dict) and all(v is None for v in value.values())):
            continue
        out[key] = _iso(value) if key in _DATES else value
    return out


async def _require_agent(registry: Registry, agent: str) -> None:
    if agent == MANAGER_ID:
        return
    row = await registry.db.fetchone("SELECT 1 FROM agent WHERE id = ?", (int(agent),))
    if row is None:
        raise error_for(1701)


@expose_resources(actions=["syscheck:read"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def get_findings(rbac, agent_list: list[str], *, registry: Registry, db, filters: dict | None = None,
                       summary: bool = False, **query) -> AffectedItemsResult:
    """``GET /syscheck/{agent_id}``: the agent's baseline, filtered and paged in SQL."""
    result = AffectedItemsResult(all_msg="FIM findings of the agent were returned",
                                 some_msg="Some FIM findings of the agent were not returned",
                                 none_msg="No FIM information was returned")
    agent = agent_list[0]
    await _require_agent(registry, agent)
    clauses, params = ["agent_id = ?"], [int(agent)]
    for name, value in (filters or {}).items():
        if value is None:
            continue
        if name == "hash":
            clauses.append("(md5 = ? COLLATE NOCASE OR sha1 = ? COLLATE NOCASE OR sha256 = ? COLLATE NOCASE)")
            params.extend([value] * 3)
        else:
            column = FINDINGS.fields[name].column
            clauses.append(f"{column} = ?" + (" COLLATE NOCASE" if name in ("md5", "sha1", "sha256") else ""))
            params.append(value)
    if summary:
        query["select"] = ",".join(SUMMARY)
    query_ = Query.from_params(**query)
    page = await db.read(lambda conn: run_sql(conn, query_, FINDINGS, where=" AND ".join(clauses),
                                              where_params=params))
    result.affected_items = [_present(row) for row in page.items]
    result.total_affected_items = page.total
    return result


@expose_resources(actions=["syscheck:read"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def last_scan(rbac, agent_list: list[str], *, registry: Registry, db) -> AffectedItemsResult:
    """``GET /syscheck/{agent_id}/last_scan``: start and end of the last scan (end null while it runs)."""
    result = AffectedItemsResult(all_msg="Last syscheck scan of the agent was returned",
                                 some_msg="", none_msg="No last scan information was returned")
    agent = agent_list[0]
    await _require_agent(registry, agent)
    row = await db.fetchone("SELECT start, end FROM fim_scan WHERE agent_id = ?", (int(agent),))
    result.affected_items = [{"start": _iso(row["start"]) if row and row["start"] else None,
                              "end": _iso(row["end"]) if row and row["end"] else None}]
    result.total_affected_items = 1
    return result


@expose_resources(actions=["syscheck:clear"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def clear_findings(rbac, agent_list: list[str], *, registry: Registry, db, monitor) -> AffectedItemsResult:
    """``DELETE /syscheck/{agent_id}``: forget the agent's baseline (000: the next scan records it anew)."""
    result = AffectedItemsResult(all_msg="Syscheck database was cleared on returned agents",
                                 some_msg="Syscheck database was not cleared on some agents",
                                 none_msg="No syscheck database was cleared")
    agent = agent_list[0]
    await _require_agent(registry, agent)
    if agent == MANAGER_ID:
        await monitor.clear()
    else:
        await baseline.clear(db, int(agent))
    result.add_affected_items([agent])
    return result


@expose_resources(actions=["syscheck:run"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def run_scan(rbac, agent_list: list[str] | None = None, *, registry: Registry, start_local,
                   rbac_filters=None) -> AffectedItemsResult:
    """``PUT /syscheck``: a scan now on 000 (``start_local()``), a queued task for each other
    targeted active agent; explicit unknown agents fail with 1701, inactive ones with 1707."""
    result = AffectedItemsResult(all_msg="Syscheck scan was restarted on returned agents",
                                 some_msg="Syscheck scan was not restarted on some agents",
                                 none_msg="No syscheck scan was restarted")
    explicit = agent_list is not None
    where, params = scope(agent_list, rbac_filters)
    now = int(time.time())
    node = registry.settings.node_name

    def work(conn):
        rows = conn.execute(f"SELECT agent.id, agent.connection_status FROM agent WHERE ({where})",
                            params).fetchall()
        active = [r[0] for r in rows if r[0] == 0 or r[1] == "active"]
        inactive = [r[0] for r in rows if r[0] != 0 and r[1] != "active"]
        conn.executemany("INSERT INTO task (agent_id, node, module, command, status, create_time,"
                         " last_update_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [(n, node, MODULE, SCAN_COMMAND, PENDING, now, now) for n in active if n != 0])
        return active, inactive, {r[0] for r in rows}

    active, inactive, found = await registry.db.write(work)
    if 0 in active:
        start_local()
    if explicit:
        for missing in sorted(a for a in agent_list if int(a) not in found):
            result.add_failed_item(missing, error_for(1701))
        for number in inactive:
            result.add_failed_item(agent_id(number), WazuhError(1707))
    result.add_affected_items(agent_id(n) for n in sorted(active))
    return result
