"""Syslog over UDP and TCP, as Wazuh's remoted ``<connection>syslog</connection>``.

Like remoted (``src/remoted/syslog.c``, ``syslogtcp.c``), an event's queue is
``2`` (``SYSLOG_MQ``), its location is the sender's IP address and its message
is the syslog line with the ``<PRI>`` header removed. Senders are checked
against ``denied_ips`` then ``allowed_ips`` (IPs or CIDRs); anything else is
refused, counted and logged, as remoted's ``OS_IPNotAllowed`` does.

RFC 5424. Remoted strips only ``<PRI>``, so analysisd gets
``1 2023-05-03T10:07:30.61+03:00 host app 6770 - - msg``, which its
pre-decoder does not read (wazuh/wazuh#16994, "won't fix"; #2038): no
hostname, no program name, and most decoders never match. By default
(``rfc5424: header``) we rewrite such a line to the header Wazuh's pre-decoder
documents for rsyslog's high-precision format,
``2023-05-03T10:07:30.610000+03:00 host app[6770]: msg`` (timestamp
normalised to microseconds and a numeric offset; a ``-`` host becomes the
sender's IP, a ``-`` timestamp the time of receipt; MSGID is dropped, as
rsyslog drops it; structured data, when present, stays at the start of the
message). ``rfc5424: raw`` keeps remoted's behaviour exactly.

A UDP datagram is one message (its trailing newline removed), as in remoted.
TCP frames are newline-delimited or RFC 6587 octet-counted (``LEN SP MSG``),
told apart per frame by the first byte (a digit run followed by a space means
octet counting, as rsyslog decides). Remoted knows only newlines.

Lines over ``max_size`` bytes (default 65536, remoted's ``OS_MAXSTR``) are
dropped, counted and logged with the sender's address.

Backpressure: TCP awaits the event channel, so a slow analysis stops reading
and TCP flow control slows the sender; nothing is dropped. UDP cannot push
back: a receiver task drains the socket into a bounded local buffer
(``buffer`` datagrams) and a forwarder awaits the channel; a datagram that
finds the buffer full is dropped and counted (``dropped``). Without that
buffer the kernel would drop datagrams silently.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterator

import trio

from wazuhd.events import Event

from .common import Counters, Throttle

log = logging.getLogger("wazuhd.analysis.inputs.syslog")

QUEUE = "2"  # SYSLOG_MQ: what remoted uses for syslog events
_PRI = re.compile(rb"^<\d{1,3}>")
_RFC5424 = re.compile(
    r"^[1-9]\d{0,2} (?P<ts>-|\d{4}-\d\d-\d\dT\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+)"
    r" (?P<msgid>\S+)(?: (?P<rest>.*))?$", re.S)


# -- senders ---------------------------------------------------------------------------


class AddressFilter:
    """``denied`` wins, then ``allowed``; an address in neither is refused."""

    def __init__(self, allowed: list[str], denied: list[str]):
        self.allowed = [_network(text, "allowed_ips") for text in allowed]
        self.denied = [_network(text, "denied_ips") for text in denied]

    def allows(self, ip: str) -> bool:
        address = ipaddress.ip_address(ip)
        if any(address in net for net in self.denied if net.version == address.version):
            return False
        return any(address in net for net in self.allowed if net.version == address.version)


def _network(text: str, key: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise ValueError(f"syslog {key}: {text!r} is not an IP address or network: {exc}") from None


def peer_ip(address) -> str:
    """The sender's IP as Wazuh writes it: an IPv4-mapped IPv6 address as plain IPv4."""
    ip = ipaddress.ip_address(address[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


# -- messages --------------------------------------------------------------------------


def to_message(frame: bytes, sender: str, *, rfc5424: str = "header") -> str:
    """The message analysis gets for one syslog frame (see the module docstring)."""
    pri = _PRI.match(frame)
    body = frame[pri.end():] if pri else frame
    text = body.decode("utf-8", errors="replace")
    if pri and rfc5424 == "header":
        converted = _rfc5424_to_header(text, sender)
        if converted is not None:
            return converted
    return text


def _rfc5424_to_header(text: str, sender: str) -> str | None:
    m = _RFC5424.match(text)
    if m is None:
        return None
    ts = m["ts"]
    if ts == "-":
        stamp = datetime.now().astimezone()
    else:
        try:
            stamp = datetime.fromisoformat(ts)
        except ValueError:
            return None
        if stamp.tzinfo is None:
            return None
    sd, msg = _split_structured_data(m["rest"] or "")
    if sd is None:
        return None
    msg = msg.removeprefix("\ufeff")
    host = sender if m["host"] == "-" else m["host"]
    app, procid = m["app"], m["procid"]
    tag = "" if app == "-" else f"{app}: " if procid == "-" else f"{app}[{procid}]: "
    body = f"{sd} {msg}" if sd and msg else sd or msg
    return f"{stamp.isoformat(timespec='microseconds')} {host} {tag}{body}"


def _split_structured_data(rest: str) -> tuple[str | None, str]:
    """``(structured data or "", message)``; None when the SD is malformed."""
    if rest == "-" or rest.startswith("- "):
        return "", rest[2:]
    if not rest.startswith("["):
        return None, rest
    i, quoted = 0, False
    while i < len(rest):
        c = rest[i]
        if c == "\\" and quoted:
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == "]" and not quoted and not rest.startswith("[", i + 1):
            return rest[:i + 1], rest[i + 2:]
        i += 1
    return None, rest


class StreamFramer:
    """Split a TCP byte stream into syslog frames (newline or octet-counted).

    ``feed`` yields ``("frame", bytes)`` for each message and
    ``("oversized", size)`` once for each frame over ``max_size`` (whose bytes
    are then skipped), holding at most ``max_size`` bytes meanwhile.
    """

    def __init__(self, max_size: int):
        self.max_size = max_size
        self.buffer = bytearray()
        self.skip = 0             # octet-counted bytes still to discard
        self.skip_line = False    # discarding an oversized line up to its newline

    def feed(self, data: bytes) -> Iterator[tuple[str, bytes | int]]:
        self.buffer += data
        while self.buffer:
            if self.skip:
                n = min(self.skip, len(self.buffer))
                del self.buffer[:n]
                self.skip -= n
                continue
            if self.skip_line:
                end = self.buffer.find(b"\n")
                if end < 0:
                    self.buffer.clear()
                    return
                del self.buffer[:end + 1]
                self.skip_line = False
                continue
            if self.buffer[:1].isdigit():
                space = self.buffer.find(b" ", 0, 11)
                digits = self.buffer[:space] if space > 0 else b""
                if space > 0 and digits.isdigit():
                    size = int(digits)
                    if size > self.max_size:
                        del self.buffer[:space + 1]
                        self.skip = size
                        yield "oversized", size
                        continue
                    if len(self.buffer) < space + 1 + size:
                        return
                    frame = bytes(self.buffer[space + 1:space + 1 + size])
                    del self.buffer[:space + 1 + size]
                    yield "frame", frame.rstrip(b"\r\n")
                    continue
                if space < 0 and len(self.buffer) < 11 and self.buffer.isdigit():
                    return  # the length may not have arrived whole yet
            end = self.buffer.find(b"\n")
            if end < 0:
                if len(self.buffer) > self.max_size:
                    size = len(self.buffer)
                    self.buffer.clear()
                    self.skip_line = True
                    yield "oversized", size
                return
            frame = bytes(self.buffer[:end])
            del self.buffer[:end + 1]
            if len(frame) > self.max_size:
                yield "oversized", len(frame)
            else:
                yield "frame", frame.rstrip(b"\r")

    def finish(self) -> bytes | None:
        """What is left when the sender closes: its last message, unterminated."""
        if self.skip or self.skip_line or not self.buffer:
            return None
        frame = bytes(self.buffer).rstrip(b"\r")
        self.buffer.clear()
        return frame


# -- the listener ----------------------------------------------------------------------


@dataclass
class SyslogListener:
    """One ``syslog.listeners[]`` entry: a UDP socket or a TCP server."""

    protocol: str
    bind: str
    port: int
    allowed: AddressFilter
    max_size: int
    rfc5424: str
    buffer: int
    events_source: Callable[[], trio.MemorySendChannel]  # ctx.event_sender
    counters: Counters

    @classmethod
    def from_config(cls, cfg: dict, event_sender) -> "SyslogListener":
        names = ["received", "denied", "oversized", "dropped"]
        if cfg["protocol"] == "tcp":
            names.append("connections")
        return cls(protocol=cfg["protocol"], bind=cfg["bind"], port=cfg["port"],
                   allowed=AddressFilter(cfg["allowed_ips"], cfg["denied_ips"]),
                   max_size=cfg["max_size"], rfc5424=cfg["rfc5424"], buffer=cfg["buffer"],
                   events_source=event_sender, counters=Counters(*names))

    @property
    def name(self) -> str:
        return f"syslog:{self.protocol}:{self.bind}:{self.port}"

    def __post_init__(self):
        self._throttle = Throttle()
        self._where = f"{self.protocol.upper()}/{self.port}"  # the bound port once known

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; ``task_status.started((bind, port))`` once bound."""
        async with self.events_source() as events:
            if self.protocol == "udp":
                await self._serve_udp(events, task_status)
            else:
                await self._serve_tcp(events, task_status)

    def _bind_error(self, exc: OSError) -> OSError:
        hint = (" (ports under 1024 need root or CAP_NET_BIND_SERVICE)"
                if 0 < self.port < 1024 else "")
        return OSError(exc.errno, f"syslog {self.protocol.upper()}: cannot listen on "
                                  f"{self.bind} port {self.port}: {exc.strerror or exc}{hint}")

    def _admit(self, sender: str) -> bool:
        if self.allowed.allows(sender):
            return True
        self.counters.add("denied")
        self._throttle.warning(f"denied {sender}", "syslog %s: message from %s refused "
                               "(not in allowed_ips, or in denied_ips)", self._where, sender)
        return False

    def _oversized(self, sender: str, size: int) -> None:
        self.counters.add("oversized")
        self._throttle.warning(f"oversized {sender}", "syslog %s: dropped a %d-byte message "
                               "from %s (max_size is %d)", self._where, size, sender,
                               self.max_size)

    async def _emit(self, events, frame: bytes, sender: str, received: float) -> None:
        message = to_message(frame, sender, rfc5424=self.rfc5424)
        if not message:
            return
        await events.send(Event(QUEUE, sender, message, received))
        self.counters.add("received")

    # -- UDP

    async def _serve_udp(self, events, task_status) -> None:
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        with trio.socket.socket(family, socket.SOCK_DGRAM) as sock:
            try:
                await sock.bind((self.bind, self.port))
            except OSError as exc:
                raise self._bind_error(exc) from exc
            bound = sock.getsockname()[:2]
            self._where = f"UDP/{bound[1]}"
            log.info("syslog listening on %s port %d/UDP", bound[0], bound[1])
            send_local, receive_local = trio.open_memory_channel(self.buffer)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._forward_udp, events, receive_local)
                task_status.started(bound)
                await self._receive_udp(sock, send_local)

    async def _receive_udp(self, sock, local: trio.MemorySendChannel) -> None:
        async with local:
            while True:
                data, address = await sock.recvfrom(self.max_size + 1)
                sender = peer_ip(address)
                if not self._admit(sender):
                    continue
                if len(data) > self.max_size:
                    self._oversized(sender, len(data))
                    continue
                try:
                    local.send_nowait((data, sender, time.time()))
                except trio.WouldBlock:
                    self.counters.add("dropped")
                    self._throttle.warning("udp buffer", "syslog %s: dropped a message from %s: "
                                           "analysis is behind and the %d-message buffer is "
                                           "full", self._where, sender, self.buffer)

    async def _forward_udp(self, events, local: trio.MemoryReceiveChannel) -> None:
        async with local:
            async for data, sender, received in local:
                await self._emit(events, data.rstrip(b"\r\n"), sender, received)

    # -- TCP

    async def _serve_tcp(self, events, task_status) -> None:
        try:
            listeners = await trio.open_tcp_listeners(self.port, host=self.bind)
        except OSError as exc:
            raise self._bind_error(exc) from exc
        bound = listeners[0].socket.getsockname()[:2]
        self._where = f"TCP/{bound[1]}"
        log.info("syslog listening on %s port %d/TCP", bound[0], bound[1])

        async def handle(stream: trio.SocketStream) -> None:
            await self._handle_tcp(events, stream)

        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, handle, listeners)
            task_status.started(bound)

    async def _handle_tcp(self, events, stream: trio.SocketStream) -> None:
        """One sender; any error ends this connection only, never the listener."""
        sender = peer_ip(stream.socket.getpeername())
        async with stream:
            if not self._admit(sender):
                return
            self.counters.add("connections")
            framer = StreamFramer(self.max_size)
            try:
                async for data in stream:
                    for kind, value in framer.feed(data):
                        if kind == "oversized":
                            self._oversized(sender, value)
                        else:
                            await self._emit(events, value, sender, time.time())
                last = framer.finish()
                if last:
                    await self._emit(events, last, sender, time.time())
            except (trio.BrokenResourceError, OSError) as exc:
                log.debug("syslog TCP connection from %s ended: %s", sender, exc)
