"""What is inside an object of each log type: bytes in, one dict per record out.

Every parser takes the object's bytes (gzip, zip and Parquet are recognised by
their magic bytes, not by the key's suffix, because delivery streams name
files loosely) and its key, and returns the records as Wazuh's aws module
reads them, each with the ``source`` field its rules switch on. A file that
cannot be read raises :class:`FormatError` saying why; the caller knows the
bucket and key and decides, per ``skip_on_error``, to skip it or stop.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zipfile
import zlib
from datetime import datetime, timezone
from typing import Callable, Iterator

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
PARQUET_MAGIC = b"PAR1"


class FormatError(ValueError):
    """The object is not what its log type promises (corrupt, not JSON, ...)."""


# -- containers -----------------------------------------------------------------------


def unpack(data: bytes) -> bytes:
    """The object's content: gunzipped or unzipped when it is one of those."""
    if data[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise FormatError(f"corrupt gzip data: {exc}") from exc
    if data[:4] == ZIP_MAGIC:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return b"".join(archive.read(name) for name in archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise FormatError(f"corrupt zip data: {exc}") from exc
    return data


def text_of(data: bytes) -> str:
    try:
        return unpack(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text (byte {exc.start})") from exc


def parquet_rows(data: bytes) -> list[dict]:
    """The rows of a Parquet file as plain dicts (pyarrow types made JSON-friendly)."""
    import pyarrow.parquet as parquet

    try:
        table = parquet.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises its own ArrowInvalid/OSError family
        raise FormatError(f"corrupt Parquet data: {exc}") from exc
    return [_plain(row) for row in table.to_pylist()]


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def json_objects(text: str) -> Iterator:
    """Concatenated JSON values: one document, JSON lines, or Firehose's ``}{`` runs."""
    decoder = json.JSONDecoder()
    position, end = 0, len(text)
    while True:
        while position < end and text[position] in " \t\r\n":
            position += 1
        if position >= end:
            return
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise FormatError(f"invalid JSON at line {exc.lineno} column {exc.colno}: "
                              f"{exc.msg}") from exc
        yield value


def json_document(data: bytes) -> dict:
    objects = list(json_objects(text_of(data)))
    if len(objects) != 1 or not isinstance(objects[0], dict):
        raise FormatError("expected one JSON object")
    return objects[0]


def _records_field(field: str, source: str) -> Callable[[bytes, str], list[dict]]:
    """JSON documents holding their records in one list field (CloudTrail, Config)."""
    def parse(data: bytes, key: str) -> list[dict]:
        records = json_document(data).get(field)
        if records is None:
            return []
        if not isinstance(records, list):
            raise FormatError(f"'{field}' is not a list")
        return [dict(record, source=source) for record in records if isinstance(record, dict)]
    return parse


# -- JSON types --------------------------------------------------------------------------


parse_cloudtrail = _records_field("Records", "cloudtrail")
parse_config = _records_field("configurationItems", "config")


def parse_guardduty_native(data: bytes, key: str) -> list[dict]:
    """GuardDuty's own S3 export: JSON lines, one finding each."""
    return [dict(finding, source="guardduty") for finding in json_objects(text_of(data))
            if isinstance(finding, dict)]


def parse_custom(data: bytes, key: str) -> list[dict]:
    """JSON delivered by Firehose or any writer: EventBridge envelopes give their
    ``detail`` with ``source`` without its ``aws.`` (GuardDuty, Macie, Security Hub
    routed through Firehose), ``{"Records": [...]}`` documents give their records,
    any other object is a record of its own."""
    if data[:4] == PARQUET_MAGIC:
        return [dict(row, source=row.get("source") or "custom") for row in parquet_rows(data)]
    out: list[dict] = []
    for value in json_objects(text_of(data)):
        if isinstance(value, list):
            candidates = value
        elif isinstance(value, dict) and isinstance(value.get("Records"), list):
            candidates = value["Records"]
        else:
            candidates = [value]
        for item in candidates:
            if not isinstance(item, dict):
                continue
            if security_hub_envelope(item):
                out += security_hub_records(item)
            elif isinstance(item.get("detail"), dict) and isinstance(item.get("source"), str):
                out.append(dict(item["detail"], source=item["source"].removeprefix("aws.")))
            else:
                out.append(item if "source" in item else dict(item, source="custom"))
    return out


def security_hub_envelope(item) -> bool:
    return (isinstance(item, dict) and item.get("source") == "aws.securityhub"
            and isinstance(item.get("detail"), dict)
            and isinstance(item["detail"].get("findings"), list))


def security_hub_records(envelope: dict) -> list[dict]:
    """One record per finding of a Security Hub EventBridge event, under ``finding`` (the
    paths Wazuh's Security Hub rules read: ``aws.finding.Compliance.SecurityControlId``...)."""
    return [{"source": "securityhub", "detail-type": envelope.get("detail-type"),
             "finding": finding}
            for finding in envelope["detail"]["findings"] if isinstance(finding, dict)]


#: Request headers WAF logs carry that Wazuh keeps (standard ones only, lowercased):
#: arbitrary client-chosen header names would make an unbounded set of fields.
STANDARD_HTTP_HEADERS = frozenset("""
a-im accept accept-charset accept-datetime accept-encoding accept-language
access-control-request-headers access-control-request-method authorization
cache-control connection content-encoding content-length content-md5 content-type
cookie date dnt expect forwarded from host http2-settings if-match if-modified-since
if-none-match if-range if-unmodified-since max-forwards origin pragma prefer
proxy-authorization range referer te trailer transfer-encoding upgrade user-agent via
warning x-csrf-token x-forwarded-for x-forwarded-host x-forwarded-proto
x-http-method-override x-requested-with
""".split())


def parse_waf(data: bytes, key: str) -> list[dict]:
    """WAF logs (Firehose): JSON objects; the header list becomes a dict of the
    standard headers, as Wazuh indexes them."""
    out = []
    for record in json_objects(text_of(data)):
        if not isinstance(record, dict):
            continue
        request = record.get("httpRequest")
        if isinstance(request, dict) and isinstance(request.get("headers"), list):
            headers = {}
            for header in request["headers"]:
                name = str(header.get("name", "")).lower() if isinstance(header, dict) else ""
                if name in STANDARD_HTTP_HEADERS:
                    headers[name] = header.get("value")
            record = dict(record, httpRequest=dict(request, headers=headers))
        out.append(dict(record, source="waf"))
    return out


# -- text types ----------------------------------------------------------------------


VPC_FIELDS_V2 = ("version", "account_id", "interface_id", "srcaddr", "dstaddr", "srcport",
                 "dstport", "protocol", "packets", "bytes", "start", "end", "action",
                 "log_status")


def _iso_from_epoch(value) -> str:
    return datetime.fromtimestamp(int(value), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _vpc_record(row: dict) -> dict:
    for name in ("start", "end"):
        value = row.get(name)
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            row[name] = _iso_from_epoch(value)
    row["source"] = "vpc"
    return row


def parse_vpcflow(data: bytes, key: str) -> list[dict]:
    """VPC Flow Logs: space-separated lines whose header names the fields (custom
    formats included, ``-`` becoming ``_``); ``start``/``end`` as ISO 8601."""
    if data[:4] == PARQUET_MAGIC:
        return [_vpc_record({k.replace("-", "_"): v for k, v in row.items()})
                for row in parquet_rows(data)]
    lines = text_of(data).splitlines()
    fields, first_line = VPC_FIELDS_V2, 1
    if lines and _is_vpc_header(lines[0]):
        fields, first_line = tuple(name.replace("-", "_") for name in lines[0].split()), 2
        lines = lines[1:]
    out = []
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        values = line.split()
        if len(values) != len(fields):
            raise FormatError(f"line {number}: {len(values)} fields where {len(fields)} "
                              f"were expected")
        out.append(_vpc_record(dict(zip(fields, values))))
    return out


def _is_vpc_header(line: str) -> bool:
    names = line.split()
    return (all(re.fullmatch(r"[a-z][a-z0-9-]*", name) for name in names)
            and bool({"version", "srcaddr", "interface-id", "account-id"} & set(names)))


def _space_separated(text: str) -> Iterator[list[str]]:
    """Lines of space-separated values where "quoted values" may hold spaces."""
    for row in csv.reader(io.StringIO(text), delimiter=" ", quotechar='"'):
        if row:
            yield row


def _split_address(record: dict, field: str, ip_field: str) -> None:
    """``client:port`` -> ``client_ip`` and ``client_port`` (IPv6-safe: the last colon)."""
    value = record.get(field)
    if isinstance(value, str) and ":" in value:
        address, _, port = value.rpartition(":")
        record[ip_field], record[field] = address, port


def _load_balancer(fields: tuple[str, ...], source: str, addresses: dict[str, str]):
    def parse(data: bytes, key: str) -> list[dict]:
        out = []
        for number, values in enumerate(_space_separated(text_of(data)), start=1):
            if len(values) < len(fields) - 8:
                raise FormatError(f"line {number}: {len(values)} fields, expected "
                                  f"{len(fields)} for a {source} access log")
            record = dict(zip(fields, values))
            for field, ip_field in addresses.items():
                _split_address(record, field, ip_field)
            record["source"] = source
            out.append(record)
        return out
    return parse


ALB_FIELDS = ("type", "time", "elb", "client_port", "target_port", "request_processing_time",
              "target_processing_time", "response_processing_time", "elb_status_code",
              "target_status_code", "received_bytes", "sent_bytes", "request", "user_agent",
              "ssl_cipher", "ssl_protocol", "target_group_arn", "trace_id", "domain_name",
              "chosen_cert_arn", "matched_rule_priority", "request_creation_time",
              "actions_executed", "redirect_url", "error_reason", "target_port_list",
              "target_status_code_list", "classification", "classification_reason",
              "conn_trace_id")
CLB_FIELDS = ("time", "elb", "client_port", "backend_port", "request_processing_time",
              "backend_processing_time", "response_processing_time", "elb_status_code",
              "backend_status_code", "received_bytes", "sent_bytes", "request", "user_agent",
              "ssl_cipher", "ssl_protocol")
NLB_FIELDS = ("type", "version", "time", "elb", "listener", "client_port", "destination_port",
              "connection_time", "tls_handshake_time", "received_bytes", "sent_bytes",
              "incoming_tls_alert", "chosen_cert_arn", "chosen_cert_serial", "tls_cipher",
              "tls_protocol_version", "tls_named_group", "domain_name", "alpn_fe_protocol",
              "alpn_be_protocol", "alpn_client_preference_list",
              "tls_connection_creation_time")

parse_alb = _load_balancer(ALB_FIELDS, "alb", {"client_port": "client_ip",
                                               "target_port": "target_ip"})
parse_clb = _load_balancer(CLB_FIELDS, "clb", {"client_port": "client_ip",
                                               "backend_port": "backend_ip"})
parse_nlb = _load_balancer(NLB_FIELDS, "nlb", {"client_port": "client_ip",
                                               "destination_port": "destination_ip"})

SERVER_ACCESS_FIELDS = ("bucket_owner", "bucket", "time", "remote_ip", "requester",
                        "request_id", "operation", "key", "request_uri", "http_status",
                        "error_code", "bytes_sent", "object_size", "total_time",
                        "turn_around_time", "referer", "user_agent", "version_id", "host_id",
                        "signature_version", "cipher_suite", "authentication_type",
                        "host_header", "tls_version", "access_point_arn", "acl_required")
_SERVER_ACCESS_TOKEN = re.compile(r'\[([^\]]*)\]|"((?:[^"\\]|\\.)*)"|(\S+)')


def parse_server_access(data: bytes, key: str) -> list[dict]:
    """S3 server access logs: space-separated, ``[time]`` and ``"quoted"`` values."""
    out = []
    for number, line in enumerate(text_of(data).splitlines(), start=1):
        if not line.strip():
            continue
        values = [bracketed or quoted or plain for bracketed, quoted, plain
                  in _SERVER_ACCESS_TOKEN.findall(line)]
        if len(values) < 18:
            raise FormatError(f"line {number}: {len(values)} fields, not an S3 server "
                              f"access log line")
        out.append(dict(zip(SERVER_ACCESS_FIELDS, values), source="s3_server_access"))
    return out


UMBRELLA_FIELDS = {
    "dnslogs": ("timestamp", "most_granular_identity", "identities", "internal_ip",
                "external_ip", "action", "query_type", "response_code", "domain", "categories",
                "most_granular_identity_type", "identity_types", "blocked_categories"),
    "proxylogs": ("timestamp", "identities", "internal_ip", "external_ip", "destination_ip",
                  "content_type", "verdict", "url", "referer", "user_agent", "status_code",
                  "requested_size", "response_size", "response_body_size", "sha",
                  "categories", "av_detections", "puas", "amp_disposition",
                  "amp_malware_name", "amp_score", "identity_type", "blocked_categories"),
    "iplogs": ("timestamp", "identity", "source_ip", "source_port", "destination_ip",
               "destination_port", "categories"),
}


def parse_umbrella(data: bytes, key: str) -> list[dict]:
    """Cisco Umbrella's S3 export: CSV whose columns depend on the log folder."""
    kind = next((name for name in UMBRELLA_FIELDS if f"{name}/" in key), None)
    if kind is None:
        raise FormatError("not under dnslogs/, proxylogs/ or iplogs/: unknown Umbrella log")
    fields = UMBRELLA_FIELDS[kind]
    return [dict(zip(fields, row), source="cisco_umbrella")
            for row in csv.reader(io.StringIO(text_of(data))) if row]


def parse_security_lake(data: bytes, key: str) -> list[dict]:
    """Security Lake: OCSF records in Parquet, sent as they are (Wazuh's 0990 rules
    read them at the top level)."""
    if data[:4] != PARQUET_MAGIC:
        raise FormatError("not a Parquet file")
    return parquet_rows(data)


PARSERS: dict[str, Callable[[bytes, str], list[dict]]] = {
    "cloudtrail": parse_cloudtrail,
    "config": parse_config,
    "vpcflow": parse_vpcflow,
    "guardduty": parse_guardduty_native,
    "guardduty-firehose": parse_custom,
    "waf": parse_waf,
    "server_access": parse_server_access,
    "alb": parse_alb,
    "clb": parse_clb,
    "nlb": parse_nlb,
    "cisco_umbrella": parse_umbrella,
    "custom": parse_custom,
    "security_lake": parse_security_lake,
}


def parse(log_type: str, data: bytes, key: str) -> list[dict]:
    """The records of one object of ``log_type``; :class:`FormatError` when unreadable."""
    return PARSERS[log_type](data, key)
