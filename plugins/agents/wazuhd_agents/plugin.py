"""Hook implementations of the agents plugin: thin glue into the host."""

from __future__ import annotations

import logging
from importlib import resources

import trio
import yaml

from wazuhd import hookimpl
from wazuhd.config import ConfigSection
from wazuhd.daemon import Service
from wazuhd.rbac import RbacAction
from wazuhd.sockets import SocketCommand

from wazuhd_agents import api, cli, db, groups, keys, registry, stats, tasks

log = logging.getLogger("wazuhd.agents")

SECTION = ConfigSection("agents", description="The agent registry.", schema={
    "type": "object",
    "properties": {
        "disconnection_time": {"type": "integer", "minimum": 1, "default": 600,
                               "description": "Seconds without a keepalive before an agent is disconnected."},
        "remove_disconnected_after": {"type": ["integer", "null"], "minimum": 60, "default": None,
                                      "description": "Remove agents disconnected for longer than this many "
                                                     "seconds (off when null, the default)."},
        "status_check_interval": {"type": "number", "exclusiveMinimum": 0, "default": 10,
                                  "description": "Seconds between status checks."},
        "node_name": {"type": "string", "default": "node01", "description": "This node's name."},
        "client_keys_delay": {"type": "number", "minimum": 0, "default": 1.0,
                              "description": "Seconds to batch registrations before rewriting client.keys."},
    },
})


@hookimpl
def wazuhd_config_schema():
    return SECTION


@hookimpl
def wazuhd_db_migrations():
    return db.MIGRATIONS + stats.MIGRATIONS


class _Runtime:
    """The daemon's view: a registry whose client.keys rewrites are batched by a service."""

    def __init__(self, ctx):
        section = ctx.config["agents"]
        self.dirty = trio.Event()
        self.delay = section["client_keys_delay"]
        self.writes = 0
        self.registry = db.Registry(ctx.store.db(db.DATABASE), ctx.home.etc,
                                    db.Settings.from_config(section), keys_changed=self.mark)
        self.trio_token = None

    def mark(self) -> None:
        try:
            trio.lowlevel.current_trio_token()
            self.dirty.set()
        except RuntimeError:  # a worker thread
            trio.from_thread.run_sync(self.dirty.set, trio_token=self.trio_token)


@hookimpl
def wazuhd_startup(ctx):
    runtime = _Runtime(ctx)
    runtime.trio_token = trio.lowlevel.current_trio_token()
    reg = runtime.registry
    reg.db.write_sync(db.update_manager_os)
    groups.ensure_default_group(reg)
    count = reg.db.fetchall_sync("SELECT (SELECT COUNT(*) FROM agent WHERE id > 0)"
                                 " + (SELECT COUNT(*) FROM agent_removed) AS n")[0]["n"]
    if count == 0 and reg.client_keys.is_file():
        report = keys.import_client_keys(reg, reg.client_keys.read_text(), node_name=reg.settings.node_name)
        log.info("imported %d agents from %s (%d conflicts)", report["imported"], reg.client_keys,
                 len(report["conflicts"]))
    ctx.runtime["agents"] = reg
    ctx.runtime["agents.daemon"] = runtime
    runtime.dirty.set()
    ctx.add_counters("agents", lambda: {"client_keys_writes": runtime.writes, "page_cache_hits": reg.cache.hits,
                                        "page_cache_misses": reg.cache.misses})


@hookimpl
def wazuhd_shutdown(ctx):
    reg = ctx.runtime.get("agents")
    if reg is not None:
        reg.cache.close()


@hookimpl
def wazuhd_services(ctx):
    runtime: _Runtime = ctx.runtime["agents.daemon"]
    reg = runtime.registry

    async def keys_writer(task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()
        while True:
            await runtime.dirty.wait()
            await trio.sleep(runtime.delay)
            runtime.dirty = trio.Event()
            lines = await trio.to_thread.run_sync(keys.write_client_keys, reg)
            runtime.writes += 1
            log.debug("client.keys rewritten (%d lines)", lines)

    async def status_checker(task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()
        while True:
            await trio.sleep(reg.settings.check_interval)
            await trio.to_thread.run_sync(registry.disconnect_stale_sync, reg)

    history = ctx.runtime["agents.stats"] = stats.ManagerStats(ctx)
    return [Service("agents-client-keys", keys_writer), Service("agents-status", status_checker),
            Service("manager-stats", history.run)]


@hookimpl
def wazuhd_alert(alert):
    stats.TALLY.add(alert)


async def _keepalive(ctx, request):
    params = dict(request.parameters or {})
    ident = params.pop("id")
    reg = ctx.runtime["agents"]
    await trio.to_thread.run_sync(lambda: registry.update_keepalive_sync(reg, ident, **params))
    return {"id": db.agent_id(int(ident))}


async def _take_tasks(ctx, request):
    params = request.parameters or {}
    return await trio.to_thread.run_sync(
        lambda: tasks.take_pending_sync(ctx.runtime["agents"], params.get("agent"), params.get("limit", 100)))


async def _finish_task(ctx, request):
    params = request.parameters or {}
    await trio.to_thread.run_sync(lambda: tasks.finish_task_sync(
        ctx.runtime["agents"], int(params["task_id"]), params["status"], params.get("error_message")))
    return {"task_id": int(params["task_id"])}


@hookimpl
def wazuhd_socket_commands():
    return [
        SocketCommand("agents", "keepalive", _keepalive,
                      "Record an agent's keepalive: id, status (active|pending), os {...}, version, ip, "
                      "config_sum, merged_sum."),
        SocketCommand("agents", "take_tasks", _take_tasks, "Pending tasks (of one agent) -> In progress."),
        SocketCommand("agents", "finish_task", _finish_task, "Report a task's outcome: Done, Failed, Timeout."),
    ]


def _action(name, description, resources, *endpoints):
    return RbacAction(name, description, list(resources), list(endpoints))


_AGENT = ("agent:id", "agent:group")


MANAGER_READ = ("GET /manager/status", "GET /manager/info", "GET /manager/configuration",
                "GET /manager/configuration/validation", "GET /manager/logs", "GET /manager/logs/summary",
                "GET /manager/daemons/stats", "GET /manager/stats", "GET /manager/stats/hourly",
                "GET /manager/stats/weekly", "GET /manager/stats/analysisd", "GET /manager/stats/remoted",
                "PUT /manager/restart")


@hookimpl
def wazuhd_rbac_actions():
    return [
        _action("agent:read", "Access agents information (id, name, group, last keep alive, etc)", _AGENT,
                "GET /agents", "GET /agents/{agent_id}/key", "GET /agents/summary/status", "GET /agents/summary/os",
                "GET /agents/summary", "GET /agents/stats/distinct", "GET /agents/no_group", "GET /agents/outdated",
                "GET /agents/{agent_id}/group/is_sync", "GET /groups/{group_id}/agents", "GET /overview/agents",
                "GET /agents/{agent_id}/config/{component}/{configuration}", "GET /agents/{agent_id}/stats/{component}",
                "GET /agents/{agent_id}/daemons/stats"),
        _action("agent:create", "Create new agents", ["*:*"], "POST /agents", "POST /agents/insert",
                "POST /agents/insert/quick"),
        _action("agent:delete", "Delete agents", _AGENT, "DELETE /agents"),
        _action("agent:modify_group", "Change the group of agents", _AGENT, "PUT /agents/group",
                "DELETE /agents/group", "PUT /agents/{agent_id}/group/{group_id}",
                "DELETE /agents/{agent_id}/group/{group_id}", "DELETE /agents/{agent_id}/group"),
        _action("agent:restart", "Restart agents", _AGENT, "PUT /agents/restart", "PUT /agents/{agent_id}/restart",
                "PUT /agents/group/{group_id}/restart", "PUT /agents/node/{node_id}/restart"),
        _action("agent:reconnect", "Force reconnect agents", _AGENT, "PUT /agents/reconnect"),
        _action("agent:upgrade", "Upgrade the version of the agents", _AGENT, "PUT /agents/upgrade",
                "PUT /agents/upgrade_custom", "GET /agents/upgrade_result"),
        _action("agent:uninstall", "Check user's permission to uninstall agents", ["*:*"], "GET /agents/uninstall"),
        _action("group:read", "Access agent groups information (id, name, agents, etc)", ["group:id"],
                "GET /groups", "GET /groups/{group_id}/agents", "GET /groups/{group_id}/configuration",
                "GET /groups/{group_id}/files", "GET /groups/{group_id}/files/{file_name}", "GET /overview/agents"),
        _action("group:create", "Create new agent groups", ["*:*"], "POST /groups"),
        _action("group:delete", "Delete agent groups", ["group:id"], "DELETE /groups"),
        _action("group:update_config", "Change the configuration of agent groups", ["group:id"],
                "PUT /groups/{group_id}/configuration"),
        _action("group:modify_assignments", "Change the agents assigned to the group", ["group:id"],
                "PUT /agents/group", "DELETE /agents/group", "PUT /agents/{agent_id}/group/{group_id}",
                "DELETE /agents/{agent_id}/group/{group_id}", "DELETE /agents/{agent_id}/group"),
        _action("task:status", "Access task's status information", ["*:*"], "GET /tasks/status"),
        # manager:read and manager:restart are declared by the analysis plugin too: the catalog
        # lists the endpoints of both.
        _action("manager:read", "Read Wazuh manager configuration", ["*:*"], *MANAGER_READ),
        _action("manager:restart", "Restart Wazuh managers", ["*:*"], "PUT /manager/restart"),
        _action("manager:update_config", "Update current Wazuh manager configuration", ["*:*"],
                "PUT /manager/configuration"),
        _action("manager:read_api_config", "Read current API configuration", ["*:*"], "GET /manager/api/config"),
    ]


@hookimpl
def wazuhd_api_routes():
    return api.ROUTES


@hookimpl
def wazuhd_openapi():
    return yaml.safe_load(resources.files("wazuhd_agents").joinpath("openapi.yaml").read_text())


@hookimpl
def wazuhd_cli_commands():
    return cli.COMMANDS
