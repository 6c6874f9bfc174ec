"""The machinery every pull integration shares (AWS, Azure, GCP, Docker, ...).

A plugin writes a :class:`Source`: it knows how to list, fetch and parse one
place (a bucket, a subscription, a workspace, an engine's event stream) and
does it in :meth:`Source.collect`, handing records over and moving its
position in one step with :meth:`Run.deliver` (or :meth:`Run.emit`, then
:meth:`Run.commit` once one position covers several batches). Everything
else is here, once:

* **where events go** (:class:`Sink`): the daemon's event channel inside the
  daemon, a running daemon's ``queue`` socket (``--home``) or stdout
  (``--stdout``) when run standalone;
* **where positions are kept** (:class:`Checkpoints`): the store's
  ``collect`` database, or a JSON ``--state FILE``. A checkpoint is written
  only after the records it covers were handed over, and a stop cannot come
  between the two (:meth:`Run.deliver`): a crash re-reads at most what was
  emitted since the last commit, and never skips anything;
* **when it runs** (:func:`schedule`): every ``interval`` seconds with
  jitter, a failing run retried with capped exponential backoff, one source
  never stopping another;
* **what it did** (:class:`SourceStats`): events, runs, errors and the last
  error per source, in ``wazuhd status`` and ``GET /manager/status``-style
  counters;
* **the standalone runner** (:func:`standalone_parent`, :func:`run_standalone`):
  the same source from the command line, once, stopping cleanly on SIGINT
  or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import socket as stdlib_socket
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, TextIO

import trio

from wazuhd import config
from wazuhd.cli import home_parent
from wazuhd.daemon import QUEUE_SOCKET, Service
from wazuhd.events import Event
from wazuhd.home import Home, write_atomic
from wazuhd.sockets import DEFAULT_MAX_FRAME
from wazuhd.store import Database, Migration, Store

log = logging.getLogger("wazuhd.collect")

#: The store database that holds every source's checkpoints.
DATABASE = "collect"
MIGRATIONS = [Migration(DATABASE, "collect-0001-checkpoints", sql="""
    CREATE TABLE checkpoints (
        source  TEXT NOT NULL,
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,
        updated REAL NOT NULL,
        PRIMARY KEY (source, key)
    );
""")]

#: Wazuh's queue id for events of integrations ("localfile"-style, ``1``).
INTEGRATION_QUEUE = "1"
#: Seconds a stop waits for a batch being handed over and its checkpoint (Run.deliver).
HANDOVER_GRACE = 5.0


# -- where positions are kept --------------------------------------------------------


class Checkpoints:
    """Positions of sources, by ``(source, key)``; values are JSON objects."""

    async def load(self, source: str, key: str) -> dict | None:
        raise NotImplementedError

    async def save(self, source: str, key: str, value: dict) -> None:
        raise NotImplementedError

    async def clear(self, source: str) -> int:
        """Forget every position of ``source`` (``--reparse``); return how many."""
        raise NotImplementedError

    async def all(self, source: str) -> dict[str, dict]:
        raise NotImplementedError


class StoreCheckpoints(Checkpoints):
    """Checkpoints in the home's store (``queue/db/collect.db``)."""

    def __init__(self, database: Database):
        self.database = database

    @classmethod
    def of_home(cls, home: Home) -> "StoreCheckpoints":
        """Open (and create if needed) the store of a home, for a standalone run."""
        store = Store(home.db)
        store.migrate(("core", migration) for migration in MIGRATIONS)
        return cls(store.db(DATABASE))

    async def load(self, source, key):
        row = await self.database.fetchone(
            "SELECT value FROM checkpoints WHERE source = ? AND key = ?", (source, key))
        return json.loads(row["value"]) if row else None

    async def save(self, source, key, value):
        await self.database.execute(
            "INSERT INTO checkpoints (source, key, value, updated) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (source, key) DO UPDATE SET value = excluded.value,"
            " updated = excluded.updated",
            (source, key, json.dumps(value, sort_keys=True), time.time()))

    async def clear(self, source):
        return await self.database.execute("DELETE FROM checkpoints WHERE source = ?", (source,))

    async def all(self, source):
        rows = await self.database.fetchall(
            "SELECT key, value FROM checkpoints WHERE source = ? ORDER BY key", (source,))
        return {row["key"]: json.loads(row["value"]) for row in rows}


class FileCheckpoints(Checkpoints):
    """Checkpoints in one JSON file (``--state FILE``), replaced atomically on each save."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self.data: dict[str, dict[str, dict]] = json.loads(self.path.read_text())
        except FileNotFoundError:
            self.data = {}
        except (OSError, ValueError) as exc:
            raise CollectError(f"cannot read the state file {self.path}: {exc}") from exc
        if not isinstance(self.data, dict):
            raise CollectError(f"the state file {self.path} does not hold a JSON object")

    async def load(self, source, key):
        return self.data.get(source, {}).get(key)

    async def save(self, source, key, value):
        self.data.setdefault(source, {})[key] = value
        await self._write()

    async def clear(self, source):
        removed = len(self.data.pop(source, {}))
        await self._write()
        return removed

    async def all(self, source):
        return dict(self.data.get(source, {}))

    async def _write(self):
        payload = json.dumps(self.data, indent=1, sort_keys=True)
        await trio.to_thread.run_sync(write_atomic, self.path, payload, 0o600)


class MemoryCheckpoints(Checkpoints):
    """Checkpoints of one run only, for sources whose position lives elsewhere."""

    def __init__(self):
        self.data: dict[str, dict[str, dict]] = {}

    async def load(self, source, key):
        return self.data.get(source, {}).get(key)

    async def save(self, source, key, value):
        self.data.setdefault(source, {})[key] = value

    async def clear(self, source):
        return len(self.data.pop(source, {}))

    async def all(self, source):
        return dict(self.data.get(source, {}))


# -- where events go -------------------------------------------------------------------


class Sink:
    """Where a run's events go. ``send`` returns once they are handed over."""

    async def send(self, events: list[Event]) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


class ChannelSink(Sink):
    """Inside the daemon: the analysis channel (waiting while it is full)."""

    def __init__(self, channel: trio.MemorySendChannel):
        self.channel = channel

    async def send(self, events):
        for event in events:
            await self.channel.send(event)

    async def aclose(self):
        await self.channel.aclose()


class QueueSocketSink(Sink):
    """Standalone with ``--home``: a running daemon's ``queue`` datagram socket.

    A full socket buffer makes ``sendto`` wait (the daemon's backpressure); a
    datagram the daemon would refuse as too long is an error here, not a loss.
    """

    def __init__(self, path: Path, max_size: int):
        if not path.exists():
            raise CollectError(f"no daemon is listening on {path}: start it (wazuhd start) "
                               f"or print the events with --stdout")
        self.path = os.fspath(path)
        self.max_size = max_size
        self.sock = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_DGRAM)

    async def send(self, events):
        for event in events:
            wire = event.to_wire()
            if len(wire) > self.max_size:
                raise CollectError(f"an event of {len(wire)} bytes is longer than the daemon "
                                   f"accepts (sockets.max_frame = {self.max_size})")
            await self.sock.sendto(wire, self.path)

    async def aclose(self):
        self.sock.close()


class StdoutSink(Sink):
    """Standalone with ``--stdout``: one message (a JSON event) per line."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    async def send(self, events):
        self.stream.write("".join(event.message + "\n" for event in events))
        self.stream.flush()


# -- what a source is ---------------------------------------------------------------------


class CollectError(Exception):
    """A source cannot go on; the message names what and where (never a secret)."""


@dataclass
class SourceStats:
    """One source's counters, as ``wazuhd status`` shows them."""

    events: int = 0
    runs: int = 0
    errors: int = 0
    warnings: int = 0
    state: str = "idle"
    last_error: str | None = None
    last_error_at: float | None = None
    last_run_at: float | None = None
    last_success_at: float | None = None
    next_run_at: float | None = None
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = asdict(self)
        out.update(out.pop("extra"))
        return out


class Source:
    """One place to pull from. Subclasses set ``name``, ``location`` and ``interval``
    and implement :meth:`collect`.

    ``name`` is unique among sources and names the checkpoints (e.g.
    ``"aws-s3:my-bucket:cloudtrail"``); ``location`` is the event location the
    analysis engine sees (Wazuh uses e.g. ``"Wazuh-AWS"``).
    """

    name: str = ""
    location: str = ""
    interval: float = 600.0

    async def collect(self, run: "Run") -> None:
        """Pull what is new and hand each batch over with its position:
        ``await run.deliver(records, key, value)``."""
        raise NotImplementedError


class Run:
    """One pass of one source: its sink, its checkpoints and its counters."""

    def __init__(self, source: Source, sink: Sink, checkpoints: Checkpoints,
                 stats: SourceStats):
        self.source = source
        self.sink = sink
        self.checkpoints = checkpoints
        self.stats = stats
        self.events = 0

    async def emit(self, records: Iterable[dict | str], *, location: str | None = None) -> int:
        """Hand records to the sink, one event each (dicts as JSON); return how many."""
        location = location or self.source.location
        events = [Event(INTEGRATION_QUEUE, location,
                        record if isinstance(record, str)
                        else json.dumps(record, separators=(",", ":"), default=str))
                  for record in records]
        if events:
            await self.sink.send(events)
            self.events += len(events)
            self.stats.events += len(events)
        return len(events)

    async def checkpoint(self, key: str = "") -> dict | None:
        return await self.checkpoints.load(self.source.name, key)

    async def commit(self, key: str, value: dict) -> None:
        """Move the position; call it only after the records it covers were emitted."""
        await self.checkpoints.save(self.source.name, key, value)

    async def deliver(self, records: Iterable[dict | str], key: str, value: dict, *,
                      location: str | None = None) -> int:
        """:meth:`emit` then :meth:`commit`, as one step a stop cannot split.

        Sent but not recorded would be sent again after a restart; so a stop
        (SIGTERM, daemon shutdown) that comes meanwhile waits for both, for at
        most ``HANDOVER_GRACE`` seconds. Backpressure while running is waited
        out for as long as it lasts. Returns the number of events.
        """
        handover = trio.CancelScope(shield=True)
        done = trio.Event()
        sent: list[int] = []
        failure: list[Exception] = []

        async def hand_over():
            try:
                with handover:
                    sent.append(await self.emit(records, location=location))
                    await self.commit(key, value)
            except Exception as exc:  # noqa: BLE001 - raised again below, outside the nursery
                failure.append(exc)
            finally:
                done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(hand_over)
            try:
                await done.wait()
            except trio.Cancelled:
                handover.deadline = trio.current_time() + HANDOVER_GRACE
                raise
        if failure:
            raise failure[0]
        return sent[0] if sent else 0

    def error(self, message: str) -> None:
        """A failure the source recovers from by itself (a lost connection it opens
        again): counted and shown as the last error while the run goes on."""
        self.stats.errors += 1
        self.stats.last_error, self.stats.last_error_at = message, time.time()

    def warn(self, message: str) -> None:
        """Something was skipped but the run goes on (a corrupt object with skip_on_error)."""
        self.stats.warnings += 1
        self.stats.last_error, self.stats.last_error_at = message, time.time()
        log.warning("%s: %s", self.source.name, message)

    def count(self, name: str, amount: int = 1) -> None:
        """A source-specific counter (e.g. ``objects``, ``reconnects``)."""
        self.stats.extra[name] = self.stats.extra.get(name, 0) + amount


async def run_once(source: Source, sink: Sink, checkpoints: Checkpoints,
                   stats: SourceStats) -> int:
    """Collect once; count the run and its failure. Returns the number of events."""
    run = Run(source, sink, checkpoints, stats)
    stats.state, stats.runs, stats.last_run_at = "running", stats.runs + 1, time.time()
    try:
        await source.collect(run)
    except Exception as exc:
        stats.state, stats.errors = "failing", stats.errors + 1
        stats.last_error, stats.last_error_at = describe(exc), time.time()
        raise
    stats.state, stats.last_success_at = "idle", time.time()
    return run.events


def describe(exc: BaseException) -> str:
    """A one-line account of a failure (the message, and its type when it says nothing)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, CollectError) else f"{type(exc).__name__}: {text}"


# -- when it runs (inside the daemon) -----------------------------------------------------


def next_delay(interval: float, jitter: float, failures: int, max_backoff: float) -> float:
    """Seconds until the next run: ``interval`` ± ``jitter`` (a fraction) after a
    success; after ``failures`` failures in a row, a doubling backoff from 1/8 of
    the interval (at least a second), never longer than ``max_backoff``."""
    if failures:
        base = max(1.0, interval / 8) * 2 ** (failures - 1)
        return min(base, max_backoff) * random.uniform(0.9, 1.1)
    return max(0.0, interval * (1 + random.uniform(-jitter, jitter)))


async def schedule(source: Source, sink: Sink, checkpoints: Checkpoints, stats: SourceStats,
                   *, run_on_start: bool = True, jitter: float = 0.1,
                   max_backoff: float = 3600.0,
                   task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Run ``source`` forever: on start (unless told not to), then every interval."""
    task_status.started()
    failures = 0
    delay = 0.0 if run_on_start else next_delay(source.interval, jitter, 0, max_backoff)
    while True:
        stats.next_run_at = time.time() + delay
        await trio.sleep(delay)
        try:
            events = await run_once(source, sink, checkpoints, stats)
        except Exception as exc:  # noqa: BLE001 - a failing source is retried, never fatal
            failures += 1
            level = logging.ERROR if failures == 1 else logging.DEBUG
            log.log(level, "%s: run failed (will retry with backoff): %s", source.name,
                    describe(exc), exc_info=failures == 1 and not isinstance(exc, CollectError))
        else:
            if failures:
                log.info("%s: recovered after %d failed runs", source.name, failures)
            failures = 0
            log.debug("%s: %d events", source.name, events)
        delay = next_delay(source.interval, jitter, failures, max_backoff)


def services(ctx, plugin: str, sources: list[Source], *, run_on_start: bool = True,
             jitter: float = 0.1) -> list[Service]:
    """One daemon service per source, with checkpoints in the store and counters under
    ``counters[plugin]`` in the status. Call it from ``wazuhd_services``."""
    if not sources:
        return []  # nothing configured: no services, no empty counters in the status
    checkpoints = StoreCheckpoints(ctx.store.db(DATABASE))
    stats = {source.name: SourceStats() for source in sources}
    if len(stats) != len(sources):
        raise ValueError(f"{plugin}: two configured sources share a name")
    ctx.add_counters(plugin, lambda: {name: s.as_dict() for name, s in stats.items()})

    def service(source: Source) -> Service:
        async def run(task_status=trio.TASK_STATUS_IGNORED):
            sink = ChannelSink(ctx.event_sender())
            try:
                await schedule(source, sink, checkpoints, stats[source.name],
                               run_on_start=run_on_start, jitter=jitter,
                               task_status=task_status)
            finally:
                await sink.aclose()
        return Service(source.name, run)

    return [service(source) for source in sources]


# -- the standalone runner ---------------------------------------------------------------


def standalone_parent(*, checkpoints: bool = True) -> argparse.ArgumentParser:
    """A parent parser for nested subcommands (``wazuhd aws s3``): ``--home``, ``--stdout``,
    ``--state FILE``. A top-level command already has ``--home``: use
    :func:`add_standalone_arguments` there. A source whose position lives elsewhere
    (Pub/Sub acknowledgements) passes ``checkpoints=False``: no ``--state``."""
    parent = home_parent("send to the daemon running on this home"
                         + (", and keep checkpoints in its store" if checkpoints else ""))
    add_standalone_arguments(parent, checkpoints=checkpoints)
    return parent


def add_standalone_arguments(parser: argparse.ArgumentParser, *,
                             checkpoints: bool = True) -> None:
    """``--stdout`` and ``--state FILE``, the arguments every standalone collector takes."""
    parser.add_argument("--stdout", action="store_true",
                        help="print one JSON event per line instead of sending them")
    if checkpoints:
        parser.add_argument("--state", metavar="FILE",
                            help="keep checkpoints in this JSON file instead of the home's store")


def parse_date(text: str) -> float:
    """Wazuh's ``only_logs_after`` form, ``YYYY-MMM-DD`` (e.g. ``2024-JAN-31``), as a
    UTC timestamp; ``YYYY-MM-DD`` is accepted too."""
    from datetime import datetime, timezone
    for layout in ("%Y-%b-%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    raise ValueError(f"invalid date {text!r}: expected YYYY-MMM-DD, e.g. 2024-JAN-31")


async def _run_standalone(source: Source, args: argparse.Namespace, stream: TextIO,
                          reparse: bool) -> tuple[int, SourceStats, bool]:
    home = Home.at(args.home)
    if not hasattr(args, "state"):  # the source keeps no checkpoint (standalone_parent)
        checkpoints: Checkpoints = MemoryCheckpoints()
    elif args.state:
        checkpoints = FileCheckpoints(args.state)
    else:
        checkpoints = StoreCheckpoints.of_home(home)
    if reparse:
        await checkpoints.clear(source.name)
    if args.stdout:
        sink: Sink = StdoutSink(stream)
    else:
        sink = QueueSocketSink(home.socket(QUEUE_SOCKET), _max_frame(home))
    stats = SourceStats()
    interrupted = False
    try:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                async def watch():
                    nonlocal interrupted
                    async for _ in signals:
                        interrupted = True
                        nursery.cancel_scope.cancel()
                nursery.start_soon(watch)
                events = await run_once(source, sink, checkpoints, stats)
                nursery.cancel_scope.cancel()
    finally:
        await sink.aclose()
    return (stats.events if interrupted else events), stats, interrupted


def _max_frame(home: Home) -> int:
    """``sockets.max_frame`` of the home's config: the longest event its daemon takes."""
    try:
        sockets = config.read_raw(home.config_file).get("sockets") or {}
        return int(sockets.get("max_frame", DEFAULT_MAX_FRAME))
    except (config.ConfigError, AttributeError, TypeError, ValueError):
        return DEFAULT_MAX_FRAME


def run_standalone(source: Source, args: argparse.Namespace, *, reparse: bool = False,
                   stream: TextIO | None = None) -> int:
    """Run ``source`` once from the command line; the exit code for ``CliCommand.run``.

    Events go to stdout (``--stdout``) or to the daemon of ``--home``;
    checkpoints to ``--state FILE`` or to that home's store. A summary goes to
    stderr. SIGINT/SIGTERM stop it after the checkpoint of what was emitted.
    """
    try:
        events, stats, interrupted = trio.run(_run_standalone, source, args,
                                              stream or sys.stdout, reparse)
    except Exception as exc:  # noqa: BLE001 - the command line shows the cause, not a trace
        print(f"wazuhd: {source.name}: {describe(exc)}", file=sys.stderr)
        return 1
    extra = "".join(f", {value} {name}" for name, value in sorted(stats.extra.items()))
    print(f"wazuhd: {source.name}: {events} events{extra}, {stats.warnings} skipped"
          f"{' (interrupted)' if interrupted else ''}", file=sys.stderr)
    return 0
