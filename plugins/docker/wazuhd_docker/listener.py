"""Follow an engine's ``/events`` stream: every event once, across reconnects.

Each engine event is sent as ``{"integration": "docker", "docker": <the event as the
engine sent it>}`` (what Wazuh's docker listener sends, so the ruleset's docker rules
fire unchanged), in the order the engine published them. The position (the newest
``timeNano`` sent and what was sent in the last seconds before it, see
:class:`Position`) is committed after each batch. On reconnect the engine is asked for
events ``since`` a little before that time (the engine includes the bound, and does not
publish strictly in time order), and what was already sent is dropped: nothing between
a disconnect and the reconnect is lost, nothing is sent twice.

The stream lives in the source itself: when the engine goes away, :meth:`collect` waits
``interval`` seconds, doubling after each failed attempt up to ``max_backoff``, and
reconnects, so the daemon and ``wazuhd docker listen`` behave the same. It returns
only when ``until`` is reached (raising the last error if it never got through).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from functools import partial

import trio

from wazuhd.collect import Run, Source, describe
from wazuhd_docker.engine import EngineError, EngineSettings, connect, engine_time_nano

log = logging.getLogger("wazuhd.docker")

#: The event location Wazuh's docker listener uses.
LOCATION = "Wazuh-Docker"
#: The checkpoint key of the events position.
POSITION_KEY = "events"
#: Lines handed from the reading thread that may wait for the trio side.
STREAM_BUFFER = 256

NS = 1_000_000_000
#: How much later than a newer-stamped one the engine may publish an event (seen: under a
#: millisecond, with containers changing on several threads); a reconnect re-reads it.
REORDER_WINDOW = 2 * NS


@dataclass
class Position:
    """Where the stream stands.

    ``time_nano`` is the newest ``timeNano`` sent, ``floor`` the oldest one ever to send
    (the start: the engine's clock at the first connection, or ``--since``), ``seen`` the
    events sent within :data:`REORDER_WINDOW` of the newest (digest -> timeNano). The
    engine stamps events before it publishes them, concurrently, so a stream is not
    strictly in time order: a reconnect asks from a window before the newest, and what
    ``seen`` holds is not sent again.
    """

    time_nano: int
    floor: int
    seen: dict[str, int] = field(default_factory=dict)

    @classmethod
    def starting_at(cls, time_nano: int) -> "Position":
        return cls(time_nano, time_nano)

    @classmethod
    def from_checkpoint(cls, value: dict | None) -> "Position | None":
        if not value or not isinstance(value.get("time_nano"), int):
            return None
        seen = {digest: stamp for stamp, digest in value.get("seen", [])}
        return cls(value["time_nano"], value.get("floor", value["time_nano"]), seen)

    def as_checkpoint(self) -> dict:
        return {"time_nano": self.time_nano, "floor": self.floor,
                "seen": sorted([stamp, digest] for digest, stamp in self.seen.items())}

    @property
    def since(self) -> str:
        """The engine's ``since`` (seconds.nanoseconds; the engine includes it)."""
        start = max(self.floor, self.time_nano - REORDER_WINDOW)
        return f"{start // NS}.{start % NS:09d}"

    def is_new(self, event: dict) -> bool:
        return event["timeNano"] >= self.floor and digest(event) not in self.seen

    def advance(self, event: dict) -> None:
        self.seen[digest(event)] = event["timeNano"]
        if event["timeNano"] > self.time_nano:
            self.time_nano = event["timeNano"]
            oldest = self.time_nano - REORDER_WINDOW
            self.seen = {key: stamp for key, stamp in self.seen.items() if stamp >= oldest}


def digest(event: dict) -> str:
    """What tells an event from any other: a hash of all of it (a replay is byte-equal)."""
    text = json.dumps(event, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def parse_line(line: bytes) -> dict:
    """One line of the stream as an event; ValueError says why it is not one."""
    try:
        event = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(event, dict):
        raise ValueError("not a JSON object")
    if not isinstance(event.get("timeNano"), int) or isinstance(event.get("timeNano"), bool):
        raise ValueError("no integer timeNano")
    return event


def shorten(data: bytes, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "..."


class EventsSource(Source):
    """One engine's event stream, as a :class:`wazuhd.collect.Source`."""

    location = LOCATION

    def __init__(self, engine: EngineSettings, *, filters: dict[str, list[str]] | None = None,
                 interval: float = 5.0, max_backoff: float = 300.0,
                 since_nano: int | None = None, until_nano: int | None = None):
        self.engine = engine
        self.name = f"docker:{engine.name}"
        self.filters = {key: list(values) for key, values in (filters or {}).items() if values}
        self.interval = interval
        self.max_backoff = max(max_backoff, interval)
        self.since_nano = since_nano
        self.until_nano = until_nano
        self._state: tuple[str, str] | None = None

    # -- the loop -------------------------------------------------------------------------

    async def collect(self, run: Run) -> None:
        position = Position.from_checkpoint(await run.checkpoint(POSITION_KEY))
        if self.since_nano is not None and (position is None or position.time_nano < self.since_nano):
            position = Position.starting_at(self.since_nano)
        failures, connections, last_error = 0, 0, None
        while True:  # at least one pass: an ``until`` already past still reads up to it
            try:
                client = await trio.to_thread.run_sync(connect, self.engine,
                                                       abandon_on_cancel=True)
            except EngineError as exc:
                self._failed(run, describe(exc))
                last_error = exc
            else:
                try:
                    if position is None:
                        position = Position.starting_at(await self._engine_now(client))
                        await run.commit(POSITION_KEY, position.as_checkpoint())
                    stream = await self._open(client, position)
                    connections += 1
                    if connections > 1:
                        run.count("reconnects")
                    self._connected(run, client, position)
                    failures = 0
                    await self._follow(stream, position, run)
                    if not self._until_passed():
                        self._changed(run, "disconnected", f"docker engine {self.engine.label}: "
                                      f"the engine closed the event stream", logging.WARNING)
                except EngineError as exc:
                    self._failed(run, describe(exc))
                    last_error = exc
                finally:
                    client.close()
            if self._until_passed():
                break
            failures += 1
            await trio.sleep(self._delay(failures))
        if connections == 0 and last_error is not None:
            raise last_error
        self._changed(run, "done", f"docker engine {self.engine.label}: reached --until "
                      f"{self.until_nano / NS:.3f}", logging.INFO)

    def _delay(self, failures: int) -> float:
        delay = min(self.interval * 2 ** (failures - 1), self.max_backoff)
        if self.until_nano is not None:
            delay = min(delay, max(0.0, self.until_nano / NS - time.time()) + 0.05)
        return delay

    def _until_passed(self) -> bool:
        return self.until_nano is not None and time.time_ns() >= self.until_nano

    async def _engine_now(self, client) -> int:
        """The engine's clock: where a first run starts (events are stamped by it)."""
        try:
            info = await trio.to_thread.run_sync(client.info, abandon_on_cancel=True)
        except Exception as exc:  # noqa: BLE001 - the SDK's and requests' errors alike
            raise EngineError(f"docker engine {self.engine.label}: cannot read its clock: "
                              f"{describe(exc)}") from exc
        return engine_time_nano(info.get("SystemTime", ""))

    # -- the stream ---------------------------------------------------------------------------

    async def _open(self, client, position: Position):
        """The engine's event stream from ``position`` (up to ``until``)."""
        until = f"{self.until_nano // NS}.{self.until_nano % NS:09d}" if self.until_nano else None
        try:
            return await trio.to_thread.run_sync(
                partial(open_events, client, since=position.since, until=until,
                        filters=self.filters or None), abandon_on_cancel=True)
        except Exception as exc:  # noqa: BLE001 - the SDK's and requests' errors alike
            raise EngineError(f"docker engine {self.engine.label}: cannot follow events: "
                              f"{describe(exc)}") from exc

    async def _follow(self, stream, position: Position, run: Run) -> None:
        """Read the stream until the engine ends it (or ``until`` is reached)."""
        send, receive = trio.open_memory_channel(STREAM_BUFFER)
        token = trio.lowlevel.current_trio_token()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(partial(trio.to_thread.run_sync, read_stream, stream, send,
                                           token, abandon_on_cancel=True))
                failure = await self._consume(receive, position, run)
                nursery.cancel_scope.cancel()
        finally:
            try:
                stream.close()
            except (OSError, AttributeError):  # already closed by the engine
                pass
        if failure is not None:
            raise EngineError(f"docker engine {self.engine.label}: the event stream failed: "
                              f"{describe(failure)}") from failure

    async def _consume(self, receive: trio.MemoryReceiveChannel, position: Position,
                       run: Run) -> Exception | None:
        """Deliver what the reading thread hands over, all that is waiting as one batch;
        return the error that ended the stream, if one did."""
        async with receive:
            async for item in receive:
                batch: list[bytes] = []
                while not isinstance(item, Exception):
                    batch.extend(item)
                    try:
                        item = receive.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel):
                        item = None
                        break
                await self._deliver(batch, position, run)
                if isinstance(item, Exception):
                    return item
        return None

    async def _deliver(self, lines: list[bytes], position: Position, run: Run) -> None:
        records = []
        for line in lines:
            if not line.strip():
                continue
            try:
                event = parse_line(line)
            except ValueError as exc:
                run.count("malformed")
                run.warn(f"docker engine {self.engine.label}: malformed event skipped "
                         f"({exc}): {shorten(line)}")
                continue
            if position.is_new(event):
                position.advance(event)
                records.append({"integration": "docker", "docker": event})
        if records:
            await run.deliver(records, POSITION_KEY, position.as_checkpoint())

    # -- state changes, logged once each -------------------------------------------------------

    def _connected(self, run: Run, client, position: Position) -> None:
        self._changed(run, "connected", f"docker engine {self.engine.label}: connected (API "
                      f"{client.api_version}), following events since {position.since}",
                      logging.INFO)

    def _failed(self, run: Run, message: str) -> None:
        run.error(message)
        self._changed(run, "unreachable", f"{message}; retrying (every {self.interval:g} s, "
                      f"backing off to {self.max_backoff:g} s)", logging.ERROR)

    def _changed(self, run: Run, state: str, message: str, level: int) -> None:
        run.stats.state = state
        if self._state != (state, message):
            self._state = (state, message)
            log.log(level, "%s", message)


def open_events(client, **params):
    """``client.events()``, refused when the engine answers with an error: the SDK's
    stream would take the error for the stream's end (it swallows I/O errors, and the
    requests library's errors are I/O errors), and the listener would retry silently."""
    stream = client.events(decode=False, **params)
    response = stream._response  # the SDK keeps it private; its status is all we need
    if response.status_code >= 400:
        try:
            client._raise_for_status(response)
        finally:
            response.close()
    return stream


def read_stream(stream, send: trio.MemorySendChannel, token) -> None:
    """In a worker thread: the stream's chunks, split into lines, to the trio side.

    The engine writes one JSON event per line; a chunk may hold several or part of
    one. Ends when the stream does (the engine went away, or ``close()`` from trio);
    an error the engine answered with is sent as the exception itself.
    """
    pending = b""
    try:
        for chunk in stream:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if lines:
                trio.from_thread.run(send.send, lines, trio_token=token)
        if pending.strip():
            trio.from_thread.run(send.send, [pending], trio_token=token)
    except (trio.RunFinishedError, trio.BrokenResourceError, trio.ClosedResourceError,
            trio.Cancelled):
        return
    except Exception as exc:  # noqa: BLE001 - an API error (bad filter...) goes to the trio side
        try:
            trio.from_thread.run(send.send, exc, trio_token=token)
        except (trio.RunFinishedError, trio.BrokenResourceError, trio.ClosedResourceError,
                trio.Cancelled):
            pass
    finally:
        try:
            trio.from_thread.run_sync(send.close, trio_token=token)
        except (trio.RunFinishedError, trio.Cancelled):
            pass
