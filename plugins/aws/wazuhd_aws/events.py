"""The events Wazuh's aws module sends, built from parsed records.

An S3 record becomes ``{"integration": "aws", "aws": {...record...,
"log_info": {"aws_account_alias", "log_file", "s3bucket"}}}`` after the same
reshaping Wazuh applies before sending, because Wazuh's ``amazon`` rules
read the fields at those paths: one-element lists become their element
(Wazuh's JSON decoder does not descend into arrays of objects), ``None``
values are dropped, an IP ``sourceIPAddress`` is copied to
``source_ip_address``, non-object ``tags`` become ``{"value": tags}`` and a
GuardDuty finding that lists several port probes is one event per probe; AWS
Config's ``configuration`` lists of objects become objects of lists.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timezone
from typing import Iterator

from wazuhd.collect import Source
from wazuhd.sockets import DEFAULT_MAX_FRAME

#: The event location Wazuh's aws module uses; Wazuh's rules do not depend on it.
LOCATION = "Wazuh-AWS"
#: Longest event (the JSON message) the queue accepts; longer ones are skipped as Wazuh does.
MAX_EVENT_SIZE = DEFAULT_MAX_FRAME - len(f"1:{LOCATION}:")

_IPV4 = re.compile(r"\d+\.\d+\.\d+\.\d+")


def _unwrap_single_lists(node: dict) -> None:
    for name, value in list(node.items()):
        if isinstance(value, list) and len(value) == 1:
            node[name] = value = value[0]
        if isinstance(value, dict):
            _unwrap_single_lists(value)


def _drop_none(node: dict) -> None:
    for name, value in list(node.items()):
        if value is None:
            del node[name]
        elif isinstance(value, dict):
            _drop_none(value)


def reshape(record: dict) -> Iterator[dict]:
    """Wazuh's reshaping of one record (see the module docstring); may yield several."""
    probes = (record.get("service", {}).get("action", {}).get("portProbeAction", {})
              .get("portProbeDetails") if record.get("source") == "guardduty"
              and isinstance(record.get("service"), dict) else None)
    if isinstance(probes, list) and len(probes) > 1:
        for probe in probes:
            copy_ = copy.deepcopy(record)
            copy_["service"]["action"]["portProbeAction"]["portProbeDetails"] = probe
            yield _reshaped(copy_)
        return
    yield _reshaped(record)


def _columns(items: list[dict]) -> dict:
    """A list of objects as one object of lists, which the JSON decoder can read."""
    out: dict[str, list] = {}
    for item in items:
        for name in item:
            out.setdefault(name, [])
    for item in items:
        for name, values in out.items():
            values.append(item.get(name))
    return out


def _config_item(record: dict) -> None:
    """AWS Config's ``configuration``: lists of objects (security groups, rules, zones)
    become objects of lists, a plain ``state`` becomes ``{"name": state}`` and an epoch
    ``createdTime`` an ISO date, so the fields keep one type across items."""
    configuration = record.get("configuration")
    if not isinstance(configuration, dict):
        return
    for name, value in list(configuration.items()):
        if (isinstance(value, list) and len(value) > 1
                and all(isinstance(item, dict) for item in value)):
            configuration[name] = _columns(value)
    if isinstance(configuration.get("state"), str):
        configuration["state"] = {"name": configuration["state"]}
    created = configuration.get("createdTime")
    if isinstance(created, (int, float)) and not isinstance(created, bool):
        configuration["createdTime"] = datetime.fromtimestamp(
            created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reshaped(record: dict) -> dict:
    if record.get("source") == "config":
        _config_item(record)
    _unwrap_single_lists(record)
    _drop_none(record)
    source_ip = record.get("sourceIPAddress")
    if isinstance(source_ip, str) and _IPV4.match(source_ip):
        record["source_ip_address"] = source_ip
    if "tags" in record and not isinstance(record["tags"], dict):
        record["tags"] = {"value": record["tags"]}
    return record


def wrap(record: dict, *, bucket: str, log_file: str, account_alias: str = "") -> dict:
    """The event Wazuh sends for one S3 record."""
    return {"integration": "aws",
            "aws": {"log_info": {"aws_account_alias": account_alias, "log_file": log_file,
                                 "s3bucket": bucket}, **record}}


class Discard:
    """``discard_field`` + ``discard_regex``: records whose field matches are dropped."""

    def __init__(self, field: str | None, regex: str | None):
        if bool(field) != bool(regex):
            raise ValueError("discard_field and discard_regex go together: set both or neither")
        self.path = field.split(".") if field else None
        try:
            self.regex = re.compile(regex) if regex else None
        except re.error as exc:
            raise ValueError(f"discard_regex {regex!r} is not a valid regular expression: "
                             f"{exc}") from None

    def __bool__(self) -> bool:
        return self.path is not None

    def drops(self, record: dict) -> bool:
        if self.path is None:
            return False
        values = [record]
        for part in self.path:
            nxt = []
            for value in values:
                if isinstance(value, dict) and part in value:
                    item = value[part]
                    nxt.extend(item if isinstance(item, list) else [item])
            values = nxt
        return any(self.regex.search(v if isinstance(v, str) else json.dumps(v))
                   for v in values)


def encode(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"), default=str, ensure_ascii=False)


class AwsSource(Source):
    """What every AWS source shares: its options (a dataclass with ``source_name``,
    ``interval``, ``discard_field``, ``discard_regex``), Wazuh's location and the
    discard filter."""

    location = LOCATION

    def __init__(self, options):
        self.options = options
        self.name = options.source_name
        self.interval = options.interval
        self.discard = Discard(options.discard_field, options.discard_regex)
