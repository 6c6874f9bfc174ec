"""``wazuhd aws s3|cloudwatch|inspector|sqs``: one source, once, from the command line.

The flags are those of Wazuh's ``aws-s3`` script in dashed form. Events go to a
running daemon's queue (``--home``) or to stdout (``--stdout``); checkpoints to
that home's store or to ``--state FILE`` (see :mod:`wazuhd.collect`).
"""

from __future__ import annotations

import argparse
import sys

from wazuhd import collect
from wazuhd_aws.buckets import LOG_TYPES, BucketOptions, S3Source
from wazuhd_aws.cloudwatch import CloudWatchOptions, CloudWatchSource
from wazuhd_aws.inspector import InspectorOptions, InspectorSource
from wazuhd_aws.session import Access
from wazuhd_aws.sqs import SUBSCRIBERS, SqsOptions, SqsSource
from wazuhd_aws import formats


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _common_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False, parents=[collect.standalone_parent()])
    access = parent.add_argument_group("AWS access (default: boto3's credential chain)")
    access.add_argument("--aws-profile", metavar="P")
    access.add_argument("--iam-role-arn", metavar="ARN")
    access.add_argument("--iam-role-session", metavar="NAME")
    access.add_argument("--iam-role-duration", metavar="SECONDS", type=int)
    access.add_argument("--external-id", metavar="ID")
    access.add_argument("--sts-endpoint", metavar="URL")
    access.add_argument("--service-endpoint", metavar="URL")
    parent.add_argument("--discard-field", metavar="FIELD",
                        help="drop records whose FIELD matches --discard-regex")
    parent.add_argument("--discard-regex", metavar="REGEX")
    parent.add_argument("--reparse", action="store_true",
                        help="forget the checkpoints and read again from --only-logs-after")
    return parent


def configure(parser: argparse.ArgumentParser) -> None:
    common = _common_parent()
    kinds = parser.add_subparsers(dest="aws_command", metavar="s3|cloudwatch|inspector|sqs",
                                  required=True)

    s3 = kinds.add_parser("s3", parents=[common], help="read a log bucket")
    s3.add_argument("--bucket", required=True, metavar="NAME")
    s3.add_argument("--type", required=True, choices=sorted(LOG_TYPES))
    s3.add_argument("--regions", type=_csv, default=[], metavar="R,...")
    s3.add_argument("--aws-account-id", type=_csv, default=[], metavar="ID,...")
    s3.add_argument("--aws-account-alias", default="", metavar="ALIAS")
    s3.add_argument("--path", "--trail-prefix", default="", metavar="PREFIX")
    s3.add_argument("--path-suffix", default="", metavar="SUFFIX")
    s3.add_argument("--only-logs-after", metavar="YYYY-MMM-DD")
    s3.add_argument("--remove-from-bucket", "--delete-file", action="store_true")
    s3.add_argument("--skip-on-error", action="store_true",
                    help="skip unreadable objects instead of stopping at the first")

    cloudwatch = kinds.add_parser("cloudwatch", parents=[common], help="read CloudWatch Logs")
    cloudwatch.add_argument("--aws-log-groups", type=_csv, required=True, metavar="G,...")
    cloudwatch.add_argument("--log-stream-prefix", default="", metavar="PREFIX")
    cloudwatch.add_argument("--regions", type=_csv, default=[], metavar="R,...",
                            help="default: every region AWS offers CloudWatch Logs in")
    cloudwatch.add_argument("--only-logs-after", metavar="YYYY-MMM-DD")
    cloudwatch.add_argument("--remove-log-streams", action="store_true")

    inspector = kinds.add_parser("inspector", parents=[common], help="read Inspector findings")
    inspector.add_argument("--regions", type=_csv, default=[], metavar="R,...",
                           help="default: every region AWS offers Inspector in")
    inspector.add_argument("--only-logs-after", metavar="YYYY-MMM-DD")

    sqs = kinds.add_parser("sqs", parents=[common], help="read objects an SQS queue announces")
    sqs.add_argument("--queue", required=True, metavar="NAME")
    sqs.add_argument("--subscriber", choices=SUBSCRIBERS, default="buckets")
    sqs.add_argument("--type", default="custom",
                     choices=sorted(set(formats.PARSERS) - {"security_lake"}),
                     help="log type of the announced objects (buckets subscriber)")
    sqs.add_argument("--regions", type=_csv, default=[], metavar="R",
                     help="the queue's region (the first one given)")
    sqs.add_argument("--skip-on-error", action="store_true")


def source_of(args: argparse.Namespace):
    access = Access.from_options(vars(args))
    discard = {"discard_field": args.discard_field, "discard_regex": args.discard_regex}
    if args.aws_command == "s3":
        return S3Source(BucketOptions(
            name=args.bucket, type=args.type, path=args.path, path_suffix=args.path_suffix,
            aws_account_id=args.aws_account_id, aws_account_alias=args.aws_account_alias,
            regions=args.regions, only_logs_after=args.only_logs_after,
            remove_from_bucket=args.remove_from_bucket, skip_on_error=args.skip_on_error,
            access=access, **discard))
    if args.aws_command == "cloudwatch":
        return CloudWatchSource(CloudWatchOptions(
            aws_log_groups=args.aws_log_groups, regions=args.regions,
            log_stream_prefix=args.log_stream_prefix, only_logs_after=args.only_logs_after,
            remove_log_streams=args.remove_log_streams, access=access, **discard))
    if args.aws_command == "inspector":
        return InspectorSource(InspectorOptions(
            regions=args.regions, only_logs_after=args.only_logs_after, access=access, **discard))
    return SqsSource(SqsOptions(
        sqs_name=args.queue, subscriber=args.subscriber, log_type=args.type,
        region=(args.regions or [None])[0], skip_on_error=args.skip_on_error,
        access=access, **discard))


def run(args: argparse.Namespace) -> int:
    try:
        source = source_of(args)
    except ValueError as exc:
        print(f"wazuhd aws {args.aws_command}: {exc}", file=sys.stderr)
        return 2
    return collect.run_standalone(source, args, reparse=args.reparse)
