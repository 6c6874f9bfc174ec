"""Hook implementations of the AWS plugin (thin: the work is in the modules)."""

from __future__ import annotations

from importlib import resources

from wazuhd import collect, hookimpl
from wazuhd.cli import CliCommand
from wazuhd_aws import cli, config


@hookimpl
def wazuhd_config_schema():
    return config.SECTION


@hookimpl
def wazuhd_services(ctx):
    section = ctx.config["aws"]
    return collect.services(ctx, "aws", config.sources(section),
                            run_on_start=section["run_on_start"])


@hookimpl
def wazuhd_ruleset():
    return resources.files("wazuhd_aws").joinpath("ruleset")


@hookimpl
def wazuhd_cli_commands():
    return [CliCommand("aws", "read AWS logs once: 's3 --bucket B --type cloudtrail --stdout', "
                              "'cloudwatch', 'inspector', 'sqs'", cli.configure, cli.run)]
