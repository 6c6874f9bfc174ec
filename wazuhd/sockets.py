"""Framed Unix sockets, as Wazuh's daemons speak them.

Stream sockets carry frames: a 4-byte little-endian payload length, then the
payload. Requests and replies are JSON envelopes::

    {"version": 1, "origin": {"name": ..., "module": ...},
     "command": ..., "parameters": {...}}
    {"error": 0, "message": ..., "data": ...}

Plugins contribute commands (:class:`SocketCommand`); the host opens one
socket per name under ``queue/sockets/``. A bad request gets an error reply
and the connection goes on; a bad header (oversized frame) gets an error
reply and the connection is closed, since the stream cannot be resynced.
Nothing a client sends can stop the server for the others.

The datagram socket ``queue`` takes events (see :mod:`wazuhd.events`).
"""

from __future__ import annotations

import json
import logging
import os
import socket as stdlib_socket
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import trio

from wazuhd.errors import WazuhException, WazuhInternalError, register_codes
from wazuhd.events import Event, EventFormatError, parse_event

log = logging.getLogger("wazuhd.sockets")

HEADER = struct.Struct("<I")
DEFAULT_MAX_FRAME = 65536  # Wazuh's OS_MAXSTR
PROTOCOL_VERSION = 1
UNIX_PATH_MAX = 107  # sun_path is 108 bytes with the trailing NUL

# Protocol errors of the framed sockets (wazuhd's own range).
FRAME_TOO_LARGE = 8001
FRAME_TRUNCATED = 8002
INVALID_JSON = 8003
INVALID_REQUEST = 8004
UNKNOWN_COMMAND = 8005

register_codes({
    FRAME_TOO_LARGE: {"message": "Frame larger than the socket's maximum",
                      "remediation": "Send smaller requests or raise sockets.max_frame"},
    FRAME_TRUNCATED: {"message": "Frame ended before its announced length",
                      "remediation": "Send the whole payload announced by the header"},
    INVALID_JSON: {"message": "Request is not valid JSON",
                   "remediation": "Send a UTF-8 JSON object"},
    INVALID_REQUEST: {"message": "Request is not a valid command envelope",
                      "remediation": 'Send {"version": 1, "command": ..., "parameters": {...}}'},
    UNKNOWN_COMMAND: {"message": "Unknown command",
                      "remediation": "Use a command this socket offers"},
})


# -- framing -------------------------------------------------------------------


class FrameError(Exception):
    code = FRAME_TRUNCATED


class FrameTooLarge(FrameError):
    code = FRAME_TOO_LARGE

    def __init__(self, size: int, limit: int):
        super().__init__(f"frame of {size} bytes exceeds the maximum of {limit} bytes")
        self.size, self.limit = size, limit


class FrameTruncated(FrameError):
    code = FRAME_TRUNCATED


async def _receive_exactly(stream: trio.abc.ReceiveStream, size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = await stream.receive_some(min(missing, 1 << 20))
        if not chunk:
            raise FrameTruncated(f"connection closed {size - missing} bytes into a "
                                 f"{size}-byte read")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


async def receive_frame(stream: trio.abc.ReceiveStream, max_size: int,
                        *, body_timeout: float = 10.0) -> bytes | None:
    """Read one frame. ``None`` means the peer closed cleanly between frames."""
    first = await stream.receive_some(HEADER.size)
    if not first:
        return None
    with trio.fail_after(body_timeout):
        header = first + (await _receive_exactly(stream, HEADER.size - len(first))
                          if len(first) < HEADER.size else b"")
        (size,) = HEADER.unpack(header)
        if size > max_size:
            raise FrameTooLarge(size, max_size)
        return await _receive_exactly(stream, size)


async def send_frame(stream: trio.abc.SendStream, payload: bytes) -> None:
    await stream.send_all(HEADER.pack(len(payload)) + payload)


def encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=str).encode()


def error_reply(code: int, message: str) -> dict:
    return {"error": code, "message": message, "data": None}


# -- commands ------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    command: str
    parameters: dict
    origin: dict
    version: int = PROTOCOL_VERSION


Handler = Callable[[Any, Request], Awaitable[Any]]


@dataclass(frozen=True)
class SocketCommand:
    """A command on a named framed socket: ``handler(ctx, request) -> data``.

    The handler returns the reply's ``data`` (JSON-able) or raises a
    :class:`wazuhd.errors.WazuhException`, whose code and message become the
    reply's ``error`` and ``message``.
    """

    socket: str
    command: str
    handler: Handler
    description: str = ""


def parse_request(payload: bytes) -> Request:
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # also int digit limit, deep nesting
        raise WazuhException(INVALID_JSON, f"{exc}") from None
    if not isinstance(body, dict):
        raise WazuhException(INVALID_REQUEST, f"expected a JSON object, got {type(body).__name__}")
    command = body.get("command")
    if not isinstance(command, str) or not command:
        raise WazuhException(INVALID_REQUEST, "'command' must be a non-empty string")
    parameters = body.get("parameters", {})
    origin = body.get("origin", {})
    if not isinstance(parameters, dict):
        raise WazuhException(INVALID_REQUEST, "'parameters' must be an object")
    if not isinstance(origin, dict):
        raise WazuhException(INVALID_REQUEST, "'origin' must be an object")
    version = body.get("version", PROTOCOL_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise WazuhException(INVALID_REQUEST, "'version' must be an integer")
    return Request(command=command, parameters=parameters, origin=origin, version=version)


@dataclass
class SocketStats:
    connections: int = 0
    requests: int = 0
    errors: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class CommandSocket:
    """One named stream socket and the commands plugins put on it."""

    name: str
    path: Path
    ctx: Any = None
    max_frame: int = DEFAULT_MAX_FRAME
    idle_timeout: float = 600.0
    io_timeout: float = 10.0
    commands: dict[str, SocketCommand] = field(default_factory=dict)
    stats: SocketStats = field(default_factory=SocketStats)

    def add(self, command: SocketCommand) -> None:
        if command.command in self.commands:
            raise ValueError(f"socket {self.name!r} already has a command {command.command!r}")
        self.commands[command.command] = command

    async def dispatch(self, payload: bytes) -> dict:
        """Turn one request payload into one reply envelope; never raises."""
        self.stats.requests += 1
        try:
            request = parse_request(payload)
            command = self.commands.get(request.command)
            if command is None:
                raise WazuhException(UNKNOWN_COMMAND, f"{request.command!r} (available: "
                                     f"{', '.join(sorted(self.commands))})")
            data = await command.handler(self.ctx, request)
            return {"error": 0, "message": "ok", "data": data}
        except WazuhException as exc:
            self.stats.errors += 1
            return error_reply(exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the socket
            self.stats.errors += 1
            log.exception("socket %s: command failed", self.name)
            internal = WazuhInternalError(1000, f"{type(exc).__name__}: {exc}")
            return error_reply(internal.code, internal.message)

    async def handle_connection(self, stream: trio.SocketStream) -> None:
        self.stats.connections += 1
        try:
            while True:
                with trio.move_on_after(self.idle_timeout) as idle:
                    try:
                        payload = await receive_frame(stream, self.max_frame,
                                                      body_timeout=self.io_timeout)
                    except FrameTooLarge as exc:
                        self.stats.errors += 1
                        await self._reply(stream, error_reply(exc.code, str(exc)))
                        return
                    except (FrameTruncated, trio.TooSlowError) as exc:
                        self.stats.errors += 1
                        await self._reply(stream, error_reply(
                            FRAME_TRUNCATED, f"incomplete frame: {str(exc) or 'timed out'}"))
                        return
                if idle.cancelled_caught or payload is None:
                    return
                await self._reply(stream, await self.dispatch(payload))
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError,
                trio.TooSlowError):
            # TooSlowError: a reply could not be written in time. The stream may hold half
            # a frame, so the connection cannot go on: hang up rather than desynchronise.
            return
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await stream.aclose()

    async def _reply(self, stream: trio.SocketStream, reply: dict) -> None:
        with trio.fail_after(self.io_timeout):
            await send_frame(stream, encode(reply))

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        sock = await bind_unix(self.path, stdlib_socket.SOCK_STREAM)
        try:
            sock.listen(128)
            listener = trio.SocketListener(sock)
            await trio.serve_listeners(self.handle_connection, [listener],
                                       task_status=task_status)
        finally:
            sock.close()
            unlink_quietly(self.path)


async def bind_unix(path: Path, kind: int) -> trio.socket.SocketType:
    """Bind a Unix socket at ``path`` (0660), replacing a stale file.

    The caller holds the home's lock, so a file already there is left over
    from a process that died, never a live peer's socket.
    """
    if len(os.fsencode(path)) > UNIX_PATH_MAX:
        raise OSError(f"socket path {path} is {len(os.fsencode(path))} bytes long; Unix "
                      f"sockets allow at most {UNIX_PATH_MAX}: choose a shorter home")
    unlink_quietly(path)
    sock = trio.socket.socket(stdlib_socket.AF_UNIX, kind)
    try:
        await sock.bind(os.fspath(path))
        os.chmod(path, 0o660)
    except BaseException:
        sock.close()
        raise
    return sock


def unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# -- the datagram event queue ----------------------------------------------------


@dataclass
class QueueStats:
    received: int = 0
    invalid: int = 0
    oversized: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


async def serve_event_queue(path: Path, send_channel: trio.MemorySendChannel, *,
                            max_size: int = DEFAULT_MAX_FRAME, stats: QueueStats,
                            drain_timeout: float = 2.0,
                            task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Receive ``<q>:<location>:<message>`` datagrams into the event channel.

    Waiting on a full channel is the backpressure: while the consumer is
    behind, datagrams wait in the kernel buffer and senders block, instead of
    being dropped here. When cancelled (shutdown), the socket file goes away
    first so no new event can arrive, then what the kernel already holds is
    read into the channel (for at most ``drain_timeout`` seconds): an event
    whose send succeeded is never lost to a stop.
    """
    sock = await bind_unix(path, stdlib_socket.SOCK_DGRAM)
    try:
        sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVBUF, 4 << 20)
        task_status.started(path)
        async with send_channel:
            in_hand = None  # received, not yet in the channel (a cancelled send sends nothing)
            try:
                while True:
                    in_hand = await sock.recv(max_size + 1)
                    await _forward(in_hand, send_channel, max_size, stats)
                    in_hand = None
            except trio.Cancelled:
                with trio.CancelScope(shield=True), trio.move_on_after(drain_timeout):
                    unlink_quietly(path)
                    if in_hand is not None:
                        await _forward(in_hand, send_channel, max_size, stats)
                    while True:
                        with trio.move_on_after(0.05) as idle:
                            datagram = await sock.recv(max_size + 1)
                        if idle.cancelled_caught:
                            break
                        await _forward(datagram, send_channel, max_size, stats)
                raise
    finally:
        sock.close()
        unlink_quietly(path)


async def _forward(datagram: bytes, send_channel: trio.MemorySendChannel, max_size: int,
                   stats: QueueStats) -> None:
    """Check one datagram and hand its event to the channel (waiting while it is full)."""
    if len(datagram) > max_size:
        stats.oversized += 1
        log.warning("queue: dropped an event longer than %d bytes (sockets.max_frame)", max_size)
        return
    try:
        event = parse_event(datagram)
    except EventFormatError as exc:
        stats.invalid += 1
        log.warning("queue: dropped a malformed event: %s: %.80r", exc, datagram)
        return
    await send_channel.send(event)
    stats.received += 1


# -- clients ---------------------------------------------------------------------


class SocketReplyError(Exception):
    """The peer answered with a non-zero ``error``."""

    def __init__(self, code: int, message: str):
        super().__init__(f"error {code}: {message}")
        self.code, self.message = code, message


def make_request(command: str, parameters: dict | None = None, *, origin: str = "wazuhd",
                 module: str = "cli") -> bytes:
    return encode({"version": PROTOCOL_VERSION, "origin": {"name": origin, "module": module},
                   "command": command, "parameters": parameters or {}})


def _unwrap(reply_bytes: bytes) -> Any:
    reply = json.loads(reply_bytes)
    if reply.get("error", 0) != 0:
        raise SocketReplyError(reply["error"], reply.get("message", ""))
    return reply.get("data")


class SocketClient:
    """Blocking client for scripts and the CLI (no trio needed)."""

    def __init__(self, path: str | os.PathLike, *, timeout: float = 10.0,
                 max_frame: int = 1 << 30):
        self.path, self.timeout, self.max_frame = os.fspath(path), timeout, max_frame
        self._sock: stdlib_socket.socket | None = None

    def __enter__(self) -> "SocketClient":
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def connect(self) -> None:
        sock = stdlib_socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def roundtrip(self, payload: bytes) -> bytes:
        if self._sock is None:
            self.connect()
        self._sock.sendall(HEADER.pack(len(payload)) + payload)
        (size,) = HEADER.unpack(self._recv_exactly(HEADER.size))
        if size > self.max_frame:
            raise FrameTooLarge(size, self.max_frame)
        return self._recv_exactly(size)

    def request(self, command: str, parameters: dict | None = None, **origin) -> Any:
        return _unwrap(self.roundtrip(make_request(command, parameters, **origin)))

    def _recv_exactly(self, size: int) -> bytes:
        chunks, missing = [], size
        while missing:
            chunk = self._sock.recv(min(missing, 1 << 20))
            if not chunk:
                raise FrameTruncated(f"connection closed {size - missing} bytes into a "
                                     f"{size}-byte read")
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)


class AsyncSocketClient:
    """trio client: ``async with AsyncSocketClient(path) as c: await c.request(...)``."""

    def __init__(self, path: str | os.PathLike, *, timeout: float = 10.0,
                 max_frame: int = 1 << 30):
        self.path, self.timeout, self.max_frame = os.fspath(path), timeout, max_frame
        self._stream: trio.SocketStream | None = None

    async def __aenter__(self) -> "AsyncSocketClient":
        self._stream = await trio.open_unix_socket(self.path)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._stream is not None:
            await self._stream.aclose()
            self._stream = None

    async def roundtrip(self, payload: bytes) -> bytes:
        with trio.fail_after(self.timeout):
            await send_frame(self._stream, payload)
            reply = await receive_frame(self._stream, self.max_frame, body_timeout=self.timeout)
        if reply is None:
            raise FrameTruncated("connection closed before the reply")
        return reply

    async def request(self, command: str, parameters: dict | None = None, **origin) -> Any:
        return _unwrap(await self.roundtrip(make_request(command, parameters, **origin)))


def send_event(path: str | os.PathLike, queue: str, location: str, message: str) -> None:
    """Send one event to a ``queue`` datagram socket (blocking)."""
    with stdlib_socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_DGRAM) as sock:
        sock.sendto(Event(queue, location, message).to_wire(), os.fspath(path))
