"""HTTP routes of ``/syscheck``: thin calls into :mod:`wazuhd_syscheck.findings`."""

from __future__ import annotations

from wazuhd.routes import ApiRequest, Route

from wazuhd_agents.db import agent_id

from wazuhd_syscheck import findings

QUERY = ("offset", "limit", "sort", "search", "select", "q", "distinct")
FILTERS = {"type": "type", "hash": "hash", "file": "file", "arch": "arch", "value.name": "value.name",
           "value.type": "value.type", "md5": "md5", "sha1": "sha1", "sha256": "sha256"}


def _service(request: ApiRequest):
    return request.ctx.runtime["syscheck"]


def _registry(request: ApiRequest):
    return request.ctx.runtime["agents"]


def _agent(request: ApiRequest) -> list[str]:
    return [agent_id(int(request.params["agent_id"]))]


async def get_syscheck(request: ApiRequest):
    params = request.params
    return await findings.get_findings(
        request.user.rbac, _agent(request), registry=_registry(request), db=_service(request).db,
        filters={name: params[key] for key, name in FILTERS.items() if key in params},
        summary=bool(params.get("summary")), **{n: params[n] for n in QUERY if n in params})


async def put_syscheck(request: ApiRequest):
    values = request.params.get("agents_list")
    agents = None if values is None or "all" in values else \
        list(dict.fromkeys(agent_id(int(v)) for v in values))
    return await findings.run_scan(request.user.rbac, agents, registry=_registry(request),
                                   start_local=_service(request).request_scan)


async def delete_syscheck(request: ApiRequest):
    return await findings.clear_findings(request.user.rbac, _agent(request), registry=_registry(request),
                                         db=_service(request).db, monitor=_service(request).monitor)


async def last_scan(request: ApiRequest):
    return await findings.last_scan(request.user.rbac, _agent(request), registry=_registry(request),
                                    db=_service(request).db)


ROUTES = [
    Route("PUT", "/syscheck", put_syscheck),
    Route("GET", "/syscheck/{agent_id}", get_syscheck),
    Route("DELETE", "/syscheck/{agent_id}", delete_syscheck),
    Route("GET", "/syscheck/{agent_id}/last_scan", last_scan),
]
