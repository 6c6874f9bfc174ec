"""``/mitre`` routes: thin calls into ``wazuhd_mitre.core``."""

from __future__ import annotations

from wazuhd.routes import ApiRequest, Route
from wazuhd_mitre import core

QUERY_PARAMS = ("offset", "limit", "sort", "search", "select", "q", "distinct")


def _runtime(request: ApiRequest):
    return request.ctx.runtime["mitre"]


async def get_metadata(request: ApiRequest):
    runtime = _runtime(request)
    await runtime.wait_ready()
    return await core.get_metadata(request.user.rbac, db=runtime.db)


def _list(kind: core.Kind):
    operation = core.OPERATIONS[kind.name]

    async def handler(request: ApiRequest):
        runtime = _runtime(request)
        await runtime.wait_ready()
        params = {name: request.params[name] for name in QUERY_PARAMS if name in request.params}
        return await operation(request.user.rbac, request.params.get(kind.ids_param), db=runtime.db,
                               cache=runtime.cache, **params)

    handler.__name__ = f"get_{kind.name}"
    return Route("GET", f"/mitre/{kind.name}", handler)


ROUTES = [Route("GET", "/mitre/metadata", get_metadata), *(_list(kind) for kind in core.KINDS.values())]
