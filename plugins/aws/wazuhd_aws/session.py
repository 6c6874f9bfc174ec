"""How a source reaches AWS: boto3's credential chain, a profile, an assumed role,
custom endpoints, and retries that ride out throttling.

A fresh session is made for every run, so credentials of an assumed role
(valid ``iam_role_duration`` seconds) or of a profile that was refreshed on
disk are picked up again after a run failed on expired ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3
import botocore.config
import botocore.exceptions

#: Throttling and transient errors are retried by botocore itself, with backoff.
RETRIES = botocore.config.Config(retries={"max_attempts": 8, "mode": "standard"},
                                 connect_timeout=10, read_timeout=60,
                                 max_pool_connections=16)

DEFAULT_SESSION_NAME = "wazuhd-aws"


@dataclass(frozen=True)
class Access:
    """The options every AWS source shares (names as in Wazuh's ossec.conf)."""

    aws_profile: str | None = None
    iam_role_arn: str | None = None
    iam_role_session: str | None = None
    iam_role_duration: int | None = None
    external_id: str | None = None
    sts_endpoint: str | None = None
    service_endpoint: str | None = None

    @classmethod
    def from_options(cls, options: dict) -> "Access":
        return cls(**{name: options.get(name) for name in cls.__dataclass_fields__})

    def session(self, region: str | None = None) -> boto3.Session:
        base = boto3.Session(profile_name=self.aws_profile or None,
                             region_name=region or None)
        if not self.iam_role_arn:
            return base
        sts = base.client("sts", endpoint_url=self.sts_endpoint or None, config=RETRIES,
                          region_name=region or base.region_name or "us-east-1")
        arguments = {"RoleArn": self.iam_role_arn,
                     "RoleSessionName": self.iam_role_session or DEFAULT_SESSION_NAME}
        if self.iam_role_duration:
            arguments["DurationSeconds"] = int(self.iam_role_duration)
        if self.external_id:
            arguments["ExternalId"] = self.external_id
        credentials = sts.assume_role(**arguments)["Credentials"]
        return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                             aws_secret_access_key=credentials["SecretAccessKey"],
                             aws_session_token=credentials["SessionToken"],
                             region_name=region or base.region_name)

    def client(self, service: str, region: str | None = None, session: boto3.Session | None = None):
        session = session or self.session(region)
        return session.client(service, endpoint_url=self.service_endpoint or None,
                              region_name=region or session.region_name or "us-east-1",
                              config=RETRIES)


def available_regions(service: str) -> list[str]:
    """The regions AWS offers ``service`` in (botocore's own endpoint data, offline)."""
    return boto3.Session().get_available_regions(service)


def error_code(exc: BaseException) -> str:
    """AWS's error code of a botocore ClientError ('' for anything else)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


#: What a run cannot get past (throttling beyond the retries, expired credentials, an
#: endpoint down): the run fails naming where, the checkpoint stays, the next run retries.
aws_errors = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


def describe_aws_error(exc: BaseException) -> str:
    """``Code: message`` of an AWS error, or botocore's own text (never a credential)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc) or type(exc).__name__
