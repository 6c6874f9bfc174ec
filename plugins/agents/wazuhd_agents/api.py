"""HTTP routes: thin calls into the registry, groups, keys and tasks operations."""

from __future__ import annotations

from wazuhd.routes import ApiRequest, ApiResponse, Route

from wazuhd_agents import groups, keys, manager, registry, remote, tasks
from wazuhd_agents.db import agent_id

QUERY = ("offset", "limit", "sort", "search", "select", "q", "distinct")


def _reg(request: ApiRequest):
    return request.ctx.runtime["agents"]


def _query(request: ApiRequest, *names: str) -> dict:
    return {n: request.params[n] for n in (names or QUERY) if n in request.params}


def _ids(values) -> list[str] | None:
    """Agent ids as the registry names them ('1' and '0001' are '001'); None: every agent."""
    if values is None:
        return None
    if "all" in values:
        return None
    return list(dict.fromkeys(agent_id(int(v)) for v in values))


def _filters(request: ApiRequest) -> dict:
    return {n: request.params[n] for n in registry.FILTERS if n in request.params}


def _rbac(request: ApiRequest):
    return request.user.rbac


def _page(request: ApiRequest, result):
    """A plain agent page goes out pre-encoded (encoded once per cached page)."""
    body = None if request.params.get("pretty") else result.encoded()
    return result if body is None else ApiResponse(body=body)


async def list_agents(request: ApiRequest):
    return _page(request, await registry.get_agents(_rbac(request), _ids(request.params.get("agents_list")),
                                                    registry=_reg(request), filters=_filters(request),
                                                    **_query(request)))


async def add_agent(request: ApiRequest):
    body = request.body or {}
    return await registry.add_agent(_rbac(request), body.get("name"), body.get("ip") or request.remote_addr,
                                    registry=_reg(request))


async def insert_agent(request: ApiRequest):
    body = request.body or {}
    return await registry.add_agent(_rbac(request), body.get("name"), body.get("ip") or request.remote_addr,
                                    registry=_reg(request), agent_id=body.get("id"), key=body.get("key"),
                                    force=body.get("force"))


async def insert_quick(request: ApiRequest):
    return await registry.add_agent(_rbac(request), request.params["agent_name"], "any", registry=_reg(request))


async def delete_agents(request: ApiRequest):
    filters = _filters(request)
    return await registry.delete_agents(_rbac(request), _ids(request.params["agents_list"]), registry=_reg(request),
                                        purge=request.params.get("purge", False), filters=filters,
                                        q=request.params.get("q"))


async def agent_key(request: ApiRequest):
    return await keys.get_agents_keys(_rbac(request), _ids([request.params["agent_id"]]), registry=_reg(request))


async def summary_status(request: ApiRequest):
    return await registry.get_agents_summary_status(_rbac(request), registry=_reg(request))


async def summary_os(request: ApiRequest):
    return await registry.get_agents_summary_os(_rbac(request), registry=_reg(request))


async def summary(request: ApiRequest):
    return await registry.get_agents_summary(_rbac(request), _ids(request.params.get("agents_list")),
                                             registry=_reg(request))


async def distinct(request: ApiRequest):
    return await registry.get_distinct_agents(_rbac(request), None, registry=_reg(request),
                                              fields=request.params.get("fields") or [],
                                              **_query(request, "offset", "limit", "sort", "search", "q"))


async def no_group(request: ApiRequest):
    return _page(request, await registry.get_agents_no_group(_rbac(request), registry=_reg(request),
                                                             **_query(request)))


async def outdated(request: ApiRequest):
    return _page(request, await registry.get_outdated_agents(_rbac(request), registry=_reg(request),
                                                             **_query(request)))


async def assign_agents(request: ApiRequest):
    return await groups.assign_agents_to_group(_rbac(request), [request.params["group_id"]],
                                               _ids(request.params.get("agents_list")), registry=_reg(request),
                                               replace=bool(request.params.get("force_single_group")))


async def unassign_agents(request: ApiRequest):
    return await groups.remove_agents_from_group(_rbac(request), [request.params["group_id"]],
                                                 _ids(request.params["agents_list"]), registry=_reg(request))


async def assign_one(request: ApiRequest):
    return await groups.assign_agents_to_group(_rbac(request), [request.params["group_id"]],
                                               _ids([request.params["agent_id"]]), registry=_reg(request),
                                               replace=bool(request.params.get("force_single_group")))


async def unassign_one(request: ApiRequest):
    return await groups.remove_agents_from_group(_rbac(request), [request.params["group_id"]],
                                                 _ids([request.params["agent_id"]]), registry=_reg(request))


async def unassign_groups(request: ApiRequest):
    return await groups.remove_agent_from_groups(_rbac(request), _ids([request.params["agent_id"]]),
                                                 request.params.get("groups_list"), registry=_reg(request))


async def is_sync(request: ApiRequest):
    return await groups.get_agents_sync(_rbac(request), _ids([request.params["agent_id"]]), registry=_reg(request))


async def restart(request: ApiRequest):
    return await tasks.restart_agents(_rbac(request), _ids(request.params.get("agents_list")),
                                      registry=_reg(request))


async def reconnect(request: ApiRequest):
    return await tasks.reconnect_agents(_rbac(request), _ids(request.params.get("agents_list")),
                                        registry=_reg(request))


async def restart_one(request: ApiRequest):
    return await tasks.restart_agents(_rbac(request), _ids([request.params["agent_id"]]), registry=_reg(request))


async def restart_group(request: ApiRequest):
    return await tasks.restart_group(_rbac(request), request.params["group_id"], registry=_reg(request))


async def restart_node(request: ApiRequest):
    return await tasks.restart_node(_rbac(request), request.params["node_id"], registry=_reg(request))


def _group_list(request: ApiRequest):
    values = request.params.get("groups_list")
    return None if values is None or "all" in values else list(dict.fromkeys(values))


async def list_groups(request: ApiRequest):
    return await groups.get_groups(_rbac(request), _group_list(request), registry=_reg(request),
                                   hash_algorithm=request.params.get("hash"), **_query(request))


async def create_group(request: ApiRequest):
    return await groups.create_group(_rbac(request), (request.body or {}).get("group_id"), registry=_reg(request))


async def delete_groups(request: ApiRequest):
    return await groups.delete_groups(_rbac(request), _group_list(request), registry=_reg(request))


async def group_agents(request: ApiRequest):
    status = request.params.get("status")
    return _page(request, await groups.get_group_agents(
        _rbac(request), [request.params["group_id"]], registry=_reg(request),
        filters={"status": status} if status else None, **_query(request)))


async def group_configuration(request: ApiRequest):
    return await groups.get_group_configuration(_rbac(request), [request.params["group_id"]],
                                                registry=_reg(request), **_query(request, "offset", "limit"))


async def update_group_configuration(request: ApiRequest):
    return await groups.update_group_configuration(_rbac(request), [request.params["group_id"]],
                                                   request.body if request.body is not None else request.raw_body,
                                                   registry=_reg(request))


async def group_files(request: ApiRequest):
    return await groups.get_group_files(_rbac(request), [request.params["group_id"]], registry=_reg(request),
                                        hash_algorithm=request.params.get("hash"), **_query(request))


async def group_file(request: ApiRequest):
    return await groups.get_group_file(_rbac(request), [request.params["group_id"]], request.params["file_name"],
                                       registry=_reg(request), raw=bool(request.params.get("raw")))


async def overview(request: ApiRequest):
    return await registry.overview(_rbac(request), registry=_reg(request))


async def tasks_status(request: ApiRequest):
    return await tasks.get_task_status(_rbac(request), registry=_reg(request),
                                       tasks_list=request.params.get("tasks_list"),
                                       agents_list=request.params.get("agents_list"),
                                       command=request.params.get("command"), node=request.params.get("node"),
                                       module=request.params.get("module"), status=request.params.get("status"),
                                       **_query(request, "offset", "limit", "sort", "search", "select", "q"))


async def upgrade(request: ApiRequest):
    p = request.params
    return await remote.upgrade_agents(_rbac(request), _ids(p["agents_list"]), registry=_reg(request),
                                       filters=_filters(request), wpk_repo=p.get("wpk_repo"),
                                       upgrade_version=p.get("upgrade_version"), use_http=bool(p.get("use_http")),
                                       force=bool(p.get("force")), package_type=p.get("package_type"),
                                       q=p.get("q"))


async def upgrade_custom(request: ApiRequest):
    p = request.params
    return await remote.upgrade_agents_custom(_rbac(request), _ids(p["agents_list"]), registry=_reg(request),
                                              home=request.ctx.home.root, filters=_filters(request),
                                              file_path=p["file_path"], installer=p.get("installer"),
                                              q=p.get("q"))


async def upgrade_result(request: ApiRequest):
    return await remote.get_upgrade_result(_rbac(request), _ids(request.params.get("agents_list")),
                                           registry=_reg(request), filters=_filters(request),
                                           q=request.params.get("q"))


async def uninstall_permission(request: ApiRequest):
    return await remote.check_uninstall_permission(_rbac(request))


async def agent_config(request: ApiRequest):
    p = request.params
    return await remote.get_agent_config(_rbac(request), _ids([p["agent_id"]]), registry=_reg(request),
                                         config=request.ctx.config, component=p["component"],
                                         configuration=p["configuration"])


async def component_stats(request: ApiRequest):
    return await remote.get_component_stats(_rbac(request), _ids([request.params["agent_id"]]),
                                            registry=_reg(request), component=request.params["component"])


async def agent_daemons_stats(request: ApiRequest):
    return await remote.get_daemons_stats_agents(_rbac(request), _ids([request.params["agent_id"]]),
                                                 registry=_reg(request),
                                                 daemons_list=request.params.get("daemons_list"))


ROUTES = [
    Route("GET", "/agents", list_agents),
    Route("POST", "/agents", add_agent),
    Route("DELETE", "/agents", delete_agents),
    Route("POST", "/agents/insert", insert_agent),
    Route("POST", "/agents/insert/quick", insert_quick),
    Route("GET", "/agents/{agent_id}/key", agent_key),
    Route("GET", "/agents/summary/status", summary_status),
    Route("GET", "/agents/summary/os", summary_os),
    Route("GET", "/agents/summary", summary),
    Route("GET", "/agents/stats/distinct", distinct),
    Route("GET", "/agents/no_group", no_group),
    Route("GET", "/agents/outdated", outdated),
    Route("PUT", "/agents/group", assign_agents),
    Route("DELETE", "/agents/group", unassign_agents),
    Route("PUT", "/agents/{agent_id}/group/{group_id}", assign_one),
    Route("DELETE", "/agents/{agent_id}/group/{group_id}", unassign_one),
    Route("DELETE", "/agents/{agent_id}/group", unassign_groups),
    Route("GET", "/agents/{agent_id}/group/is_sync", is_sync),
    Route("PUT", "/agents/restart", restart),
    Route("PUT", "/agents/reconnect", reconnect),
    Route("PUT", "/agents/{agent_id}/restart", restart_one),
    Route("PUT", "/agents/group/{group_id}/restart", restart_group),
    Route("PUT", "/agents/node/{node_id}/restart", restart_node),
    Route("GET", "/groups", list_groups),
    Route("POST", "/groups", create_group),
    Route("DELETE", "/groups", delete_groups),
    Route("GET", "/groups/{group_id}/agents", group_agents),
    Route("GET", "/groups/{group_id}/configuration", group_configuration),
    Route("PUT", "/groups/{group_id}/configuration", update_group_configuration),
    Route("GET", "/groups/{group_id}/files", group_files),
    Route("GET", "/groups/{group_id}/files/{file_name}", group_file),
    Route("GET", "/overview/agents", overview),
    Route("GET", "/tasks/status", tasks_status),
    Route("PUT", "/agents/upgrade", upgrade),
    Route("PUT", "/agents/upgrade_custom", upgrade_custom),
    Route("GET", "/agents/upgrade_result", upgrade_result),
    Route("GET", "/agents/uninstall", uninstall_permission),
    Route("GET", "/agents/{agent_id}/config/{component}/{configuration}", agent_config),
    Route("GET", "/agents/{agent_id}/stats/{component}", component_stats),
    Route("GET", "/agents/{agent_id}/daemons/stats", agent_daemons_stats),
]


# -- /manager ---------------------------------------------------------------------------


def _node(request: ApiRequest) -> str:
    return _reg(request).settings.node_name


async def manager_status(request: ApiRequest):
    return await manager.get_status(_rbac(request), status=request.ctx.status())


async def manager_info(request: ApiRequest):
    return await manager.get_info(_rbac(request), home=request.ctx.home.root)


async def manager_configuration(request: ApiRequest):
    return await manager.get_configuration(_rbac(request), config=request.ctx.config,
                                           config_file=request.ctx.home.config_file,
                                           section=request.params.get("section"), field=request.params.get("field"),
                                           raw=bool(request.params.get("raw")))


async def manager_validation(request: ApiRequest):
    sections = [section for _, section in request.ctx.plugins.collect("wazuhd_config_schema")]
    return await manager.validate_configuration(_rbac(request), config_file=request.ctx.home.config_file,
                                                sections=sections, node=_node(request))


async def manager_update_configuration(request: ApiRequest):
    sections = [section for _, section in request.ctx.plugins.collect("wazuhd_config_schema")]
    return await manager.update_configuration(_rbac(request), request.raw_body, config_file=request.ctx.home.config_file,
                                              sections=sections, node=_node(request))


async def manager_api_config(request: ApiRequest):
    return await manager.get_api_config(_rbac(request), api=request.ctx.config.get("api", {}), node=_node(request))


async def manager_version_check(request: ApiRequest):
    return await manager.version_check(_rbac(request))


async def manager_logs(request: ApiRequest):
    return await manager.get_logs(_rbac(request), log_file=request.ctx.home.logs / "wazuhd.log",
                                  tag=request.params.get("tag"), level=request.params.get("level"),
                                  **_query(request))


async def manager_logs_summary(request: ApiRequest):
    return await manager.get_logs_summary(_rbac(request), log_file=request.ctx.home.logs / "wazuhd.log")


ROUTES += [
    Route("GET", "/manager/status", manager_status),
    Route("GET", "/manager/info", manager_info),
    Route("GET", "/manager/configuration", manager_configuration),
    Route("PUT", "/manager/configuration", manager_update_configuration),
    Route("GET", "/manager/configuration/validation", manager_validation),
    Route("GET", "/manager/api/config", manager_api_config),
    Route("GET", "/manager/version/check", manager_version_check),
    Route("GET", "/manager/logs", manager_logs),
    Route("GET", "/manager/logs/summary", manager_logs_summary),
]


# -- /manager: restart and statistics ---------------------------------------------------------

from wazuhd_agents import stats  # noqa: E402  (kept with the routes that use it)


def _history(request: ApiRequest):
    return request.ctx.runtime["agents.stats"]


async def manager_restart(request: ApiRequest):
    sections = [section for _, section in request.ctx.plugins.collect("wazuhd_config_schema")]
    return await manager.restart(_rbac(request), config_file=request.ctx.home.config_file, sections=sections,
                                 schedule=_history(request).restart.set, node=_node(request))


async def manager_daemons_stats(request: ApiRequest):
    daemons = {name: (lambda read=read: read(request.ctx)) for name, read in stats.DAEMONS.items()}
    return await manager.get_daemon_stats(_rbac(request), daemons=daemons,
                                          daemons_list=request.params.get("daemons_list"))


async def manager_stats(request: ApiRequest):
    return await manager.get_stats(_rbac(request), history=_history(request), date=request.params.get("date"))


async def manager_stats_hourly(request: ApiRequest):
    return await manager.get_stats_hourly(_rbac(request), history=_history(request))


async def manager_stats_weekly(request: ApiRequest):
    return await manager.get_stats_weekly(_rbac(request), history=_history(request))


async def manager_stats_analysisd(request: ApiRequest):
    return await manager.get_stats_daemon(_rbac(request), read=lambda: stats.analysisd_legacy(request.ctx),
                                          all_msg="Statistical information for each node was successfully read")


async def manager_stats_remoted(request: ApiRequest):
    return await manager.get_stats_daemon(_rbac(request), read=lambda: stats.remoted_legacy(request.ctx),
                                          all_msg="Statistical information for each node was successfully read")


ROUTES += [
    Route("PUT", "/manager/restart", manager_restart),
    Route("GET", "/manager/daemons/stats", manager_daemons_stats),
    Route("GET", "/manager/stats", manager_stats),
    Route("GET", "/manager/stats/hourly", manager_stats_hourly),
    Route("GET", "/manager/stats/weekly", manager_stats_weekly),
    Route("GET", "/manager/stats/analysisd", manager_stats_analysisd),
    Route("GET", "/manager/stats/remoted", manager_stats_remoted),
]
