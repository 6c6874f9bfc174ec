"""Hook implementations of the syscheck plugin: thin glue into the host."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from wazuhd import hookimpl
from wazuhd.daemon import Service
from wazuhd.errors import WazuhError
from wazuhd.rbac import RbacAction
from wazuhd.sockets import SocketCommand

from wazuhd_syscheck import api, baseline, cli, options
from wazuhd_syscheck.service import SyscheckService


@hookimpl
def wazuhd_config_schema():
    return options.SECTION


@hookimpl
def wazuhd_db_migrations():
    return baseline.MIGRATIONS


@hookimpl
def wazuhd_startup(ctx):
    service = ctx.runtime["syscheck"] = SyscheckService(ctx)
    ctx.add_counters("syscheck", service.monitor.stats)


@hookimpl
def wazuhd_services(ctx):
    return [Service("syscheck", ctx.runtime["syscheck"].run)]


async def _scan(ctx, request):
    """Scan now and answer with the report (``wazuhd syscheck scan``)."""
    directories = (request.parameters or {}).get("directories") or None
    try:
        return await ctx.runtime["syscheck"].scan_now(directories)
    except ValueError as exc:
        raise WazuhError(1006, str(exc)) from None


@hookimpl
def wazuhd_socket_commands():
    return [SocketCommand("syscheck", "scan", _scan,
                          "Scan now (all monitored directories, or parameters.directories) and report.")]


_AGENT = ["agent:id", "agent:group"]


@hookimpl
def wazuhd_rbac_actions():
    return [
        RbacAction("syscheck:read", "Access information from agents syscheck database", _AGENT,
                   ["GET /syscheck/{agent_id}", "GET /syscheck/{agent_id}/last_scan"]),
        RbacAction("syscheck:run", "Run agents syscheck scan", _AGENT, ["PUT /syscheck"]),
        RbacAction("syscheck:clear", "Clear the agents syscheck database", _AGENT,
                   ["DELETE /syscheck/{agent_id}"]),
    ]


@hookimpl
def wazuhd_api_routes():
    return api.ROUTES


@hookimpl
def wazuhd_openapi():
    return yaml.safe_load(resources.files("wazuhd_syscheck").joinpath("openapi.yaml").read_text())


@hookimpl
def wazuhd_ruleset():
    return Path(str(resources.files("wazuhd_syscheck").joinpath("ruleset")))


@hookimpl
def wazuhd_cli_commands():
    return cli.COMMANDS
