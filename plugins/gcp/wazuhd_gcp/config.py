"""The ``gcp`` section of etc/wazuhd.yaml and the sources it describes."""

from __future__ import annotations

from wazuhd.collect import Source, parse_date
from wazuhd.config import ConfigSection
from wazuhd_gcp import records
from wazuhd_gcp.bucket import BucketSource
from wazuhd_gcp.pubsub import PubSubSource

_CREDENTIALS = {"type": ["string", "null"], "default": None,
                "description": "A service-account key file (JSON). Without it: anonymous on "
                               "an emulator, else Application Default Credentials."}

_SUBSCRIPTION = {"type": "object", "required": ["project_id", "subscription_name"], "properties": {
    "project_id": {"type": "string", "minLength": 1},
    "subscription_name": {"type": "string", "minLength": 1},
    "credentials_file": _CREDENTIALS,
    "max_messages": {"type": "integer", "minimum": 1, "default": 100,
                     "description": "Messages delivered and not yet acknowledged at once, per "
                                    "stream (flow control); standalone: the most pulled in a run."},
    "num_threads": {"type": "integer", "minimum": 1, "maximum": 64, "default": 1,
                    "description": "Streaming pulls run at once on the subscription "
                                   "(standalone: synchronous pulls at once)."},
    "pull_on_start": {"type": "boolean", "default": True,
                      "description": "Start pulling when the daemon starts, else after interval."},
    "interval": {"type": "number", "exclusiveMinimum": 0, "default": 60,
                 "description": "Seconds before the first pull when pull_on_start is off; a "
                                "failed stream is retried after a backoff from interval/8."},
}}

_BUCKET = {"type": "object", "required": ["bucket_name", "type"], "properties": {
    "bucket_name": {"type": "string", "minLength": 1},
    "type": {"enum": list(records.BUCKET_TYPES),
             "description": "access_logs: Cloud Storage usage/storage logs (CSV); json: "
                            "Cloud Logging sink objects (one JSON entry per line)."},
    "prefix": {"type": "string", "default": ""},
    "only_logs_after": {"type": ["string", "null"], "default": None,
                        "pattern": r"^\d{4}-([A-Za-z]{3}|\d{2})-\d{2}$",
                        "description": "Skip objects created before this day (YYYY-MMM-DD)."},
    "remove_from_bucket": {"type": "boolean", "default": False,
                           "description": "Delete each object once its events are queued."},
    "credentials_file": _CREDENTIALS,
    "project_id": {"type": ["string", "null"], "default": None},
    "interval": {"type": "number", "exclusiveMinimum": 0, "default": 600},
    "run_on_start": {"type": "boolean", "default": True},
}}

SECTION = ConfigSection("gcp", description="Google Cloud: Pub/Sub subscriptions and Cloud "
                                           "Storage log buckets.", schema={
    "type": "object",
    "properties": {
        "pubsub": {"type": "array", "items": _SUBSCRIPTION, "default": []},
        "buckets": {"type": "array", "items": _BUCKET, "default": []},
    },
})


def sources(section: dict) -> list[Source]:
    """Every configured subscription and bucket, as collect sources."""
    found: list[Source] = [PubSubSource(**subscription) for subscription in section["pubsub"]]
    for number, bucket in enumerate(section["buckets"]):
        after = bucket["only_logs_after"]
        try:
            when = parse_date(after) if after else None
        except ValueError as exc:
            raise ValueError(f"gcp.buckets[{number}].only_logs_after: {exc}") from None
        found.append(BucketSource(**{**bucket, "only_logs_after": when}))
    return found
