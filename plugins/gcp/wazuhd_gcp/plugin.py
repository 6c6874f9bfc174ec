"""Hook implementations of the gcp plugin: thin glue to the host."""

from importlib import resources

from wazuhd import collect, hookimpl
from wazuhd_gcp import cli, config


@hookimpl
def wazuhd_config_schema():
    return config.SECTION


@hookimpl
def wazuhd_services(ctx):
    return collect.services(ctx, "gcp", config.sources(ctx.config["gcp"]))


@hookimpl
def wazuhd_cli_commands():
    return [cli.COMMAND]


@hookimpl
def wazuhd_ruleset():
    return resources.files("wazuhd_gcp").joinpath("ruleset")
