"""CDB lists (text form) and the rule ``<list>`` lookups.

A list file holds one ``key:value`` per line (the value may be empty; a key
containing ``:`` is written in double quotes).  A rule names a list by a path
such as ``etc/lists/amazon/aws-eventnames``; it resolves to the configured
list file whose path ends with ``lists/amazon/aws-eventnames`` (or, failing
that, whose path ends with the rule's path).
"""

from __future__ import annotations

import ipaddress
import os

from .errors import RulesetError

__all__ = ["CDBList", "ListRegistry", "ListLookup"]


class CDBList:
    __slots__ = ("path", "data")

    def __init__(self, path: str, data: dict[str, str]):
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: str) -> "CDBList":
        data: dict[str, str] = {}
        try:
            fh = open(path, "r", encoding="utf-8", errors="replace")
        except OSError as exc:
            raise RulesetError(f"cannot read list: {exc}", file=path) from exc
        with fh:
            for lineno, raw in enumerate(fh, 1):
                line = raw.rstrip("\r\n")
                if not line.strip():
                    continue
                if line.startswith('"'):
                    end = line.find('"', 1)
                    if end < 0:
                        raise RulesetError("unterminated quoted key", file=path, line=lineno)
                    key = line[1:end]
                    rest = line[end + 1 :]
                    value = rest[1:] if rest.startswith(":") else rest
                else:
                    key, sep, value = line.partition(":")
                if value.startswith('"') and value.endswith('"') and len(value) >= 2:
                    value = value[1:-1]
                data.setdefault(key, value)
        return cls(path, data)


class ListRegistry:
    """The configured list files, found by path suffix."""

    def __init__(self, files: list[str] | None = None):
        self._lists: dict[str, CDBList] = {}
        for f in files or []:
            self.add(f)

    def add(self, path: str) -> None:
        self._lists[os.path.normpath(path)] = CDBList.load(path)

    def resolve(self, ref: str) -> CDBList | None:
        ref = ref.strip().replace("\\", "/")
        if ref.endswith(".cdb"):
            ref = ref[:-4]
        tail = ref
        idx = ref.find("lists/")
        if idx >= 0:
            tail = ref[idx:]
        for cand in (tail, ref):
            for path, lst in self._lists.items():
                p = path.replace("\\", "/")
                if p == cand or p.endswith("/" + cand):
                    return lst
        base = os.path.basename(ref)
        matches = [lst for p, lst in self._lists.items() if os.path.basename(p) == base]
        return matches[0] if len(matches) == 1 else None

    def __len__(self) -> int:
        return len(self._lists)


def _ip_in_keys(value: str, keys) -> bool:
    """Address lookups: the key may be a network written as a prefix of octets
    (``192.168.``) or CIDR, or a plain address."""
    try:
        addr = ipaddress.ip_address(value.strip())
    except ValueError:
        return value in keys
    s = str(addr)
    if s in keys:
        return True
    if addr.version == 4:
        octets = s.split(".")
        for k in range(3, 0, -1):
            if ".".join(octets[:k]) in keys or ".".join(octets[:k]) + "." in keys:
                return True
    for k in keys:
        if "/" in k:
            try:
                if addr in ipaddress.ip_network(k, strict=False):
                    return True
            except ValueError:
                continue
    return False


class ListLookup:
    """One rule ``<list field=... lookup=... check_value=...>`` condition."""

    __slots__ = ("field", "lookup", "check_value", "clist", "ref")

    KINDS = (
        "match_key",
        "not_match_key",
        "match_key_value",
        "address_match_key",
        "not_address_match_key",
        "address_match_key_value",
    )

    def __init__(self, field: str, lookup: str, check_value, clist: CDBList, ref: str):
        if lookup not in self.KINDS:
            raise RulesetError(f"invalid list lookup {lookup!r}")
        self.field = field
        self.lookup = lookup
        self.check_value = check_value  # compiled matcher or None
        self.clist = clist
        self.ref = ref

    def test(self, value: str | None) -> bool:
        if value is None:
            return False
        data = self.clist.data
        lk = self.lookup
        if lk == "match_key":
            return value in data
        if lk == "not_match_key":
            return value not in data
        if lk == "match_key_value":
            if value not in data:
                return False
            return self.check_value is None or self.check_value.search(data[value])
        if lk == "address_match_key":
            return _ip_in_keys(value, data)
        if lk == "not_address_match_key":
            return not _ip_in_keys(value, data)
        # address_match_key_value
        try:
            addr = str(ipaddress.ip_address(value.strip()))
        except ValueError:
            addr = value
        hit = data.get(addr)
        if hit is None:
            return False
        return self.check_value is None or self.check_value.search(hit)
