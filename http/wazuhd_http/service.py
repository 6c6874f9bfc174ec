"""The API as a daemon service: assemble spec and routes, then serve in the nursery."""

from __future__ import annotations

import logging

import trio

from wazuhd_http.access_log import AccessLog
from wazuhd_http.app import ApiRuntime, create_app
from wazuhd_http.security_service import SecurityService
from wazuhd_http.server import api_dir, hypercorn_config, serve_app
from wazuhd_http.spec import assemble, load_fragment
from wazuhd_http.tokens import TokenKeys

log = logging.getLogger("wazuhd.api")


def build_spec(ctx) -> dict:
    fragments = [(plugin, fragment) for plugin, fragment in ctx.plugins.call_each("wazuhd_openapi")
                 if isinstance(fragment, dict)]
    return assemble(load_fragment("wazuhd_http", "openapi/base.yaml"), fragments)


def _reachable(bind: str) -> str:
    """``https://0.0.0.0:55000`` listens everywhere; show an address one can open."""
    for wildcard in ("//0.0.0.0:", "//[::]:"):
        if wildcard in bind:
            return bind.replace(wildcard, "//localhost:") + " (all interfaces)"
    return bind


class ApiService:
    def __init__(self, ctx):
        self.ctx = ctx

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        ctx = self.ctx
        config = ctx.config["api"]
        spec = build_spec(ctx)
        keys = await trio.to_thread.run_sync(TokenKeys.load_or_create, api_dir(ctx.home))
        access_log = AccessLog(ctx.home.logs, formats=config["logs"]["format"],
                               max_size=config["logs"]["max_size"], level=config["logs"]["level"])
        runtime = ApiRuntime(ctx=ctx, config=config, spec=spec, keys=keys,
                             security=SecurityService(ctx), access_log=access_log)
        app = create_app(runtime, ctx.plugins.collect("wazuhd_api_routes"))
        hconfig, scheme = await trio.to_thread.run_sync(hypercorn_config, config, ctx.home)
        try:
            async with trio.open_nursery() as nursery:
                binds = await nursery.start(serve_app, app, hconfig)
                for bind in binds:
                    ctx.announce("api", f"{_reachable(bind)}  (login: POST /security/user/"
                                        f"authenticate, users wazuh/wazuh-wui, default "
                                        f"password wazuh)")
                log.info("API listening on %s", ", ".join(binds))
                task_status.started(binds)
        finally:
            access_log.close()
