"""What one Pub/Sub message or one log record becomes: Wazuh's gcp event.

Wazuh's gcp module sends ``{"integration": "gcp", "gcp": <the log entry>}``
at location ``Wazuh-GCloud``; its rules (0690-gcp_rules.xml) read
``gcp.severity``, ``gcp.protoPayload.methodName``, ``gcp.resource.type``,
``gcp.s_request_id`` (access logs), ``gcp.bucket`` (storage logs), and so on.
A record that is not a JSON object is still sent, as text with where it came
from, and counted: nothing read is silently dropped.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Iterator

#: Where Wazuh's gcp events come from, as its analysis sees them.
LOCATION = "Wazuh-GCloud"
INTEGRATION = "gcp"

BUCKET_TYPES = ("access_logs", "json")


def event(entry: dict) -> dict:
    return {"integration": INTEGRATION, "gcp": entry}


def pubsub_event(data: bytes, attributes, message_id: str,
                 publish_time: str | None) -> tuple[dict, bool]:
    """A message's event, and whether its payload was a JSON object (else it is sent
    as text with its attributes)."""
    try:
        payload = json.loads(data)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        return event(payload), True
    return event({"message": data.decode("utf-8", errors="replace"),
                  "attributes": dict(attributes), "message_id": message_id,
                  "publish_time": publish_time}), False


def unreadable(text: str, object_name: str, line: int) -> dict:
    """A log line that does not parse, sent as text with its object and line number."""
    return event({"message": text, "object": object_name, "line": line})


def decompress(data: bytes) -> bytes:
    """Log objects may be gzip-compressed whatever their name says."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def json_lines(data: bytes, object_name: str) -> Iterator[tuple[dict, bool]]:
    """A Cloud Logging sink object: one LogEntry per line."""
    text = decompress(data).decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if isinstance(entry, dict):
            yield event(entry), True
        else:
            yield unreadable(line, object_name, number), False


def access_log(data: bytes, object_name: str) -> Iterator[tuple[dict, bool]]:
    """A Cloud Storage usage/storage log: CSV with a header row, one event per row,
    keyed by the header's names (``time_micros``, ``c_ip``, ..., ``s_request_id``)."""
    text = decompress(data).decode("utf-8", errors="replace")
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if header is None:
        return
    for row in rows:
        if not row:
            continue
        if len(row) != len(header):
            yield unreadable(",".join(row), object_name, rows.line_num), False
            continue
        yield event(dict(zip(header, row))), True


PARSERS = {"access_logs": access_log, "json": json_lines}
