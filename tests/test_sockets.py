"""The framed Unix sockets and the datagram queue, against the real daemon process.

One daemon (with the example plugin installed by pip) serves the whole module:
its sockets are fed well-formed requests, every kind of bad request, and
hypothesis-generated garbage from several misbehaving clients at once, while
a well-formed client on its own connections keeps checking the answers. A
second daemon with a short ``sockets.io_timeout`` covers clients that stall.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wazuhd.sockets import SocketClient, SocketReplyError, send_event
from wazuhd.testing import DaemonProcess

MAX_FRAME = 65536  # sockets.max_frame default (Wazuh's OS_MAXSTR)
HEADER = struct.Struct("<I")
COMMANDS = {"control": {"ping", "status"}, "example": {"greet", "boom", "echo"}}

OK = 0
INTERNAL = 1000
FRAME_TOO_LARGE, FRAME_TRUNCATED, INVALID_JSON, INVALID_REQUEST, UNKNOWN_COMMAND = (
    8001, 8002, 8003, 8004, 8005)
INVALID_NAME = 9901  # the example plugin's own code (greet without a string name)


# -- the daemons -------------------------------------------------------------------------------


def _start_daemon(tmp_path_factory, example_plugin_path, name: str,
                  config: str = "") -> DaemonProcess:
    """The HTTP API plugin is disabled (these tests need no port); the example plugin is on
    PYTHONPATH, installed by pip (conftest's ``example_plugin_path``)."""
    home = tmp_path_factory.mktemp(name) / "home"
    (home / "etc").mkdir(parents=True)
    (home / "etc" / "wazuhd.yaml").write_text("plugins:\n  disabled: [http]\n" + config)
    return DaemonProcess(home, {"PYTHONPATH": str(example_plugin_path)}).start()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, example_plugin_path):
    """A daemon on defaults (max_frame 65536, io_timeout 10) with the example plugin."""
    daemon = _start_daemon(tmp_path_factory, example_plugin_path, "sockets")
    try:
        yield daemon
        assert daemon.proc.poll() is None, "the daemon died during the tests"
        code, *_ = daemon.terminate()
        assert code == 0
        for name in ("control", "example", "queue"):
            assert not daemon.socket(name).exists(), f"socket {name} left behind"
    finally:
        daemon.kill()


@pytest.fixture(scope="module")
def fast_daemon(tmp_path_factory, example_plugin_path):
    """A daemon that gives a started frame (or reply) only 0.3 s."""
    daemon = _start_daemon(tmp_path_factory, example_plugin_path, "fastsockets",
                           "sockets:\n  io_timeout: 0.3\n  idle_timeout: 60\n")
    try:
        yield daemon
    finally:
        daemon.kill()


class GoodClient:
    """A well-formed client on its own long-lived connections (blocking SocketClient)."""

    def __init__(self, daemon: DaemonProcess):
        self.control = SocketClient(daemon.socket("control"), timeout=10)
        self.example = SocketClient(daemon.socket("example"), timeout=10)
        self.control.connect()
        self.example.connect()
        self.rounds = 0

    def check(self) -> None:
        self.rounds += 1
        assert self.control.request("ping") == "pong"
        params = {"n": self.rounds, "blob": "é" * (self.rounds % 700), "nested": [{"a": None}]}
        assert self.example.request("echo", params) == params

    def close(self) -> None:
        self.control.close()
        self.example.close()


@pytest.fixture(scope="module")
def good(daemon):
    client = GoodClient(daemon)
    client.check()
    yield client
    client.check()
    client.close()


# -- raw helpers -------------------------------------------------------------------------------


def connect(path: Path, timeout: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(os.fspath(path))
    return sock


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def request_bytes(command, parameters=None, **extra) -> bytes:
    body = {"version": 1, "origin": {"name": "tests", "module": "test_sockets"},
            "command": command, **extra}
    if parameters is not None:
        body["parameters"] = parameters
    return json.dumps(body).encode()


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError(f"connection closed {len(data)} bytes into a {size}-byte read")
        data += chunk
    return data


def read_reply(sock: socket.socket) -> dict:
    (size,) = HEADER.unpack(recv_exactly(sock, HEADER.size))
    reply = json.loads(recv_exactly(sock, size))
    assert set(reply) == {"error", "message", "data"}, reply
    assert isinstance(reply["message"], str) and reply["message"]
    if reply["error"] != OK:
        assert reply["data"] is None
    return reply


def roundtrip(sock: socket.socket, payload: bytes) -> dict:
    sock.sendall(frame(payload))
    return read_reply(sock)


def read_until_closed(sock: socket.socket) -> tuple[list[dict], bytes]:
    """Every complete reply frame until the server closes, and any bytes left over."""
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except ConnectionResetError:  # closed with our unread request bytes still queued
            break
        if not chunk:
            break
        data += chunk
    replies, position = [], 0
    while len(data) - position >= HEADER.size:
        (size,) = HEADER.unpack_from(data, position)
        if len(data) - position - HEADER.size < size:
            break
        replies.append(json.loads(data[position + HEADER.size:position + HEADER.size + size]))
        position += HEADER.size + size
    return replies, data[position:]


def assert_closed(sock: socket.socket) -> None:
    try:
        assert sock.recv(1) == b""
    except ConnectionResetError:
        pass


def send_quietly(sock: socket.socket, data: bytes) -> bool:
    """sendall, tolerating a server that already closed (after an oversized header)."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


# -- files and framing -------------------------------------------------------------------------


def test_socket_files_are_unix_sockets_with_mode_0660(daemon):
    for name in ("control", "example", "queue"):
        mode = os.stat(daemon.socket(name)).st_mode
        assert stat.S_ISSOCK(mode), name
        assert stat.S_IMODE(mode) == 0o660, f"{name}: {oct(stat.S_IMODE(mode))}"


def test_frame_is_four_byte_little_endian_length_then_payload(daemon):
    with connect(daemon.socket("control")) as sock:
        payload = request_bytes("ping")
        sock.sendall(struct.pack("<I", len(payload)) + payload)
        header = recv_exactly(sock, 4)
        (size,) = struct.unpack("<I", header)
        body = recv_exactly(sock, size)
        assert json.loads(body) == {"error": 0, "message": "ok", "data": "pong"}
        # Nothing follows the announced payload.
        sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            sock.recv(1)


def test_pipelined_and_byte_by_byte_frames(daemon):
    with connect(daemon.socket("example")) as sock:
        # Three requests in one write: three replies, in order.
        sock.sendall(b"".join(frame(request_bytes("echo", {"i": i})) for i in range(3)))
        assert [read_reply(sock)["data"] for _ in range(3)] == [{"i": 0}, {"i": 1}, {"i": 2}]
        # One request dribbled a byte at a time (well within io_timeout).
        for byte in frame(request_bytes("echo", {"slow": True})):
            sock.send(bytes([byte]))
        assert read_reply(sock) == {"error": 0, "message": "ok", "data": {"slow": True}}


def test_well_formed_requests_get_error_0(daemon):
    with connect(daemon.socket("control")) as control, connect(daemon.socket("example")) as ex:
        assert roundtrip(control, request_bytes("ping")) == {
            "error": 0, "message": "ok", "data": "pong"}
        # 'parameters', 'origin' and 'version' may be left out.
        assert roundtrip(control, b'{"command": "ping"}')["data"] == "pong"
        status = roundtrip(control, request_bytes("status"))
        assert status["error"] == 0
        assert set(status["data"]["sockets"]) >= {"control", "example", "queue"}
        assert status["data"]["pid"] == daemon.proc.pid
        params = {"text": "ü:|:", "list": [1, 2.5, None, True], "obj": {"k": "v"}}
        assert roundtrip(ex, request_bytes("echo", params)) == {
            "error": 0, "message": "ok", "data": params}
        greeting = roundtrip(ex, request_bytes("greet", {"name": "ana"}))
        assert greeting["error"] == 0 and greeting["data"]["greeting"] == "hello, ana"


def test_blocking_client_and_daemon_helper(daemon):
    assert daemon.request("control", "ping") == "pong"
    assert daemon.request("example", "echo", {"a": [1]}) == {"a": [1]}
    with pytest.raises(SocketReplyError) as unknown:
        daemon.request("control", "no-such-command")
    assert unknown.value.code == UNKNOWN_COMMAND


BAD_REQUESTS = [
    ("control", b"", INVALID_JSON),
    ("control", b"{", INVALID_JSON),
    ("control", b"\xff\xfe\x00garbage", INVALID_JSON),
    ("control", b'{"command": "ping",}', INVALID_JSON),
    ("control", b"[1, 2]", INVALID_REQUEST),
    ("control", b'"ping"', INVALID_REQUEST),
    ("control", b"null", INVALID_REQUEST),
    ("control", b"42", INVALID_REQUEST),
    ("control", b"{}", INVALID_REQUEST),
    ("control", b'{"parameters": {}}', INVALID_REQUEST),
    ("control", b'{"command": ""}', INVALID_REQUEST),
    ("control", b'{"command": 5}', INVALID_REQUEST),
    ("control", b'{"command": ["ping"]}', INVALID_REQUEST),
    ("control", b'{"command": "ping", "parameters": []}', INVALID_REQUEST),
    ("control", b'{"command": "ping", "origin": "me"}', INVALID_REQUEST),
    ("control", b'{"command": "ping", "version": "1"}', INVALID_REQUEST),
    ("control", b'{"command": "ping", "version": true}', INVALID_REQUEST),
    ("control", b'{"command": "nope"}', UNKNOWN_COMMAND),
    ("control", b'{"command": "PING"}', UNKNOWN_COMMAND),
    ("control", b'{"command": "echo"}', UNKNOWN_COMMAND),  # commands belong to their socket
    ("example", b'{"command": "ping"}', UNKNOWN_COMMAND),
    ("example", b'{"command": "boom"}', INTERNAL),  # handler raised ZeroDivisionError
    ("example", b'{"command": "greet", "parameters": {"name": 7}}', INVALID_NAME),
    # json.loads raises plain ValueError / RecursionError for these: still invalid JSON.
    ("control", b'{"command": "ping", "parameters": {"n": ' + b"9" * 5000 + b"}}", INVALID_JSON),
    ("control", b"[" * 20000 + b"]" * 20000, INVALID_JSON),
]


@pytest.mark.parametrize("socket_name, payload, code", BAD_REQUESTS,
                         ids=[f"{s}-{p[:24]!r}-{c}" for s, p, c in BAD_REQUESTS])
def test_bad_request_gets_error_reply_and_connection_goes_on(daemon, socket_name, payload, code):
    with connect(daemon.socket(socket_name)) as sock:
        reply = roundtrip(sock, payload)
        assert reply["error"] == code, reply
        if code == INTERNAL:
            assert "ZeroDivisionError" in reply["message"]
        # The same connection still serves.
        command = "ping" if socket_name == "control" else "echo"
        again = roundtrip(sock, request_bytes(command, {"after": code}))
        assert again["error"] == 0
        assert again["data"] == ("pong" if command == "ping" else {"after": code})


def test_frame_of_exactly_max_frame_is_served(daemon):
    envelope = request_bytes("echo", {"pad": ""})
    pad = "x" * (MAX_FRAME - len(envelope))
    payload = request_bytes("echo", {"pad": pad})
    assert len(payload) == MAX_FRAME
    with connect(daemon.socket("example")) as sock:
        reply = roundtrip(sock, payload)
        assert reply["error"] == 0 and reply["data"] == {"pad": pad}


@pytest.mark.parametrize("size, body", [
    (MAX_FRAME + 1, b""),                       # header only
    (MAX_FRAME + 1, b"x" * 1000),               # some of the body
    (MAX_FRAME + 1, b"x" * (MAX_FRAME + 1)),    # all of the body
    (0xFFFFFFFF, b""),
    (10_000_000, b"y" * 1_000_000),              # more than the socket buffers hold
])
def test_oversized_frame_gets_error_then_connection_closed(daemon, good, size, body):
    with connect(daemon.socket("control")) as sock:
        send_quietly(sock, HEADER.pack(size) + body)
        reply = read_reply(sock)
        assert reply["error"] == FRAME_TOO_LARGE
        assert f"{size} bytes" in reply["message"] and str(MAX_FRAME) in reply["message"]
        assert_closed(sock)
    good.check()


@pytest.mark.parametrize("sent", [
    HEADER.pack(100) + b"x" * 10,               # body cut short
    HEADER.pack(1) ,                            # header, no body
    b"\x05\x00",                                # half a header
    b"\x05",
    frame(request_bytes("ping")) + HEADER.pack(50) + b"{",  # one good frame, then a cut one
])
def test_truncated_frame_when_client_shuts_down_its_write_side(daemon, good, sent):
    with connect(daemon.socket("control")) as sock:
        sock.sendall(sent)
        sock.shutdown(socket.SHUT_WR)
        replies, rest = read_until_closed(sock)
    assert rest == b""
    assert [r["error"] for r in replies][-1] == FRAME_TRUNCATED
    assert "incomplete frame" in replies[-1]["message"]
    if len(replies) == 2:
        assert replies[0] == {"error": 0, "message": "ok", "data": "pong"}
    good.check()


def test_client_closing_between_frames_gets_no_reply(daemon):
    with connect(daemon.socket("control")) as sock:
        sock.sendall(frame(request_bytes("ping")))
        sock.shutdown(socket.SHUT_WR)
        replies, rest = read_until_closed(sock)
    assert [r["data"] for r in replies] == ["pong"] and rest == b""


def test_abrupt_close_mid_frame_and_mid_reply(daemon, good):
    for data in (HEADER.pack(1000) + b"{", b"\x01", frame(request_bytes("status")) * 50):
        sock = connect(daemon.socket("control"))
        sock.sendall(data)
        sock.close()  # never reads the replies
    good.check()


def test_many_concurrent_clients_each_get_their_own_answers(daemon):
    def client(n: int) -> list:
        with SocketClient(daemon.socket("example"), timeout=10) as c:
            return [c.request("echo", {"client": n, "i": i, "pad": "p" * 1024})["i"]
                    for i in range(20)]

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(client, range(32)))
    assert results == [list(range(20))] * 32


# -- fuzzing: misbehaving clients while a good one keeps talking --------------------------------


def expected_code(socket_name: str, payload: bytes) -> int:
    """What the daemon should answer to one complete frame (an independent oracle)."""
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        return INVALID_JSON
    if not isinstance(body, dict):
        return INVALID_REQUEST
    command = body.get("command")
    parameters, origin = body.get("parameters", {}), body.get("origin", {})
    version = body.get("version", 1)
    if (not isinstance(command, str) or not command or not isinstance(parameters, dict)
            or not isinstance(origin, dict) or type(version) is not int):
        return INVALID_REQUEST
    if command not in COMMANDS[socket_name]:
        return UNKNOWN_COMMAND
    if command == "boom":
        return INTERNAL
    if command == "greet" and not isinstance(parameters.get("name"), str):
        return INVALID_NAME
    return OK


def expected_replies(socket_name: str, data: bytes) -> list[tuple[int, bytes | None]]:
    """Replies to a stream sent whole and then half-closed: (code, payload) per frame, the
    last one 8001/8002 when the stream ends on an oversized header or mid-frame."""
    replies, position = [], 0
    while position < len(data):
        if len(data) - position < HEADER.size:
            return replies + [(FRAME_TRUNCATED, None)]
        (size,) = HEADER.unpack_from(data, position)
        position += HEADER.size
        if size > MAX_FRAME:
            return replies + [(FRAME_TOO_LARGE, None)]
        if len(data) - position < size:
            return replies + [(FRAME_TRUNCATED, None)]
        payload = data[position:position + size]
        replies.append((expected_code(socket_name, payload), payload))
        position += size
    return replies


json_scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**63)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=16))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=6), children, max_size=3),
    max_leaves=8)
envelopes = st.fixed_dictionaries({}, optional={
    "version": st.just(1) | json_values,
    "origin": st.just({"name": "fuzz", "module": "hypothesis"}) | json_values,
    "command": st.sampled_from(["ping", "status", "echo", "greet", "boom", "", "nope"])
    | json_values,
    "parameters": st.dictionaries(st.sampled_from(["name", "x", "blob"]), json_values,
                                  max_size=3) | json_values,
})
payloads = st.one_of(
    st.binary(max_size=200),
    envelopes.map(lambda body: json.dumps(body).encode()),
    st.sampled_from([b"", b"{}", b"[]", b"null", b"1", b'"ping"', b"\xff", b"{\"command\":"]),
)
chunks = st.one_of(
    payloads.map(frame),                                                    # well framed
    st.tuples(st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 300),
                        st.sampled_from([MAX_FRAME, MAX_FRAME + 1])),
              st.binary(max_size=300)).map(lambda t: HEADER.pack(t[0]) + t[1]),  # lying length
    st.binary(min_size=1, max_size=64),                                     # raw bytes
)
bad_clients = st.fixed_dictionaries({
    "socket": st.sampled_from(["control", "example"]),
    "data": st.lists(chunks, min_size=1, max_size=4).map(b"".join),
    "cuts": st.lists(st.integers(1, 512), max_size=4),   # sizes of the first writes
    "ending": st.sampled_from(["half-close", "half-close", "close", "linger"]),
})


def run_bad_client(daemon: DaemonProcess, client: dict) -> list[dict] | None:
    """Send the bytes in pieces, then end as told. Returns the replies for 'half-close'."""
    with connect(daemon.socket(client["socket"]), timeout=10) as sock:
        data, position = client["data"], 0
        for cut in client["cuts"]:
            if position >= len(data):
                break
            if not send_quietly(sock, data[position:position + cut]):
                break
            position += cut
            time.sleep(0.001)
        else:
            send_quietly(sock, data[position:])
        if client["ending"] == "close":
            return None
        if client["ending"] == "linger":
            time.sleep(0.02)
            return None
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        replies, rest = read_until_closed(sock)
        assert rest == b"", f"partial reply frame: {rest[:80]!r}"
        return replies


def check_replies(client: dict, replies: list[dict]) -> None:
    expected = expected_replies(client["socket"], client["data"])
    assert [r["error"] for r in replies] == [code for code, _ in expected], (client, replies)
    for reply, (code, payload) in zip(replies, expected):
        assert set(reply) == {"error", "message", "data"}
        if code != OK:
            assert reply["data"] is None
            continue
        command = json.loads(payload)["command"]
        if command == "ping":
            assert reply["data"] == "pong"
        elif command == "echo":
            assert reply["data"] == json.loads(payload).get("parameters", {})


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(bad_clients, min_size=1, max_size=6))
def test_fuzzed_clients_while_a_good_client_keeps_getting_answers(daemon, good, clients):
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        futures = [pool.submit(run_bad_client, daemon, client) for client in clients]
        good.check()
        while not all(future.done() for future in futures):
            good.check()
        results = [future.result(timeout=30) for future in futures]
    good.check()
    for client, replies in zip(clients, results):
        if replies is not None:
            check_replies(client, replies)


def test_expected_replies_oracle():
    """The fuzz test's oracle agrees with a few hand-checked streams."""
    ping = frame(b'{"command":"ping"}')
    assert expected_replies("control", ping + ping) == [(OK, b'{"command":"ping"}')] * 2
    assert expected_replies("control", ping + b"\x01") == [
        (OK, b'{"command":"ping"}'), (FRAME_TRUNCATED, None)]
    assert expected_replies("control", HEADER.pack(MAX_FRAME + 1) + ping) == [
        (FRAME_TOO_LARGE, None)]
    assert expected_replies("example", frame(b"[]") + frame(b'{"command":"boom"}')) == [
        (INVALID_REQUEST, b"[]"), (INTERNAL, b'{"command":"boom"}')]
    assert expected_replies("control", b"") == []


# -- clients that stall (io_timeout 0.3 s) -------------------------------------------------------


@pytest.mark.parametrize("sent", [HEADER.pack(100) + b"{", HEADER.pack(10), b"\x0a\x00"])
def test_stalled_frame_times_out_with_an_error_reply(fast_daemon, sent):
    with connect(fast_daemon.socket("control")) as sock:
        began = time.monotonic()
        sock.sendall(sent)  # ... and then nothing more, the connection left open
        reply = read_reply(sock)
        took = time.monotonic() - began
        assert reply["error"] == FRAME_TRUNCATED and "timed out" in reply["message"]
        assert 0.2 < took < 3
        assert_closed(sock)
    assert fast_daemon.request("control", "ping") == "pong"


def test_frame_sent_in_pieces_within_io_timeout_is_served(fast_daemon):
    data = frame(request_bytes("echo", {"pieces": 4}))
    with connect(fast_daemon.socket("example")) as sock:
        for start in range(0, len(data), len(data) // 4 + 1):
            sock.sendall(data[start:start + len(data) // 4 + 1])
            time.sleep(0.05)
        assert read_reply(sock)["data"] == {"pieces": 4}


def test_client_that_does_not_read_its_replies_is_disconnected_not_desynchronised(fast_daemon):
    count, blob = 10, "z" * 60000
    requests = b"".join(frame(request_bytes("echo", {"i": i, "blob": blob}))
                        for i in range(count))
    with connect(fast_daemon.socket("example"), timeout=10) as sock:
        sender = threading.Thread(target=send_quietly, args=(sock, requests))
        sender.start()
        time.sleep(1.0)  # several replies time out while nobody reads
        sock.settimeout(1.0)
        data, closed = b"", False
        try:
            while chunk := sock.recv(1 << 20):
                data += chunk
            closed = True
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
        sender.join(10)
    frames, position, intact = [], 0, True
    while position < len(data):
        if len(data) - position < HEADER.size:
            intact = False
            break
        (size,) = HEADER.unpack_from(data, position)
        body = data[position + HEADER.size:position + HEADER.size + size]
        if len(body) < size:
            intact = False
            break
        try:
            frames.append(json.loads(body))
        except ValueError:
            intact = False
            break
        position += HEADER.size + size
    # Either every request was answered in order over an intact stream, or the daemon
    # hung up on the client that would not read.
    if not closed:
        assert intact and [f["data"]["i"] for f in frames] == list(range(count))
    assert fast_daemon.request("control", "ping") == "pong"


# -- the datagram queue ------------------------------------------------------------------------


def queue_counters(daemon: DaemonProcess) -> dict:
    return daemon.counters("queue")


def wait_for_counters(daemon: DaemonProcess, expected: dict, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        counters = queue_counters(daemon)
        if counters == expected or time.monotonic() > deadline:
            return counters
        time.sleep(0.02)


def send_datagram(daemon: DaemonProcess, data: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        sock.settimeout(5)
        sock.sendto(data, os.fspath(daemon.socket("queue")))


def plus(counters: dict, received=0, invalid=0, oversized=0) -> dict:
    return {"received": counters["received"] + received, "invalid": counters["invalid"] + invalid,
            "oversized": counters["oversized"] + oversized}


def test_queue_counts_well_formed_events(daemon):
    before = queue_counters(daemon)
    send_event(daemon.socket("queue"), "1", "/var/log/auth.log", "sshd[1]: Failed password")
    send_event(daemon.socket("queue"), "2", "10.0.0.1:514", "colons: in: message")  # escaped
    send_datagram(daemon, b"3:aws|:s3:{\"json\": true}")
    send_datagram(daemon, b"1:loc:")  # empty message is still an event
    assert wait_for_counters(daemon, plus(before, received=4)) == plus(before, received=4)


def test_queue_counts_malformed_and_oversized_events(daemon, good):
    before = queue_counters(daemon)
    malformed = [b"", b"1", b"1:", b"1::msg", b"1:no-separator", b"12:loc:msg", b"\xff\xfe:l:m",
                 b"1:only|:escaped", b"\x00" * 100]
    for data in malformed:
        send_datagram(daemon, data)
    send_datagram(daemon, b"1:loc:" + b"x" * (MAX_FRAME + 1 - 6))   # one byte too many
    send_datagram(daemon, b"1:loc:" + b"x" * (200_000))
    send_datagram(daemon, b"1:loc:" + b"x" * (MAX_FRAME - 6))      # exactly max_frame
    expected = plus(before, received=1, invalid=len(malformed), oversized=2)
    assert wait_for_counters(daemon, expected) == expected
    good.check()


def datagram_is_event(data: bytes) -> bool:
    """Independent oracle: one character, ':', a non-empty location in which every ':' is
    escaped as '|:', then ':' and the message."""
    text = data.decode("utf-8", errors="replace")
    if len(text) < 3 or text[1] != ":" or text[2] == ":":
        return False
    return any(text[i] == ":" and text[i - 1] != "|" for i in range(3, len(text)))


datagrams = st.one_of(
    st.binary(max_size=120),
    st.text(st.sampled_from("1:|a\xe9"), max_size=10).map(str.encode),
    st.tuples(st.characters(exclude_categories=("Cs",)), st.text(max_size=20),
              st.text(max_size=40)).map(lambda t: f"{t[0]}:{t[1]}:{t[2]}".encode()),
    st.integers(MAX_FRAME - 2, MAX_FRAME + 2).map(lambda n: (b"1:l:" + b"m" * n)[:n]),
)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(datagrams, min_size=1, max_size=8))
def test_fuzzed_datagrams_are_counted_never_crash(daemon, batch):
    before = queue_counters(daemon)
    for data in batch:
        send_datagram(daemon, data)
    oversized = sum(len(d) > MAX_FRAME for d in batch)
    received = sum(len(d) <= MAX_FRAME and datagram_is_event(d) for d in batch)
    expected = plus(before, received=received, oversized=oversized,
                    invalid=len(batch) - received - oversized)
    assert wait_for_counters(daemon, expected) == expected


# -- still standing ----------------------------------------------------------------------------


def test_daemon_is_still_up_and_counted_the_errors(daemon, good):
    good.check()
    assert daemon.proc.poll() is None
    assert daemon.request("control", "ping") == "pong"
    status = daemon.request("control", "status")
    assert status["sockets"]["control"]["errors"] > 0
    assert status["sockets"]["example"]["requests"] > 0
