"""Hook implementations of the Docker plugin (thin: the work is in the modules)."""

from __future__ import annotations

from importlib import resources

from wazuhd import collect, hookimpl
from wazuhd.cli import CliCommand
from wazuhd_docker import cli, settings


@hookimpl
def wazuhd_config_schema():
    return settings.SECTION


@hookimpl
def wazuhd_services(ctx):
    section = ctx.config["docker"]
    sources = settings.sources(section, ctx.home.etc)
    if not sources:
        return []
    return collect.services(ctx, "docker", sources, run_on_start=section["run_on_start"])


@hookimpl
def wazuhd_ruleset():
    return resources.files("wazuhd_docker").joinpath("ruleset")


@hookimpl
def wazuhd_cli_commands():
    return [CliCommand("docker", "Docker engines: 'listen' to events, 'inventory' of containers",
                       cli.configure_docker, cli.run_docker)]
