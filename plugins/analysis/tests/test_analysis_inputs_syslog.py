"""Syslog listener: real senders (util-linux ``logger``, raw sockets) into a real channel."""

import logging
import re
import shutil
import socket
from dataclasses import dataclass, field

import pytest
import trio
from hypothesis import given, strategies as st

from wazuhd_analysis.inputs import services
from wazuhd_analysis.inputs.syslog import AddressFilter, StreamFramer, to_message

LOGGER = shutil.which("logger")
needs_logger = pytest.mark.skipif(LOGGER is None, reason="util-linux 'logger' is not installed")


@dataclass
class FakeCtx:
    """What the inputs use of the daemon's Context."""

    config: dict
    events: trio.MemorySendChannel
    store: object = None
    counters: dict = field(default_factory=dict)

    def add_counters(self, name, read):
        assert name not in self.counters
        self.counters[name] = read

    def event_sender(self):
        return self.events.clone()


def listener(**overrides):
    return {"protocol": "udp", "bind": "127.0.0.1", "port": 0, **overrides}


async def start(nursery, *listeners, size=100):
    """Start the services; return (ctx, receive channel, [bound ports])."""
    send, receive = trio.open_memory_channel(size)
    ctx = FakeCtx({"syslog": {"enabled": True, "listeners": list(listeners)}}, send)
    ports = []
    for service in services(ctx):
        ports.append((await nursery.start(service.run))[1])
    return ctx, receive, ports


async def receive_n(receive, n, timeout=5):
    with trio.fail_after(timeout):
        return [await receive.receive() for _ in range(n)]


async def wait_for(predicate, timeout=5):
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


async def logger(port, *args):
    await trio.run_process([LOGGER, "--server", "127.0.0.1", "--port", str(port), *args])


# -- real senders ------------------------------------------------------------------------


@needs_logger
async def test_logger_udp_rfc3164_becomes_a_remoted_style_event(nursery):
    ctx, receive, [port] = await start(nursery, listener())
    await logger(port, "--udp", "--rfc3164", "-t", "sshd", "Failed password for root")
    [event] = await receive_n(receive, 1)
    assert event.queue == "2"
    assert event.location == "127.0.0.1"
    assert re.fullmatch(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ sshd: Failed password for root",
                        event.message), event.message
    await wait_for(lambda: ctx.counters["syslog:udp:127.0.0.1:0"]()["received"] == 1)


@needs_logger
async def test_logger_tcp_rfc5424_gets_a_header_the_predecoder_reads(nursery):
    _, receive, [port] = await start(nursery, listener(protocol="tcp"))
    await logger(port, "--tcp", "--rfc5424", "-t", "app", "-i", "user login failed")
    [event] = await receive_n(receive, 1)
    # '<13>1 2026-...Z host app 1234 - [timeQuality ...] msg' -> ISO stamp, host, app[pid]:
    header = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d \S+ app\[\d+\]: "
    assert re.fullmatch(header + r"(\[timeQuality [^\]]*\] )?user login failed",
                        event.message), event.message


@needs_logger
async def test_logger_tcp_octet_counting_and_udp_rfc5424_raw(nursery):
    ctx, receive, ports = await start(nursery, listener(protocol="tcp"),
                                      listener(rfc5424="raw", bind="127.0.0.2"))
    await logger(ports[0], "--tcp", "--octet-count", "--rfc3164", "-t", "x", "first")
    await logger(ports[0], "--tcp", "--octet-count", "--rfc3164", "-t", "x", "second")
    assert [e.message.split(": ", 1)[1] for e in await receive_n(receive, 2)] == ["first", "second"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"<13>1 2026-01-02T03:04:05Z h app - - - raw msg", ("127.0.0.2", ports[1]))
    [event] = await receive_n(receive, 1)
    assert event.message == "1 2026-01-02T03:04:05Z h app - - - raw msg"


# -- raw sockets -------------------------------------------------------------------------


async def test_tcp_framing_mixed_and_oversized_frames_are_dropped_and_named(nursery, caplog):
    ctx, receive, [port] = await start(nursery, listener(protocol="tcp", max_size=50))
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    big = b"x" * 60
    async with stream:
        for piece in [b"11 <13>one two", b"<13>three\r\n", f"{len(big)} ".encode() + big,
                      big + b"\n", b"1", b"3 <13>four-five", b"\n", b"<13>last, unterminated"]:
            await stream.send_all(piece)
            await trio.sleep(0.01)
    events = await receive_n(receive, 4)
    assert [e.message for e in events] == ["one two", "three", "four-five", "last, unterminated"]
    counters = ctx.counters["syslog:tcp:127.0.0.1:0"]()
    assert counters["oversized"] == 2 and counters["connections"] == 1
    assert "127.0.0.1" in caplog.text and "max_size is 50" in caplog.text


async def test_udp_oversized_datagram_dropped_and_counted(nursery):
    ctx, receive, [port] = await start(nursery, listener(max_size=100))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"<13>" + b"y" * 200, ("127.0.0.1", port))
        sock.sendto(b"<13>fits\n", ("127.0.0.1", port))
    [event] = await receive_n(receive, 1)
    assert event.message == "fits"
    assert ctx.counters["syslog:udp:127.0.0.1:0"]()["oversized"] == 1


async def test_senders_outside_allowed_ips_are_refused_and_counted(nursery, caplog):
    caplog.set_level(logging.WARNING)
    ctx, receive, ports = await start(
        nursery, listener(allowed_ips=["10.0.0.0/8"]),
        listener(protocol="tcp", allowed_ips=["127.0.0.0/8"], denied_ips=["127.0.0.1"]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"<13>hello", ("127.0.0.1", ports[0]))
    stream = await trio.open_tcp_stream("127.0.0.1", ports[1])
    async with stream:
        with trio.fail_after(5):
            assert await stream.receive_some() == b""  # closed on us
    await wait_for(lambda: ctx.counters["syslog:udp:127.0.0.1:0"]()["denied"] == 1)
    assert ctx.counters["syslog:tcp:127.0.0.1:0"]()["denied"] == 1
    assert "message from 127.0.0.1 refused" in caplog.text
    with pytest.raises(trio.WouldBlock):
        receive.receive_nowait()


async def test_udp_drops_are_counted_when_analysis_is_behind(nursery):
    ctx, receive, [port] = await start(nursery, listener(buffer=2), size=1)
    read = ctx.counters["syslog:udp:127.0.0.1:0"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(10):
            sock.sendto(f"<13>m{i}".encode(), ("127.0.0.1", port))
    await wait_for(lambda: read()["dropped"] + read()["received"] >= 10 - 3)
    got = []
    with trio.move_on_after(0.5):
        async for event in receive:
            got.append(event.message)
    assert read()["dropped"] >= 6
    assert len(got) == read()["received"] == 10 - read()["dropped"]


async def test_tcp_waits_for_a_slow_analysis_and_loses_nothing(nursery):
    ctx, receive, [port] = await start(nursery, listener(protocol="tcp"), size=1)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(b"".join(b"<13>m%d\n" % i for i in range(500)))
    await trio.sleep(0.2)
    assert ctx.counters["syslog:tcp:127.0.0.1:0"]() == {  # blocked on the full channel
        "received": 1, "denied": 0, "oversized": 0, "dropped": 0, "connections": 1}
    assert [e.message for e in await receive_n(receive, 500)] == [f"m{i}" for i in range(500)]


async def test_ipv6_sender_is_the_location(nursery):
    ctx, receive, [port] = await start(nursery, listener(bind="::1", allowed_ips=["::1/128"]))
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"<13>over v6", ("::1", port))
    [event] = await receive_n(receive, 1)
    assert (event.location, event.message) == ("::1", "over v6")
    assert event.to_wire() == b"2:|:|:1:over v6"


# -- units -------------------------------------------------------------------------------


def test_rfc5424_examples_of_the_rfc():
    assert to_message(b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                      b"\xef\xbb\xbf'su root' failed", "192.0.2.9") == \
        "2003-10-11T22:14:15.003000+00:00 mymachine.example.com su: 'su root' failed"
    assert to_message(b"<165>1 2003-08-24T05:14:15.000003-07:00 - myproc 8710 - - done",
                      "192.0.2.9") == \
        "2003-08-24T05:14:15.000003-07:00 192.0.2.9 myproc[8710]: done"
    assert to_message(b'<165>1 2003-10-11T22:14:15.003Z h evntslog - ID47 [ex@1 a="x\\]y"] '
                      b"An event", "192.0.2.9") == \
        '2003-10-11T22:14:15.003000+00:00 h evntslog: [ex@1 a="x\\]y"] An event'
    # Not RFC 5424 after all, or 3164: only <PRI> goes, as remoted does.
    assert to_message(b"<13>1 not-a-date h a - - - m", "ip") == "1 not-a-date h a - - - m"
    assert to_message(b"<13>Oct 11 22:14:15 host su: x", "ip") == "Oct 11 22:14:15 host su: x"
    assert to_message(b"no pri <13> here", "ip") == "no pri <13> here"


def test_address_filter():
    allowed = AddressFilter(["10.0.0.0/8", "::1", "192.0.2.7"], ["10.9.0.0/16"])
    assert allowed.allows("10.1.2.3") and allowed.allows("::1") and allowed.allows("192.0.2.7")
    assert not allowed.allows("10.9.1.1") and not allowed.allows("192.0.2.8")
    with pytest.raises(ValueError, match="allowed_ips: 'nope'"):
        AddressFilter(["nope"], [])


frames = st.lists(st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b
                                                             and not b[:1].isdigit()),
                  max_size=8)


@given(frames, st.lists(st.booleans(), min_size=8, max_size=8), st.data())
def test_framer_any_split_gives_the_same_frames(messages, octet, data):
    """However TCP splits the stream, the same frames come out."""
    stream = b"".join((f"{len(m)} ".encode() + m) if octet[i] else m + b"\n"
                      for i, m in enumerate(messages))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    framer, out = StreamFramer(64), []
    for a, b in zip([0] + cuts, cuts + [len(stream)]):
        out += [value for kind, value in framer.feed(stream[a:b])]
    assert out == [m.rstrip(b"\r") if not octet[i] else m.rstrip(b"\r\n")
                   for i, m in enumerate(messages)]
