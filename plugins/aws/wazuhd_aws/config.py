"""The ``aws`` section of ``etc/wazuhd.yaml`` (Wazuh's ``<wodle name="aws-s3">``) and
the sources it configures."""

from __future__ import annotations

from wazuhd.collect import Source
from wazuhd.config import ConfigSection
from wazuhd_aws.buckets import LOG_TYPES, BucketOptions, S3Source
from wazuhd_aws.cloudwatch import CloudWatchOptions, CloudWatchSource
from wazuhd_aws.inspector import InspectorOptions, InspectorSource
from wazuhd_aws.session import Access
from wazuhd_aws.sqs import SUBSCRIBERS, SqsOptions, SqsSource
from wazuhd_aws import formats

_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_DATE = {"type": "string", "pattern": r"^\d{4}-([A-Za-z]{3}|\d{2})-\d{2}$",
         "description": "YYYY-MMM-DD (e.g. 2024-JAN-31): only logs from that day on; "
                        "default: the day of the first run."}

ACCESS = {
    "aws_profile": {"type": "string", "description": "A profile of ~/.aws/credentials."},
    "iam_role_arn": {"type": "string", "description": "A role to assume (STS AssumeRole)."},
    "iam_role_session": {"type": "string", "description": "Session name of the assumed role."},
    "iam_role_duration": {"type": "integer", "minimum": 900, "maximum": 43200,
                          "description": "Seconds the assumed role's credentials last."},
    "external_id": {"type": "string", "description": "External id for the role assumption."},
    "sts_endpoint": {"type": "string", "description": "STS endpoint URL (VPC endpoint, FIPS)."},
    "service_endpoint": {"type": "string", "description": "The service's endpoint URL."},
}
COMMON = {
    **ACCESS,
    "discard_field": {"type": "string", "description": "Dotted field whose match drops a record."},
    "discard_regex": {"type": "string", "description": "Regex tried on discard_field."},
    "interval": {"type": "number", "exclusiveMinimum": 0,
                 "description": "Seconds between runs (default: the section's interval)."},
}


def _items(properties: dict, required: list[str]) -> dict:
    return {"type": "array", "default": [], "items": {
        "type": "object", "required": required, "additionalProperties": False,
        "dependentRequired": {"discard_field": ["discard_regex"],
                              "discard_regex": ["discard_field"]},
        "properties": properties}}


SECTION = ConfigSection("aws", description="AWS integration (Wazuh's aws-s3 wodle).", schema={
    "type": "object",
    "properties": {
        "interval": {"type": "number", "exclusiveMinimum": 0, "default": 600,
                     "description": "Seconds between the runs of each source, with jitter."},
        "run_on_start": {"type": "boolean", "default": True},
        "skip_on_error": {"type": "boolean", "default": True,
                          "description": "Skip an unreadable object (logged and counted) "
                                         "instead of stopping at it."},
        "buckets": _items({
            "name": {"type": "string", "minLength": 3},
            "type": {"enum": sorted(LOG_TYPES)},
            "path": {"type": "string", "default": ""},
            "path_suffix": {"type": "string", "default": ""},
            "aws_account_id": _STRINGS,
            "aws_account_alias": {"type": "string"},
            "regions": _STRINGS,
            "only_logs_after": _DATE,
            "remove_from_bucket": {"type": "boolean", "default": False},
            "skip_on_error": {"type": "boolean"},
            **COMMON}, ["name", "type"]),
        "services": _items({
            "type": {"enum": ["cloudwatchlogs", "inspector"]},
            "aws_log_groups": _STRINGS,
            "log_stream_prefix": {"type": "string"},
            "regions": _STRINGS,
            "only_logs_after": _DATE,
            "remove_log_streams": {"type": "boolean", "default": False},
            **COMMON}, ["type"]),
        "subscribers": _items({
            "type": {"enum": list(SUBSCRIBERS)},
            "sqs_name": {"type": "string", "minLength": 1},
            "log_type": {"enum": sorted(set(formats.PARSERS) - {"security_lake"})},
            "region": {"type": "string"},
            "skip_on_error": {"type": "boolean"},
            **COMMON}, ["type", "sqs_name"]),
    },
})


def _common(item: dict, section: dict) -> dict:
    return {"access": Access.from_options(item),
            "discard_field": item.get("discard_field"), "discard_regex": item.get("discard_regex"),
            "interval": item.get("interval", section["interval"])}


def sources(section: dict) -> list[Source]:
    """Every source the section configures (ValueError names a bad one)."""
    out: list[Source] = []
    for item in section["buckets"]:
        out.append(S3Source(BucketOptions(
            name=item["name"], type=item["type"], path=item["path"],
            path_suffix=item["path_suffix"], aws_account_id=item.get("aws_account_id", []),
            aws_account_alias=item.get("aws_account_alias", ""), regions=item.get("regions", []),
            only_logs_after=item.get("only_logs_after"),
            remove_from_bucket=item["remove_from_bucket"],
            skip_on_error=item.get("skip_on_error", section["skip_on_error"]),
            **_common(item, section))))
    for item in section["services"]:
        regions = item.get("regions") or []  # empty: every region of the service
        if item["type"] == "cloudwatchlogs":
            out.append(CloudWatchSource(CloudWatchOptions(
                aws_log_groups=item.get("aws_log_groups", []), regions=regions,
                log_stream_prefix=item.get("log_stream_prefix", ""),
                only_logs_after=item.get("only_logs_after"),
                remove_log_streams=item["remove_log_streams"], **_common(item, section))))
        else:
            out.append(InspectorSource(InspectorOptions(
                regions=regions, only_logs_after=item.get("only_logs_after"),
                **_common(item, section))))
    for item in section["subscribers"]:
        out.append(SqsSource(SqsOptions(
            sqs_name=item["sqs_name"], subscriber=item["type"],
            log_type=item.get("log_type", "custom"), region=item.get("region"),
            skip_on_error=item.get("skip_on_error", section["skip_on_error"]),
            **_common(item, section))))
    return out
