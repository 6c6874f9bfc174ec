"""``wazuhd gcp pubsub ...`` and ``wazuhd gcp bucket ...``: one run from the command line.

Events go to stdout (``--stdout``) or to the daemon running on ``--home``;
bucket checkpoints to ``--state FILE`` or that home's store.
"""

from __future__ import annotations

import argparse

from wazuhd import collect
from wazuhd.cli import CliCommand
from wazuhd_gcp import records
from wazuhd_gcp.bucket import BucketSource
from wazuhd_gcp.pubsub import PubSubPullSource


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _date(text: str) -> float:
    try:
        return collect.parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def configure(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="gcp_command", metavar="SOURCE", required=True)
    parent = collect.standalone_parent()
    # Acknowledgements are a subscription's position: no --state for it.
    pubsub = kinds.add_parser("pubsub", parents=[collect.standalone_parent(checkpoints=False)],
                              help="pull a Pub/Sub subscription once (acknowledging what is sent)")
    pubsub.add_argument("--project", required=True, help="the subscription's project id")
    pubsub.add_argument("--subscription", required=True, help="the subscription's name")
    pubsub.add_argument("--credentials-file", metavar="FILE",
                        help="a service-account key file (JSON)")
    pubsub.add_argument("--max-messages", type=_positive, default=100,
                        help="the most messages to pull in this run (default 100)")
    pubsub.add_argument("--num-threads", type=_positive, default=1,
                        help="pulls to run at once (default 1)")
    bucket = kinds.add_parser("bucket", parents=[parent],
                              help="read the new log objects of a Cloud Storage bucket once")
    bucket.add_argument("--bucket", required=True, help="the bucket's name")
    bucket.add_argument("--type", required=True, choices=records.BUCKET_TYPES,
                        help="access_logs (CSV usage logs) or json (Cloud Logging sink)")
    bucket.add_argument("--prefix", default="", help="only objects under this prefix")
    bucket.add_argument("--only-logs-after", metavar="YYYY-MMM-DD", type=_date,
                        help="skip objects created before this day")
    bucket.add_argument("--credentials-file", metavar="FILE",
                        help="a service-account key file (JSON)")
    bucket.add_argument("--project", help="the project to bill requests to")
    bucket.add_argument("--remove-from-bucket", action="store_true",
                        help="delete each object once its events are sent")
    bucket.add_argument("--reparse", action="store_true",
                        help="forget the checkpoint and read every object again")


def run(args: argparse.Namespace) -> int:
    if args.gcp_command == "pubsub":
        source = PubSubPullSource(project_id=args.project, subscription_name=args.subscription,
                                  credentials_file=args.credentials_file,
                                  max_messages=args.max_messages, num_threads=args.num_threads)
        return collect.run_standalone(source, args)
    source = BucketSource(bucket_name=args.bucket, type=args.type, prefix=args.prefix,
                          only_logs_after=args.only_logs_after,
                          remove_from_bucket=args.remove_from_bucket,
                          credentials_file=args.credentials_file, project_id=args.project)
    return collect.run_standalone(source, args, reparse=args.reparse)


COMMAND = CliCommand("gcp", "Google Cloud: pull a Pub/Sub subscription or read a log bucket "
                            "once (standalone)", configure, run)
