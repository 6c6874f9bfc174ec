"""``wazuhd azure storage|log-analytics|graph``: one source, once, from the command line.

Secrets may come from the environment instead of the command line (where other
users of the machine can see them): AZURE_STORAGE_CONNECTION_STRING,
AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, AZURE_CLIENT_SECRET.
"""

from __future__ import annotations

import argparse
import os
import sys

from wazuhd import collect
from wazuhd.cli import CliCommand
from wazuhd_azure import config
from wazuhd_azure.common import parse_offset
from wazuhd_azure.storage import CONTENT_TYPES


def _date(text: str) -> str:
    try:
        collect.parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _offset(text: str) -> str:
    try:
        parse_offset(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only-logs-after", metavar="YYYY-MMM-DD", type=_date,
                        help="read nothing older than this date")
    parser.add_argument("--time-offset", metavar="OFFSET", type=_offset,
                        help="read nothing older than this long ago (e.g. 2d, 12h)")
    parser.add_argument("--reparse", action="store_true",
                        help="forget this source's checkpoint and read its whole window again")


def _app(parser: argparse.ArgumentParser, endpoint: str) -> None:
    parser.add_argument("--tenant-id", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", default=os.environ.get("AZURE_CLIENT_SECRET"),
                        help="the application's secret (default: $AZURE_CLIENT_SECRET)")
    parser.add_argument("--authority", default=config.DEFAULT_AUTHORITY,
                        help=f"token authority (default {config.DEFAULT_AUTHORITY})")
    parser.add_argument("--endpoint", default=endpoint, help=f"API endpoint (default {endpoint})")
    parser.add_argument("--scope", help="token scope (default: <endpoint>/.default)")
    parser.add_argument("--ca-file", help="CA bundle to verify the endpoints with")
    parser.add_argument("--ingestion-delay", type=float, default=60.0,
                        help="the window ends this many seconds before now (default 60)")
    parser.add_argument("--max-retries", type=int, default=5,
                        help="retries of a throttled or failed request (default 5)")


def _app_entry(args: argparse.Namespace) -> dict:
    if not args.client_secret:
        raise ValueError("no client secret: pass --client-secret or set AZURE_CLIENT_SECRET")
    return {"tenant_id": args.tenant_id, "client_id": args.client_id,
            "client_secret": args.client_secret, "authority": args.authority,
            "endpoint": args.endpoint, "scope": args.scope, "ca_file": args.ca_file,
            "ingestion_delay": args.ingestion_delay, "max_retries": args.max_retries,
            "only_logs_after": args.only_logs_after, "time_offset": args.time_offset}


def _configure_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--container", required=True)
    parser.add_argument("--connection-string",
                        default=os.environ.get("AZURE_STORAGE_CONNECTION_STRING"),
                        help="(default: $AZURE_STORAGE_CONNECTION_STRING)")
    parser.add_argument("--account-name")
    parser.add_argument("--account-key", default=os.environ.get("AZURE_STORAGE_KEY"),
                        help="(default: $AZURE_STORAGE_KEY)")
    parser.add_argument("--sas-token", default=os.environ.get("AZURE_STORAGE_SAS_TOKEN"),
                        help="(default: $AZURE_STORAGE_SAS_TOKEN)")
    parser.add_argument("--endpoint", help="blob endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--blobs", default="*", help="a wildcard pattern or an ending (.json)")
    parser.add_argument("--content-type", choices=CONTENT_TYPES, default="text",
                        help="(default text, as in Wazuh)")
    parser.add_argument("--tag", default="azure-storage")
    parser.add_argument("--max-concurrency", type=int, default=8,
                        help="blobs downloaded at a time (default 8)")
    _window(parser)


def _storage_source(args: argparse.Namespace):
    entry = {key: getattr(args, key) for key in (
        "container", "connection_string", "account_name", "account_key", "sas_token", "endpoint",
        "prefix", "blobs", "content_type", "tag", "max_concurrency", "only_logs_after",
        "time_offset")}
    return config.storage_source(entry, interval=0)


def _configure_log_analytics(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--query", required=True, help="KQL, e.g. AzureActivity")
    parser.add_argument("--tag", default="azure-log-analytics")
    _app(parser, config.LOG_ANALYTICS_ENDPOINT)
    _window(parser)


def _log_analytics_source(args: argparse.Namespace):
    entry = {**_app_entry(args), "workspace": args.workspace, "query": args.query, "tag": args.tag}
    return config.log_analytics_source(entry, interval=0)


def _configure_graph(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--query", help="an Entra ID log, e.g. auditLogs/signIns")
    parser.add_argument("--resource", help="an ms-graph resource, e.g. security")
    parser.add_argument("--relationship", help="e.g. alerts_v2, incidents")
    parser.add_argument("--tag", default="azure-ad-graph")
    parser.add_argument("--time-field", help="time property to filter on (default per collection)")
    parser.add_argument("--version", default="v1.0")
    parser.add_argument("--only-future-events", action=argparse.BooleanOptionalAction,
                        help="the first run reads no history (default: yes for --resource)")
    _app(parser, config.GRAPH_ENDPOINT)
    _window(parser)


def _graph_source(args: argparse.Namespace):
    entry = {**_app_entry(args), "query": args.query, "resource": args.resource,
             "relationship": args.relationship, "tag": args.tag, "time_field": args.time_field,
             "version": args.version, "only_future_events": args.only_future_events}
    return config.graph_source(entry, interval=0)


KINDS = {
    "storage": ("read new blobs of a container", _configure_storage, _storage_source),
    "log-analytics": ("run a KQL query on a workspace", _configure_log_analytics,
                      _log_analytics_source),
    "graph": ("read Entra ID logs or an ms-graph resource", _configure_graph, _graph_source),
}


def configure(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="azure_kind", metavar="KIND", required=True)
    for name, (help_text, add_arguments, _) in KINDS.items():
        sub = kinds.add_parser(name, help=help_text, description=help_text,
                               parents=[collect.standalone_parent()])
        add_arguments(sub)


def run(args: argparse.Namespace) -> int:
    try:
        source = KINDS[args.azure_kind][2](args)
    except ValueError as exc:
        print(f"wazuhd azure {args.azure_kind}: {exc}", file=sys.stderr)
        return 2
    return collect.run_standalone(source, args, reparse=args.reparse)


COMMAND = CliCommand("azure", "Azure Blob Storage, Log Analytics and Microsoft Graph, standalone",
                     configure, run)
