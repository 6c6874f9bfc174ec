"""Operations an agent has to carry out (restart, reconnect), kept as tasks in the store.

A task starts ``Pending`` (queued: nothing has delivered it yet). The agent-communication
plugin takes pending tasks with :func:`take_pending_sync` (-> ``In progress``) and reports
the outcome with :func:`finish_task_sync` (``Done``, ``Failed``, ``Timeout``);
``GET /tasks/status`` shows each state as it is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence

from wazuhd.errors import WazuhError, error_for
from wazuhd.query import Field, Query, Schema, run_sql
from wazuhd.rbac import expose_resources
from wazuhd.results import AffectedItemsResult

from wazuhd_agents.db import Registry, agent_id, iso
from wazuhd_agents.registry import agent_groups, explicit_agents, scope
from wazuhd_agents.groups import group_exists

PENDING, IN_PROGRESS, DONE, FAILED, TIMEOUT = "Pending", "In progress", "Done", "Failed", "Timeout"
STATES = (PENDING, IN_PROGRESS, DONE, FAILED, TIMEOUT)
MODULE = "agent"

TASKS = Schema([
    Field("task_id", "task.task_id", "integer"),
    Field("agent", "task.agent_id", "integer"),
    Field("node", "task.node"),
    Field("module", "task.module"),
    Field("command", "task.command"),
    Field("status", "task.status"),
    Field("error_message", "task.error_message"),
    Field("create_time", "task.create_time", "date"),
    Field("update_time", "task.last_update_time", "date"),
], id_field="task_id", table="task")


def _present(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if value is None:
            continue
        if key == "agent":
            value = agent_id(value)
        elif key in ("create_time", "update_time"):
            value = iso(value)
        out[key] = value
    return out


async def _queue(registry: Registry, command: str, where: str, params: list, explicit: bool,
                 result: AffectedItemsResult) -> AffectedItemsResult:
    """One task per targeted active agent, in one transaction; inactive explicit ones: 1707."""
    now = int(time.time())
    node = registry.settings.node_name

    def work(conn):
        rows = conn.execute(f"SELECT agent.id, agent.connection_status FROM agent WHERE ({where})"
                            " AND agent.id != 0", params).fetchall()
        active = [r[0] for r in rows if r[1] == "active"]
        inactive = [r[0] for r in rows if r[1] != "active"]
        conn.executemany("INSERT INTO task (agent_id, node, module, command, status, create_time,"
                         " last_update_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [(n, node, MODULE, command, PENDING, now, now) for n in active])
        return active, inactive

    active, inactive = await registry.db.write(work)
    if explicit:
        for number in inactive:
            result.add_failed_item(agent_id(number), WazuhError(1707))
    result.add_affected_items(agent_id(n) for n in sorted(active))
    return result


def _result(verb: str) -> AffectedItemsResult:
    return AffectedItemsResult(all_msg=f"{verb} command was sent to all agents",
                               some_msg=f"{verb} command was not sent to some agents",
                               none_msg=f"{verb} command was not sent to any agent")


@expose_resources(actions=["agent:restart"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def restart_agents(rbac, agent_list=None, *, registry: Registry, rbac_filters=None,
                         filters: Mapping | None = None) -> AffectedItemsResult:
    """``PUT /agents/restart``, ``/agents/{agent_id}/restart``, ``/agents/group/{g}/restart``,
    ``/agents/node/{n}/restart``: a restart task for each targeted active agent."""
    result = _result("Restart")
    explicit = agent_list is not None
    if explicit:
        agent_list = await explicit_agents(registry, agent_list, result)
    where, params = scope(agent_list, rbac_filters, filters)
    return await _queue(registry, "restart", where, params, explicit, result)


async def restart_group(rbac, group_id: str, *, registry: Registry) -> AffectedItemsResult:
    await group_exists(registry, group_id)
    return await restart_agents(rbac, None, registry=registry, filters={"group": group_id})


async def restart_node(rbac, node_id: str, *, registry: Registry) -> AffectedItemsResult:
    if node_id != registry.settings.node_name:
        raise error_for(1730, node_id)
    return await restart_agents(rbac, None, registry=registry, filters={"node_name": node_id})


@expose_resources(actions=["agent:reconnect"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def reconnect_agents(rbac, agent_list=None, *, registry: Registry, rbac_filters=None) -> AffectedItemsResult:
    """``PUT /agents/reconnect``: a reconnect task for each targeted active agent."""
    result = AffectedItemsResult(all_msg="Force reconnect command was sent to all agents",
                                 some_msg="Force reconnect command was not sent to some agents",
                                 none_msg="Force reconnect command was not sent to any agent")
    explicit = agent_list is not None
    if explicit:
        agent_list = await explicit_agents(registry, agent_list, result)
    where, params = scope(agent_list, rbac_filters)
    return await _queue(registry, "reconnect", where, params, explicit, result)


@expose_resources(actions=["task:status"], resources=["*:*:*"])
async def get_task_status(rbac, *, registry: Registry, tasks_list: Sequence[str] | None = None,
                          agents_list: Sequence[str] | None = None, command: str | None = None,
                          node: str | None = None, module: str | None = None, status: str | None = None,
                          **query) -> AffectedItemsResult:
    """``GET /tasks/status``: tasks with their true state, filtered and paged in SQL."""
    result = AffectedItemsResult(all_msg="All specified task's status were returned",
                                 some_msg="Some status were not returned",
                                 none_msg="No status was returned")
    clauses, params = [], []
    for values, column in ((tasks_list, "task.task_id"), (agents_list, "task.agent_id")):
        if values:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(int(v) for v in values)
    for value, column in ((command, "task.command"), (node, "task.node"), (module, "task.module"),
                          (status, "task.status")):
        if value is not None:
            clauses.append(f"{column} = ? COLLATE NOCASE")
            params.append(value)
    where = " AND ".join(f"({c})" for c in clauses) or "1"
    query_ = Query.from_params(**{k: v for k, v in query.items()
                                  if k in ("offset", "limit", "sort", "search", "select", "q")})
    page = await registry.db.read(lambda conn: run_sql(conn, query_, TASKS, where=where, where_params=params))
    result.affected_items = [_present(row) for row in page.items]
    result.total_affected_items = page.total
    return result


def take_pending_sync(registry: Registry, agent: int | str | None = None, limit: int = 100) -> list[dict]:
    """Pending tasks (of one agent, or any), now In progress: for the agent-communication plugin.
    Each carries its module and parameters (an upgrade's version, repository, WPK path...)."""
    now = int(time.time())

    def work(conn):
        sql, params = "SELECT task_id, agent_id, command, module, parameters FROM task WHERE status = ?", [PENDING]
        if agent is not None:
            sql, params = sql + " AND agent_id = ?", params + [int(agent)]
        rows = conn.execute(sql + " ORDER BY task_id LIMIT ?", params + [limit]).fetchall()
        conn.executemany("UPDATE task SET status = ?, last_update_time = ? WHERE task_id = ?",
                         [(IN_PROGRESS, now, r[0]) for r in rows])
        return [{"task_id": r[0], "agent": agent_id(r[1]), "command": r[2], "module": r[3],
                 "parameters": json.loads(r[4]) if r[4] else {}} for r in rows]

    return registry.db.write_sync(work)


def finish_task_sync(registry: Registry, task_id: int, status: str, error_message: str | None = None) -> None:
    if status not in (DONE, FAILED, TIMEOUT):
        raise ValueError(f"a task finishes as Done, Failed or Timeout, not {status!r}")
    registry.db.execute_sync("UPDATE task SET status = ?, error_message = ?, last_update_time = ?"
                             " WHERE task_id = ?", (status, error_message, int(time.time()), task_id))
