"""Operations that reach into an agent: upgrades, the uninstall permission check, an agent's
active configuration, its component stats and the manager daemons' per-agent stats.

No agent connection exists in this daemon yet (the agent-communication plugin will bring
it), so:

* upgrades become tasks in the store (module ``upgrade_module``), ``Pending`` until that
  plugin takes them (:func:`wazuhd_agents.tasks.take_pending_sync`, which hands over the
  task's parameters); ``GET /agents/upgrade_result`` shows each task's true state in
  Wazuh's upgrade words ("In queue", "Updating", "Updated", "Error", "Timeout");
* reading from a live agent answers as Wazuh answers when it cannot: an agent that is not
  active gets 1740 (configuration, component stats) or 1707 (daemon stats); an agent marked
  active that nothing can reach gets 1121 (the request channel is not there). Agent 000's
  configuration is the daemon's own (secrets masked).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from wazuhd.logs import mask_secrets
from wazuhd.errors import WazuhError, error_for, register_codes
from wazuhd.rbac import expose_resources
from wazuhd.results import AffectedItemsResult, WazuhResult

from wazuhd.query import to_sql

from wazuhd_agents.db import AGENTS, VERSION, Registry, agent_id, iso
from wazuhd_agents.registry import agent_groups, agent_query, explicit_agents, scope
from wazuhd_agents.tasks import DONE, FAILED, IN_PROGRESS, PENDING, TIMEOUT

UPGRADE_MODULE = "upgrade_module"
UPGRADE_COMMANDS = ("upgrade", "upgrade_custom")

#: Wazuh's upgrade module errors come back as 1810 + the module's code (framework/wazuh/agent.py);
#: the messages are the module's own.
UPGRADE_CODES = {
    1820: "Upgrade procedure could not start. Agent already upgrading",
    1822: "Current agent version is greater or equal",
    1823: "Upgrading an agent to a version higher than the manager requires the force flag",
    1826: "The WPK file does not exist",
    1817: "No task in DB",
}
NO_CHANNEL = "no agent-communication plugin is loaded: nothing can reach the agent yet"

#: Task states as GET /agents/upgrade_result words them (Wazuh's upgrade states).
UPGRADE_STATUS = {PENDING: "In queue", IN_PROGRESS: "Updating", DONE: "Updated", FAILED: "Error",
                  TIMEOUT: "Timeout"}

register_codes(UPGRADE_CODES)


def _with_q(where: str, params: list, q: str | None) -> tuple[str, list]:
    """The agents of ``where`` that also match the query language's ``q``."""
    if not q:
        return where, params
    statement = to_sql(agent_query(q=q, select=["id"], limit=None), AGENTS, where=where, where_params=params)
    return f"agent.id IN (WITH t(c0) AS ({statement.sql}) SELECT c0 FROM t)", list(statement.params)


def _version_tuple(text: str | None) -> tuple[int, ...]:
    digits = (text or "").lower().replace("wazuh", "").strip().lstrip("v")
    parts = []
    for piece in digits.split("."):
        number = "".join(c for c in piece if c.isdigit())
        parts.append(int(number) if number else 0)
    return tuple(parts + [0] * (3 - len(parts)))[:3]


# -- upgrades ----------------------------------------------------------------------------


def _upgrade_result() -> AffectedItemsResult:
    return AffectedItemsResult(all_msg="All upgrade tasks were created",
                               some_msg="Some agents were not upgraded",
                               none_msg="No upgrade task was created")


async def _queue_upgrades(registry: Registry, command: str, parameters: dict, agent_list, rbac_filters,
                          filters: Mapping | None, result: AffectedItemsResult, *, q: str | None,
                          check_version: bool, force: bool, target: str) -> AffectedItemsResult:
    explicit = agent_list is not None
    agent_list = await explicit_agents(registry, agent_list, result)
    where, params = _with_q(*scope(agent_list, rbac_filters, filters, extra=["agent.id != 0"]), q)
    now = int(time.time())
    node = registry.settings.node_name
    manager = _version_tuple(VERSION)
    wanted = _version_tuple(target)
    encoded = json.dumps(parameters, sort_keys=True)

    def work(conn):
        rows = conn.execute(f"SELECT agent.id, agent.connection_status, agent.version FROM agent WHERE {where}"
                            " ORDER BY agent.id", params).fetchall()
        busy = {r[0] for r in conn.execute(
            "SELECT DISTINCT agent_id FROM task WHERE module = ? AND status IN (?, ?)",
            (UPGRADE_MODULE, PENDING, IN_PROGRESS))}
        failed, queued = [], []
        for number, status, version in rows:
            if status != "active":
                failed.append((number, 1707))
            elif number in busy:
                failed.append((number, 1820))
            elif check_version and not force and wanted > manager:
                failed.append((number, 1823))
            elif check_version and not force and _version_tuple(version) >= wanted:
                failed.append((number, 1822))
            else:
                queued.append(number)
        created = []
        for number in queued:
            cursor = conn.execute(
                "INSERT INTO task (agent_id, node, module, command, status, create_time, last_update_time,"
                " parameters) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (number, node, UPGRADE_MODULE, command, PENDING, now, now, encoded))
            created.append((number, cursor.lastrowid))
        return failed, created

    failed, created = await registry.db.write(work)
    for number, code in failed:
        # A list operation (agents_list=all) reports only what it did, as Wazuh's does for
        # inactive agents it skips; explicit agents get each reason.
        if explicit or code != 1707:
            result.add_failed_item(agent_id(number), WazuhError(code))
    result.add_affected_items({"agent": agent_id(number), "task_id": task} for number, task in created)
    return result


@expose_resources(actions=["agent:upgrade"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def upgrade_agents(rbac, agent_list=None, *, registry: Registry, rbac_filters=None,
                         filters: Mapping | None = None, wpk_repo: str | None = None,
                         upgrade_version: str | None = None, use_http: bool = False, force: bool = False,
                         package_type: str | None = None, q: str | None = None) -> AffectedItemsResult:
    """``PUT /agents/upgrade``: an upgrade task per eligible agent (active, not already
    upgrading, older than the target unless ``force``), queued for delivery."""
    target = upgrade_version or VERSION
    parameters = {"version": "v" + ".".join(map(str, _version_tuple(target))), "use_http": bool(use_http),
                  "force_upgrade": bool(force)}
    if wpk_repo:
        parameters["wpk_repo"] = wpk_repo
    if package_type:
        parameters["package_type"] = package_type
    return await _queue_upgrades(registry, "upgrade", parameters, agent_list, rbac_filters, filters,
                                 _upgrade_result(), q=q, check_version=True, force=force, target=target)


@expose_resources(actions=["agent:upgrade"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def upgrade_agents_custom(rbac, agent_list=None, *, registry: Registry, home: Path, rbac_filters=None,
                                filters: Mapping | None = None, file_path: str,
                                installer: str | None = None, q: str | None = None) -> AffectedItemsResult:
    """``PUT /agents/upgrade_custom``: the WPK must be a file under the daemon's home (as
    Wazuh requires it under its installation directory); each eligible agent gets a task."""
    result = _upgrade_result()
    path = Path(file_path)
    path = path if path.is_absolute() else home / path
    try:
        inside = path.resolve().is_relative_to(Path(home).resolve())
    except OSError:
        inside = False
    if not inside or not path.is_file():
        # Wazuh's module refuses each targeted agent with the same reason.
        if agent_list is None:
            where, params = _with_q(*scope(None, rbac_filters, filters, extra=["agent.id != 0"]), q)
            rows = await registry.db.fetchall(f"SELECT agent.id FROM agent WHERE {where}", params)
            agent_list = [agent_id(row["id"]) for row in rows]
        for target in agent_list:
            result.add_failed_item(target, error_for(1826))
        return result
    parameters = {"file_path": str(path)}
    if installer:
        parameters["installer"] = installer
    return await _queue_upgrades(registry, "upgrade_custom", parameters, agent_list, rbac_filters, filters,
                                 result, q=q, check_version=False, force=True, target=VERSION)


@expose_resources(actions=["agent:upgrade"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def get_upgrade_result(rbac, agent_list=None, *, registry: Registry, rbac_filters=None,
                             filters: Mapping | None = None, q: str | None = None) -> AffectedItemsResult:
    """``GET /agents/upgrade_result``: the latest upgrade task of each agent, as it is."""
    result = AffectedItemsResult(all_msg="All upgrade tasks were returned",
                                 some_msg="Not all upgrade tasks were returned",
                                 none_msg="No upgrade task was returned")
    explicit = agent_list is not None
    agent_list = await explicit_agents(registry, agent_list, result)
    where, params = scope(agent_list, rbac_filters, filters, extra=["agent.id != 0"])
    where, params = _with_q(where, params, q)
    holes = ",".join("?" * len(UPGRADE_COMMANDS))
    rows = await registry.db.fetchall(
        "SELECT agent.id AS agent, t.task_id, t.node, t.module, t.command, t.status, t.error_message,"
        " t.create_time, t.last_update_time FROM agent LEFT JOIN task t ON t.task_id = ("
        f" SELECT MAX(task_id) FROM task WHERE agent_id = agent.id AND module = ? AND command IN ({holes}))"
        f" WHERE {where} ORDER BY agent.id", [UPGRADE_MODULE, *UPGRADE_COMMANDS, *params])
    for row in rows:
        if row["task_id"] is None:
            if explicit:
                result.add_failed_item(agent_id(row["agent"]), WazuhError(1817))
            continue
        item = {"message": "Success", "agent": agent_id(row["agent"]), "task_id": row["task_id"],
                "node": row["node"], "module": row["module"], "command": row["command"],
                "status": UPGRADE_STATUS.get(row["status"], row["status"]),
                "create_time": iso(row["create_time"]), "update_time": iso(row["last_update_time"])}
        if row["error_message"]:
            item["error_msg"] = row["error_message"]
        result.affected_items.append(item)
    return result


# -- uninstall ---------------------------------------------------------------------------


@expose_resources(actions=["agent:uninstall"], resources=["*:*:*"])
async def check_uninstall_permission(rbac) -> WazuhResult:
    """``GET /agents/uninstall``: Wazuh's uninstaller asks this first (the caller may
    uninstall agents), then removes its agent with ``DELETE /agents``."""
    return WazuhResult({"message": "User has permission to uninstall agents."})


# -- reading from an agent ---------------------------------------------------------------

#: component -> the configurations Wazuh's ``GET /agents/{id}/config`` accepts for it.
CONFIGURATIONS = {
    "agent": ("client", "buffer", "labels", "internal", "anti_tampering"),
    "agentless": ("agentless",),
    "analysis": ("global", "active_response", "alerts", "command", "rules", "decoders", "internal",
                 "rule_test"),
    "auth": ("auth",),
    "com": ("active-response", "logging", "internal", "cluster"),
    "csyslog": ("csyslog",),
    "integrator": ("integration",),
    "logcollector": ("localfile", "socket", "internal"),
    "mail": ("global", "alerts", "internal"),
    "monitor": ("global", "internal", "reports"),
    "request": ("global", "remote", "internal"),
    "syscheck": ("syscheck", "rootcheck", "internal"),
    "wazuh-db": ("internal", "wdb"),
    "wmodules": ("wmodules",),
}

#: Agent 000: (component, configuration) -> the section of etc/wazuhd.yaml that does that job
#: here. Components this daemon does not run answer 1117 as Wazuh does for a stopped one.
MANAGER_SECTIONS = {
    ("analysis", "global"): "analysis", ("analysis", "rules"): "analysis", ("analysis", "decoders"): "analysis",
    ("analysis", "alerts"): "analysis", ("analysis", "internal"): "queue",
    ("auth", "auth"): "agents", ("com", "logging"): "logging", ("monitor", "global"): "agents",
    ("request", "remote"): "sockets", ("wazuh-db", "wdb"): "agents",
}


async def _agent_row(registry: Registry, ident: str) -> dict:
    row = await registry.db.fetchone("SELECT id, connection_status, version FROM agent WHERE id = ?", (int(ident),))
    if row is None:
        raise error_for(1701)
    return row


def _unreachable(status: str, inactive_code: int):
    if status != "active":
        return WazuhError(inactive_code)
    return error_for(1121, NO_CHANNEL)


@expose_resources(actions=["agent:read"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def get_agent_config(rbac, agent_list: Sequence[str], *, registry: Registry, config: Mapping,
                           component: str, configuration: str) -> WazuhResult:
    """``GET /agents/{agent_id}/config/{component}/{configuration}``."""

    if configuration not in CONFIGURATIONS.get(component, ()):
        raise error_for(1128, f"{configuration!r} is not a configuration of {component!r}")
    row = await _agent_row(registry, agent_list[0])
    if row["id"] != 0:
        raise _unreachable(row["connection_status"], 1740)
    section = MANAGER_SECTIONS.get((component, configuration))
    if section is None or section not in config:
        raise error_for(1117, f"wazuhd runs no {component!r} component with a {configuration!r} configuration")
    return WazuhResult({"data": {configuration: mask_secrets(dict(config[section]))}})


@expose_resources(actions=["agent:read"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def get_component_stats(rbac, agent_list: Sequence[str], *, registry: Registry,
                              component: str) -> AffectedItemsResult:
    """``GET /agents/{agent_id}/stats/{component}``: failed items say why nothing was read."""
    result = AffectedItemsResult(all_msg="Statistical information for each agent was successfully read",
                                 some_msg="Could not read statistical information for some agents",
                                 none_msg="Could not read statistical information for any agent")
    for ident in agent_list:
        row = await registry.db.fetchone("SELECT id, connection_status, version FROM agent WHERE id = ?",
                                         (int(ident),))
        if row is None:
            result.add_failed_item(ident, error_for(1701))
        elif row["id"] == 0:
            # The manager runs no wazuh-agentd nor wazuh-logcollector of its own to ask.
            result.add_failed_item(ident, error_for(1117, f"wazuhd runs no {component!r} component"))
        else:
            result.add_failed_item(ident, _unreachable(row["connection_status"], 1740))
    return result


DAEMONS = ("wazuh-remoted", "wazuh-analysisd")


@expose_resources(actions=["agent:read"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def get_daemons_stats_agents(rbac, agent_list: Sequence[str], *, registry: Registry,
                                   daemons_list: Sequence[str] | None = None) -> AffectedItemsResult:
    """``GET /agents/{agent_id}/daemons/stats``: as Wazuh, 000 is refused (1703), unknown
    agents 1701, inactive ones 1707; for active ones each daemon's per-agent counters would
    come from the agent-communication plugin, which is not there: one failed item per daemon."""
    result = AffectedItemsResult(all_msg="Statistical information for each daemon was successfully read",
                                 some_msg="Could not read statistical information for some daemons",
                                 none_msg="Could not read statistical information for any daemon")
    eligible = []
    for ident in agent_list:
        if ident == "000":
            result.add_failed_item(ident, WazuhError(1703))
            continue
        row = await registry.db.fetchone("SELECT connection_status FROM agent WHERE id = ?", (int(ident),))
        if row is None:
            result.add_failed_item(ident, error_for(1701))
        elif row["connection_status"] != "active":
            result.add_failed_item(ident, WazuhError(1707))
        else:
            eligible.append(ident)
    if eligible:
        for daemon in daemons_list or DAEMONS:
            result.add_failed_item(daemon, error_for(1121, NO_CHANNEL))
    return result
