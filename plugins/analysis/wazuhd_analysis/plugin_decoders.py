"""Wazuh's built-in plugin decoders (``<plugin_decoder>``).

Each takes ``(event, decoder, text)`` where ``text`` is the log after the
decoder's offset, and sets fields on the event.
"""

from __future__ import annotations

import json
import re

__all__ = ["PLUGIN_DECODERS", "json_decoder", "flatten_json"]


def _scalar(v) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return repr(v)
        return repr(v)
    return str(v)


def flatten_json(obj, decoder, prefix: str = "", out=None) -> list[tuple[str, str]]:
    """Flatten a JSON object to (dotted.name, string value) pairs as Wazuh's
    JSON decoder extracts them."""
    if out is None:
        out = []
    null_mode = decoder.json_null_field if decoder is not None else "string"
    for key, val in obj.items():
        name = f"{prefix}{key}"
        if isinstance(val, dict):
            flatten_json(val, decoder, name + ".", out)
        elif isinstance(val, list):
            items = []
            ok = True
            for it in val:
                if isinstance(it, (dict, list)):
                    ok = False
                    break
                if it is None:
                    if null_mode == "discard":
                        continue
                    items.append("null" if null_mode == "string" else "")
                else:
                    items.append(_scalar(it))
            if ok:
                out.append((name, ",".join(items)))
            else:
                # arrays holding objects are kept as their JSON text
                out.append((name, json.dumps(val, separators=(",", ":"), ensure_ascii=False)))
        elif val is None:
            if null_mode == "discard":
                continue
            out.append((name, "null" if null_mode == "string" else ""))
        else:
            out.append((name, _scalar(val)))
    return out


_decoder_json = json.JSONDecoder()


def json_decoder(ev, decoder, text: str) -> None:
    start = text.find("{")
    if start < 0:
        return
    try:
        obj, _end = _decoder_json.raw_decode(text, start)
    except ValueError:
        return
    if not isinstance(obj, dict):
        return
    ev.json = obj if ev.json is None else {**ev.json, **obj}
    for name, value in flatten_json(obj, decoder):
        ev.set_field(name, value)


# -- OpenBSD pf ----------------------------------------------------------
_PF = re.compile(
    r"rule (?P<rule>\S+?)(?:\(match\))?:? (?P<action>pass|block|match|nat|rdr|binat|scrub)\S* "
    r"(?:in|out) on \S+: (?P<src>[0-9a-fA-F:.]+) > (?P<dst>[0-9a-fA-F:.]+):(?: (?P<flags>\S+))?"
)


def _split_ip_port(s: str):
    if s.count(".") == 4:
        ip, _, port = s.rpartition(".")
        return ip, port
    return s, None


def pf_decoder(ev, decoder, text: str) -> None:
    m = _PF.search(text)
    if not m:
        return
    ev.set_field("action", m.group("action"))
    sip, sport = _split_ip_port(m.group("src"))
    dip, dport = _split_ip_port(m.group("dst"))
    ev.set_field("srcip", sip)
    if sport:
        ev.set_field("srcport", sport)
    ev.set_field("dstip", dip)
    if dport:
        ev.set_field("dstport", dport)
    rest = text[m.end():]
    proto = "udp" if " udp " in " " + rest + " " else ("icmp" if "icmp" in rest else "tcp")
    ev.set_field("protocol", proto)


# -- SonicWall -----------------------------------------------------------
_KV = re.compile(r'(\w+)=(?:"([^"]*)"|(\S*))')


def sonicwall_decoder(ev, decoder, text: str) -> None:
    kv = {}
    for m in _KV.finditer(text):
        kv.setdefault(m.group(1), m.group(2) if m.group(2) is not None else m.group(3))
    if "pri" in kv:
        ev.set_field("status", kv["pri"])
    if "m" in kv:
        ev.set_field("id", kv["m"])
    src = kv.get("src")
    if src:
        parts = src.split(":")
        if parts[0]:
            ev.set_field("srcip", parts[0])
        if len(parts) > 1 and parts[1]:
            ev.set_field("srcport", parts[1])
    dst = kv.get("dst")
    if dst:
        parts = dst.split(":")
        if parts[0]:
            ev.set_field("dstip", parts[0])
        if len(parts) > 1 and parts[1]:
            ev.set_field("dstport", parts[1])
    proto = kv.get("proto")
    if proto:
        ev.set_field("protocol", proto.split("/")[0])
    if "msg" in kv:
        ev.set_field("action", kv["msg"])


# -- Symantec Web Security -----------------------------------------------
def symantecws_decoder(ev, decoder, text: str) -> None:
    # "<date>,<time>,<srcip>,<user>,...": comma separated; keep the basics
    parts = text.split(",")
    for p in parts:
        p = p.strip()
        if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", p):
            ev.set_field("srcip", p)
            break
    m = re.search(r"(?:block|allow|deny|pass)\w*", text, re.I)
    if m:
        ev.set_field("action", m.group(0))


# -- OSSEC alerts forwarded by syslog -----------------------------------
_OSSEC_ALERT = re.compile(
    r"Alert Level: (?P<level>\d+); Rule: (?P<rule>\d+) - (?P<desc>.*?); "
    r"Location: (?P<loc>.*?);(?P<rest>.*)$"
)


def ossecalert_decoder(ev, decoder, text: str) -> None:
    m = _OSSEC_ALERT.search(text)
    if not m:
        return
    ev.set_field("id", m.group("rule"))
    ev.set_field("status", m.group("level"))
    ev.set_field("system_name", m.group("loc"))
    rest = m.group("rest")
    for key, field in (("srcip", "srcip"), ("user", "dstuser"), ("dstip", "dstip")):
        km = re.search(rf"\b{key}: ([^;]+);", rest)
        if km:
            ev.set_field(field, km.group(1).strip())


PLUGIN_DECODERS = {
    "JSON_Decoder": json_decoder,
    "PF_Decoder": pf_decoder,
    "SonicWall_Decoder": sonicwall_decoder,
    "SymantecWS_Decoder": symantecws_decoder,
    "OSSECAlert_Decoder": ossecalert_decoder,
}
