"""File integrity (syscheck) events: the decoder Wazuh builds into analysisd.

FIM events arrive with the location ``syscheck`` (an agent's as ``[001] (name) ip->syscheck``)
and a JSON message in the form of Wazuh 4.x's FIM events::

    {"type": "event", "data": {"path": "/etc/hosts", "mode": "scheduled|realtime|whodata",
     "type": "added|modified|deleted", "attributes": {...}, "old_attributes": {...},
     "changed_attributes": [...], "content_changes": "...", "tags": "a,b"}}

:func:`parse` turns one into an event decoded as ``syscheck_new_entry``,
``syscheck_integrity_changed`` or ``syscheck_deleted`` (category ``ossec``), which Wazuh's
rules 554, 550 and 553 expect, with Wazuh's FIM fields for ``<field>`` conditions
(``file``, ``size_after``, ``changed_attributes``...), Wazuh's ``full_log`` text, and the
alert's ``syscheck`` section (:func:`complete_alert`).
"""

from __future__ import annotations

import json
import time

from .decoders import Decoder
from .event import Event

__all__ = ["LOCATION", "FimEvent", "parse", "complete_alert"]

LOCATION = "syscheck"
DECODER_NAMES = {"added": "syscheck_new_entry", "modified": "syscheck_integrity_changed",
                 "deleted": "syscheck_deleted"}

# Wazuh's FIM event attribute -> the alert's syscheck key (before the _before/_after suffix)
_ATTRIBUTES = (("size", "size"), ("perm", "perm"), ("uid", "uid"), ("gid", "gid"),
               ("hash_md5", "md5"), ("hash_sha1", "sha1"), ("hash_sha256", "sha256"),
               ("user_name", "uname"), ("group_name", "gname"), ("mtime", "mtime"), ("inode", "inode"))
# changed attribute -> (the line of full_log for it, the attribute whose values it shows)
_CHANGE_LINES = {
    "size": ("Size changed from '{old}' to '{new}'", "size"),
    "permission": ("Permissions changed from '{old}' to '{new}'", "perm"),
    "uid": ("Ownership was '{old}', now it is '{new}'", "uid"),
    "user_name": ("User name was '{old}', now it is '{new}'", "user_name"),
    "gid": ("Group ownership was '{old}', now it is '{new}'", "gid"),
    "group_name": ("Group name was '{old}', now it is '{new}'", "group_name"),
    "mtime": ("Old modification time was: '{old}', now it is '{new}'", "mtime"),
    "inode": ("Old inode was: '{old}', now it is '{new}'", "inode"),
    "md5": ("Old md5sum was: '{old}'\nNew md5sum is : '{new}'", "hash_md5"),
    "sha1": ("Old sha1sum was: '{old}'\nNew sha1sum is : '{new}'", "hash_sha1"),
    "sha256": ("Old sha256sum was: '{old}'\nNew sha256sum is : '{new}'", "hash_sha256"),
}


def _decoder(name: str) -> Decoder:
    decoder = Decoder(name, "<built-in>", 0)
    decoder.type = "ossec"
    decoder.type_set = True
    return decoder


_DECODERS = {kind: _decoder(name) for kind, name in DECODER_NAMES.items()}


class FimEvent(Event):
    """An event decoded from a FIM message; ``syscheck`` is the alert's section."""

    __slots__ = ("syscheck",)


def _mtime(value) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(value)) if isinstance(value, (int, float)) \
        else str(value)


def parse(message: str, location: str, **event_options) -> FimEvent | None:
    """The decoded event of a FIM message, or None when the message is not one."""
    if not message.startswith("{"):
        return None
    try:
        body = json.loads(message)
    except ValueError:
        return None
    data = body.get("data") if isinstance(body, dict) and body.get("type") == "event" else None
    if not isinstance(data, dict) or data.get("type") not in _DECODERS or not isinstance(data.get("path"), str):
        return None
    kind, path = data["type"], data["path"]
    mode = str(data.get("mode") or "scheduled")
    new = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
    old = data.get("old_attributes") if isinstance(data.get("old_attributes"), dict) else {}
    changed = [str(c) for c in data.get("changed_attributes") or [] if isinstance(c, str)]
    section: dict = {"path": path, "mode": mode}
    # a deleted file is described by what it was (Wazuh reports those values as "after")
    for attribute, key in _ATTRIBUTES:
        if kind == "modified" and attribute in old:
            section[f"{key}_before"] = _value(key, old[attribute])
        if attribute in new:
            section[f"{key}_after"] = _value(key, new[attribute])
    if changed:
        section["changed_attributes"] = changed
    if data.get("content_changes"):
        section["diff"] = str(data["content_changes"])
    tags = data.get("tags")
    if tags:
        section["tags"] = [t.strip() for t in str(tags).split(",") if t.strip()]
    section["event"] = kind

    ev = FimEvent(_full_log(kind, path, mode, changed, old, new, section.get("diff")), location,
                  **event_options)
    ev.syscheck = section
    decoder = _DECODERS[kind]
    ev.decoder = ev.top_decoder = decoder
    ev.dtype = decoder.type
    low = ev.log.lower()
    ev.low = low if len(low) == len(ev.log) else None
    ev.fields["file"] = path
    for key, value in section.items():
        if key.endswith(("_before", "_after")) or key in ("diff", "mode", "event"):
            ev.fields[key] = str(value)
    if changed:
        ev.fields["changed_attributes"] = ",".join(changed)
    if tags:
        ev.fields["tag"] = ",".join(section["tags"])
    return ev


def _value(key: str, value):
    if key == "mtime":
        return _mtime(value)
    if key == "inode":
        return value
    return str(value)


def _full_log(kind: str, path: str, mode: str, changed: list[str], old: dict, new: dict,
              diff: str | None) -> str:
    lines = [f"File '{path}' {kind}", f"Mode: {mode}"]
    if kind == "modified" and changed:
        lines.append(f"Changed attributes: {','.join(changed)}")
        for name in changed:
            template = _CHANGE_LINES.get(name)
            if template is not None:
                text, attribute = template
                lines.append(text.format(old=old.get(attribute, ""), new=new.get(attribute, "")))
    if diff:
        lines.append(f"What changed:\n{diff}")
    return "\n".join(lines) + "\n"


def complete_alert(alert: dict, ev: FimEvent) -> None:
    """Wazuh's FIM alerts carry the ``syscheck`` section instead of decoded ``data``."""
    alert.pop("data", None)
    location = alert.pop("location", ev.location)
    alert["syscheck"] = ev.syscheck
    alert["location"] = location
