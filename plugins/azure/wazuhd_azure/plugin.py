"""Hook implementations of the azure plugin: thin glue into the host."""

from __future__ import annotations

from importlib import resources

from wazuhd import collect, hookimpl
from wazuhd_azure import cli, config


@hookimpl
def wazuhd_config_schema():
    return config.SECTION


@hookimpl
def wazuhd_services(ctx):
    sources = config.build_sources(ctx.config["azure"])
    return collect.services(ctx, "azure", sources) if sources else []


@hookimpl
def wazuhd_cli_commands():
    return [cli.COMMAND]


@hookimpl
def wazuhd_ruleset():
    return resources.files("wazuhd_azure").joinpath("ruleset")
