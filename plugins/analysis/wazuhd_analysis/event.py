"""The event being analysed, and the syslog pre-decoder."""

from __future__ import annotations

import re
import time as _time

__all__ = ["Event", "predecode", "STATIC_FIELDS", "FIELD_ALIASES"]

# Wazuh's static fields; `user` is an alias of dstuser.
STATIC_FIELDS = frozenset(
    {
        "srcip", "dstip", "srcport", "dstport", "protocol", "action", "srcuser",
        "dstuser", "id", "status", "url", "data", "extra_data", "system_name",
        "srcgeoip", "dstgeoip",
    }
)
FIELD_ALIASES = {"user": "dstuser"}


class Event:
    __slots__ = (
        "full_log", "log", "location", "hostname", "program_name", "pid",
        "pre_timestamp", "agent_id", "agent_name", "agent_ip", "decoder", "fields",
        "time", "json", "rule", "predecoded", "log_format", "has_header", "dtype",
        "top_decoder", "low",
    )

    def __init__(self, message: str, location: str = "stdin", *, agent_id: str = "000",
                 agent_name: str | None = None, agent_ip: str | None = None,
                 log_format: str = "syslog", now: float | None = None):
        self.full_log = message
        self.log = message
        self.location = location
        self.hostname = None
        self.program_name = None
        self.pid = None
        self.pre_timestamp = None
        self.agent_id = agent_id
        self.agent_name = agent_name
        self.agent_ip = agent_ip
        self.decoder = None
        self.fields: dict[str, str] = {}
        self.time = _time.time() if now is None else now
        self.json = None
        self.rule = None
        self.predecoded = False
        self.log_format = log_format
        self.has_header = False
        self.dtype = "syslog"
        self.top_decoder = None
        self.low = None

    def set_field(self, name: str, value) -> None:
        name = FIELD_ALIASES.get(name, name)
        if name not in self.fields:
            self.fields[name] = value

    def get(self, name: str):
        """A field's value by its rule name: static, dynamic or pre-decoded."""
        v = self.fields.get(FIELD_ALIASES.get(name, name))
        if v is not None:
            return v
        if name == "program_name":
            return self.program_name
        if name == "hostname":
            return self.hostname
        if name == "location":
            return self.location
        if name == "full_log":
            return self.full_log
        return None

    @property
    def user(self):
        f = self.fields
        return f.get("dstuser") if f.get("dstuser") is not None else f.get("srcuser")


_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|[^\W\d_]{3})"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
# Classic BSD syslog "Mmm dd hh:mm:ss " (day space-padded): the hostname is
# reported.  A syslog <PRI> is the input's business (Wazuh's remoted strips it).
_CLASSIC_TS = rf"{_MONTH} [ \d]\d \d\d:\d\d:\d\d"
_CLASSIC = re.compile(
    rf"^(?P<ts>{_CLASSIC_TS}) +"
    r"(?:(?P<host>[^\s:\[\]]+|\[[^\]\s]+\](?::\d+)?)(?: |:\s*|\s*\[[^\]]*\]\s*:?\s*)"
    r"|)"
)
# Other stamps followed by "host program[pid]:": the program is required and
# the hostname is not reported (as Wazuh's pre-decoder does).
_OTHER = re.compile(
    r"^(?P<ts>"
    rf"\d{{4}} {_MONTH} [ \d]\d \d\d:\d\d:\d\d"  # 2015 Dec 29 10:00:01
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?[+-]\d\d:\d\d"  # syslog-ng/rsyslog ISO
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"  # proftpd 1.3.5
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+[+-]\d{4}"  # macOS unified log
    r") +(?:(?P<host>[^\s:\[\]]+) +)?"
)
# Stamps that are stripped alone: the rest of the line is the log.  (xferlog's
# "Mon Apr 17 18:27:14 2006 ..." is not stripped: vsftpd's decoders read it.)
_TS_ONLY = re.compile(
    r"^(?:"
    r"(?P<snort>\d\d/\d\d-\d\d:\d\d:\d\d\.\d+)\s+"  # snort
    r"|(?P<suricata>\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\.\d+)\s+"  # suricata
    rf"|\[(?P<apache>{_DAY} {_MONTH} [ \d]\d \d\d:\d\d:\d\d \d{{4}})\] "  # apache 2.2
    r")"
)
_XFERLOG = re.compile(rf"^(?P<ts>{_DAY} {_MONTH} [ \d]\d \d\d:\d\d:\d\d \d{{4}}) ")
# "program[pid]:" (a space may follow) or "program: " (a space must follow)
_PROGRAM_SIMPLE = re.compile(
    r"^(?P<prog>[A-Za-z0-9_\-./()@]+)(?:\[(?P<pid>\d+)\](?:: ?| )|: )"
    r"(?:\[ID \d+ [^\]]*\] )?"  # Solaris "[ID 123 auth.info]" tag
)


def predecode(ev: Event) -> None:
    """Split a syslog header off ``ev.full_log``: timestamp, hostname, program
    name and pid.  ``ev.log`` is what follows the header (or the whole message
    when there is no header)."""
    msg = ev.full_log
    ev.predecoded = True
    c = msg[:1]
    if not (c.isalnum() or c == "<" or c == "["):
        return  # JSON, XML-ish or empty: no header can start here
    m = _CLASSIC.match(msg)
    if m is None:
        _predecode_other(ev, msg)
        return
    rest = msg[m.end():]
    host = m.group("host")
    if host is not None and (host.endswith(":") or "[" in host):
        host = None
    if host is not None:
        # `Jan 22 18:34:00 filterlog: 65,...` — the "host" is a program name
        sep = msg[m.end("host"):m.end()]
        if sep.startswith(":"):
            rest = msg[m.start("host"):]
            host = None
    pm = _PROGRAM_SIMPLE.match(rest)
    if pm is None and rest.startswith(": "):
        # "Aug 31 08:11:00 2017 : homer : HOST=..." (sudo's own log): host
        # "2017" and an empty program name, which <program_name /> decoders take
        ev.pre_timestamp = m.group("ts")
        if host is not None:
            ev.hostname = host
        ev.program_name = ""
        ev.log = rest[2:]
        ev.has_header = True
        return
    if pm is None and host is not None:
        # no program after the host
        ev.pre_timestamp = m.group("ts")
        ev.hostname = host.strip("[]")
        ev.log = rest
        ev.has_header = True
        return
    if pm is None:
        return
    ev.pre_timestamp = m.group("ts")
    if host is not None:
        ev.hostname = host
    ev.program_name = pm.group("prog")
    ev.pid = pm.group("pid")
    ev.log = rest[pm.end():]
    ev.has_header = True


def _predecode_other(ev: Event, msg: str) -> None:
    m = _OTHER.match(msg)
    if m is not None:
        rest = msg[m.end():]
        pm = _PROGRAM_SIMPLE.match(rest)
        if pm is None and m.group("host") is not None:
            # the "host" may be the program itself: "<ts> sshd[1]: ..."
            rest = msg[m.start("host"):]
            pm = _PROGRAM_SIMPLE.match(rest)
        if pm is None:
            if m.group("host") is None:
                return
            # a host and no program: the log starts after the host
            ev.pre_timestamp = m.group("ts")
            ev.log = msg[m.end():]
            ev.has_header = True
            return
        ev.pre_timestamp = m.group("ts")
        ev.program_name = pm.group("prog")
        ev.pid = pm.group("pid")
        ev.log = rest[pm.end():]
        ev.has_header = True
        return
    m = _TS_ONLY.match(msg)
    if m is not None:
        ev.pre_timestamp = next(g for g in m.groups() if g is not None)
        ev.log = msg[m.end():]
        ev.has_header = True
        return
    m = _XFERLOG.match(msg)
    if m is not None:
        ev.pre_timestamp = m.group("ts")  # reported, but the log stays whole
