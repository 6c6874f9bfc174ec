"""FIM events as the analysis queue gets them: queue ``8``, location ``syscheck``, and a
JSON message in the form of Wazuh 4.x's FIM events::

    {"type": "event", "data": {"path": ..., "mode": "scheduled"|"realtime",
     "type": "added"|"modified"|"deleted", "timestamp": ms, "attributes": {...},
     "changed_attributes": [...], "old_attributes": {...}, "content_changes": ..., "tags": ...}}
"""

from __future__ import annotations

import json
import time

from wazuhd.events import Event

QUEUE = "8"
LOCATION = "syscheck"

#: baseline column -> the attribute name of Wazuh's FIM event
ATTRIBUTE_NAMES = {
    "type": "type", "size": "size", "perm": "perm", "uid": "uid", "gid": "gid", "uname": "user_name",
    "gname": "group_name", "mtime": "mtime", "inode": "inode", "md5": "hash_md5", "sha1": "hash_sha1",
    "sha256": "hash_sha256", "checksum": "checksum",
}
#: baseline column -> its name in ``changed_attributes`` (Wazuh's names)
CHANGED_NAMES = {
    "size": "size", "perm": "permission", "uid": "uid", "uname": "user_name", "gid": "gid",
    "gname": "group_name", "mtime": "mtime", "inode": "inode", "md5": "md5", "sha1": "sha1",
    "sha256": "sha256",
}


def attributes(row: dict) -> dict:
    return {name: row[column] for column, name in ATTRIBUTE_NAMES.items() if row.get(column) is not None}


def changed(old: dict, new: dict) -> list[str]:
    return [name for column, name in CHANGED_NAMES.items() if old.get(column) != new.get(column)]


def fim_event(kind: str, path: str, mode: str, new: dict | None, old: dict | None = None, *,
              content_changes: str | None = None, tags: str | None = None) -> Event:
    data: dict = {"path": path, "version": 2.0, "mode": mode, "type": kind,
                  "timestamp": int(time.time() * 1000)}
    if tags:
        data["tags"] = tags
    data["attributes"] = attributes(new if new is not None else old or {})
    if kind == "modified" and old is not None and new is not None:
        data["changed_attributes"] = changed(old, new)
        data["old_attributes"] = attributes(old)
    if content_changes is not None:
        data["content_changes"] = content_changes
    message = json.dumps({"type": "event", "data": data}, separators=(",", ":"))
    return Event(QUEUE, LOCATION, message)
