"""The daemon: one trio nursery owns every service.

Start order: home layout and lock -> plugins -> config (validated; a fresh
home gets a commented default file) -> logging -> store and migrations ->
``wazuhd_startup`` -> event channel and its consumer -> the ``queue`` socket
-> framed command sockets -> plugin services. SIGTERM or SIGINT cancels the
nursery; sockets are unlinked, ``wazuhd_shutdown`` runs, the store closes and
the process exits 0. A second signal, or a shutdown that overruns
``daemon.shutdown_timeout``, forces the exit.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import trio

import wazuhd
from wazuhd import config as config_mod, rbac
from wazuhd.builtin import counting_consumer
from wazuhd.home import Home
from wazuhd.logs import RotatingFile, configure_logging
from wazuhd.plugins import PluginError, PluginHost, make_plugin_host
from wazuhd.sockets import CommandSocket, QueueStats, SocketCommand, serve_event_queue
from wazuhd.store import MigrationError, Migration, Store

log = logging.getLogger("wazuhd")

CONTROL_SOCKET = "control"
QUEUE_SOCKET = "queue"


class StartError(Exception):
    """The daemon cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class Service:
    """A long-running task: ``async def run(task_status=trio.TASK_STATUS_IGNORED)``.

    ``run`` calls ``task_status.started()`` once it is ready (e.g. bound);
    the host waits for that before announcing the daemon as started.
    """

    name: str
    run: Callable[..., Awaitable[Any]]


@dataclass
class ServiceState:
    plugin: str
    status: str = "starting"
    error: str | None = None
    started_at: float | None = None

    def as_dict(self) -> dict:
        return {"plugin": self.plugin, "status": self.status, "error": self.error,
                "started_at": self.started_at}


@dataclass
class Context:
    """What a running daemon hands to its plugins' hooks and services."""

    home: Home
    config: config_mod.Config
    plugins: PluginHost
    store: Store
    started_at: float = field(default_factory=time.time)
    sockets: dict[str, CommandSocket] = field(default_factory=dict)
    queue_stats: QueueStats = field(default_factory=QueueStats)
    services: dict[str, ServiceState] = field(default_factory=dict)
    announcements: list[tuple[str, str]] = field(default_factory=list)
    counters: dict[str, Callable[[], dict]] = field(default_factory=dict)
    events: trio.MemorySendChannel | None = None
    state: str = "starting"
    restart_requested: bool = False
    stop_event: trio.Event | None = None
    #: Runtime objects a plugin shares between its hooks, under the plugin's name.
    runtime: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.counters["queue"] = self.queue_stats.as_dict

    def add_counters(self, name: str, read: Callable[[], dict]) -> None:
        """Expose a plugin's counters (``wazuhd status``, later ``/manager/stats``)."""
        if name in self.counters:
            raise ValueError(f"counters {name!r} are already registered")
        self.counters[name] = read

    def request_restart(self) -> None:
        """Stop gracefully (as on SIGTERM), then start again in the same process with the
        configuration as it is on disk then (``PUT /manager/restart``)."""
        log.info("restart requested")
        self.restart_requested = True
        if self.stop_event is not None:
            self.stop_event.set()

    def announce(self, label: str, text: str) -> None:
        """Add a line to the start banner (e.g. where the API listens, how to log in)."""
        self.announcements.append((label, text))

    def event_sender(self) -> trio.MemorySendChannel:
        """A clone of the event channel's send side for one input (close it when done)."""
        if self.events is None:
            raise RuntimeError("the event channel opens when the daemon starts its services")
        return self.events.clone()

    def status(self) -> dict:
        return {
            "version": wazuhd.__version__,
            "state": self.state,
            "pid": os.getpid(),
            "home": str(self.home.root),
            "started_at": self.started_at,
            "uptime": round(time.time() - self.started_at, 3),
            "plugins": self.plugins.report(),
            "sockets": {name: {"path": str(sock.path), "commands": sorted(sock.commands),
                               **sock.stats.as_dict()}
                        for name, sock in self.sockets.items()}
                       | {QUEUE_SOCKET: {"path": str(self.home.socket(QUEUE_SOCKET)),
                                         "commands": []}},
            "services": {name: state.as_dict() for name, state in self.services.items()},
            "counters": {name: read() for name, read in self.counters.items()},
            "announcements": [f"{label}: {text}" for label, text in self.announcements],
        }


# -- the lock and the pidfile ------------------------------------------------------


class HomeLock:
    """An exclusive ``flock`` on ``var/run/wazuhd.lock``: one daemon per home."""

    def __init__(self, home: Home):
        self.home = home
        self.fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.home.lockfile, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            pid = read_pid(self.home)
            raise StartError(f"wazuhd is already running on {self.home.root}"
                             f"{f' (pid {pid})' if pid else ''}; stop it with "
                             f"'wazuhd stop --home {self.home.root}'") from None
        self.fd = fd

    def write_pid(self) -> None:
        tmp = self.home.pidfile.with_suffix(".tmp")
        tmp.write_text(f"{os.getpid()}\n")
        tmp.replace(self.home.pidfile)

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            if read_pid(self.home) == os.getpid():
                self.home.pidfile.unlink()
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None


def read_pid(home: Home) -> int | None:
    try:
        return int(home.pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def running_pid(home: Home) -> int | None:
    """The pid of the daemon holding this home's lock, or None when none runs."""
    if not home.lockfile.exists():
        return None
    fd = os.open(home.lockfile, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return read_pid(home) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# -- preparing a start ---------------------------------------------------------------


def load_plugins_and_config(home: Home, *, write_default: bool) -> tuple[PluginHost, config_mod.Config]:
    """Plugins (honouring ``plugins.disabled``/``required``) and the validated config."""
    raw = config_mod.read_raw(home.config_file)
    selection = raw.get("plugins") or {}
    if not isinstance(selection, dict):
        selection = {}
    try:
        host = make_plugin_host(disabled=_names(selection.get("disabled")),
                                required=_names(selection.get("required")))
    except PluginError as exc:
        raise StartError(str(exc)) from exc
    sections = [section for _, section in host.collect("wazuhd_config_schema")]
    if write_default:
        config_mod.write_default_file(home.config_file, sections)
    config = config_mod.validate(sections, raw, origin=str(home.config_file))
    config.path = home.config_file
    return host, config


def _names(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def register_rbac_catalog(host: PluginHost) -> None:
    """Add every plugin's RBAC actions and resource types to the catalog."""
    for plugin, items in host.call_each("wazuhd_rbac_actions"):
        try:
            rbac.register(items if isinstance(items, (list, tuple)) else [items])
        except (TypeError, ValueError) as exc:
            host.fail(plugin, f"wazuhd_rbac_actions: {exc}")


def open_store(home: Home, host: PluginHost) -> Store:
    store = Store(home.db)
    migrations: list[tuple[str, Migration]] = host.collect("wazuhd_db_migrations")
    try:
        store.migrate(migrations)
    except MigrationError as exc:
        plugin = next((p for p, m in migrations if f"{m.id!r}" in str(exc)), None)
        if plugin is None or plugin in host.required or plugin == "core":
            store.close()
            raise StartError(str(exc)) from exc
        # The plugin cannot work without its tables: run without it.
        host.fail(plugin, str(exc))
        store.migrate(pair for pair in migrations if pair[0] != plugin)
    return store


# -- running ---------------------------------------------------------------------------


def start(home: Home, *, daemonize: bool = False, banner=print) -> int:
    """Run the daemon until a signal stops it. Returns the exit code."""
    home.ensure()
    lock = HomeLock(home)
    lock.acquire()
    restart = False
    try:
        host, config = load_plugins_and_config(home, write_default=True)
        if daemonize:
            banner = _daemonize(home)
        lock.write_pid()
        daemon_cfg = config["daemon"]
        log_cfg = config["logging"]
        handlers = configure_logging(
            home.logs, level=log_cfg["level"], formats=tuple(log_cfg["format"]),
            daily=log_cfg["rotation"]["daily"], max_size=log_cfg["rotation"]["max_size"],
            compress=log_cfg["rotation"]["compress"], also_stderr=not daemonize)
        try:
            register_rbac_catalog(host)
            store = open_store(home, host)
            ctx = Context(home=home, config=config, plugins=host, store=store)
            try:
                trio.run(_main, ctx, daemon_cfg["shutdown_timeout"], banner)
                restart = ctx.restart_requested
            finally:
                store.close()
        finally:
            log.info("wazuhd restarting" if restart else "wazuhd stopped")
            for handler in handlers:
                logging.getLogger().removeHandler(handler)
                handler.close()
    finally:
        lock.release()
    if restart:
        _reexec(home)
    return 0


def _reexec(home: Home) -> None:
    """Replace this process with a fresh ``wazuhd start`` (same pid, same terminal or log)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "wazuhd", "start", "--home", str(home.root)])


async def _main(ctx: Context, shutdown_timeout: float, banner) -> None:
    stop = ctx.stop_event = trio.Event()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, stop, shutdown_timeout)
            nursery.start_soon(_rotate_logs_at_midnight)
            ctx.plugins.call_each("wazuhd_startup", ctx=ctx)
            await _serve(ctx, stop, shutdown_timeout, banner)
            nursery.cancel_scope.cancel()
    finally:
        ctx.plugins.call_each("wazuhd_shutdown", ctx=ctx)


async def _watch_signals(stop: trio.Event, shutdown_timeout: float) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            if stop.is_set():
                log.error("second %s: exiting now", signal.Signals(signum).name)
                os._exit(1)
            log.info("%s received: stopping", signal.Signals(signum).name)
            _arm_watchdog(shutdown_timeout)
            stop.set()


async def _rotate_logs_at_midnight() -> None:
    """Files rotate on the first write of a new day; this makes a quiet night rotate too."""
    while True:
        await trio.sleep(60)
        await trio.to_thread.run_sync(RotatingFile.rotate_all_due)


def _arm_watchdog(timeout: float) -> None:
    def force_exit():
        log.error("shutdown took longer than %.1f s (daemon.shutdown_timeout): exiting now",
                  timeout)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(timeout, force_exit)
    timer.daemon = True
    timer.start()


async def _serve(ctx: Context, stop: trio.Event, shutdown_timeout: float, banner) -> None:
    """Run until ``stop``, then stop in order: inputs and services first, then let the
    consumer drain what is already queued (within most of the shutdown deadline)."""
    socket_cfg = ctx.config["sockets"]
    send_events, receive_events = trio.open_memory_channel(ctx.config["queue"]["size"])
    ctx.events = send_events
    async with trio.open_nursery() as pipeline:
        await pipeline.start(_consume_events, ctx, receive_events)
        async with send_events, trio.open_nursery() as inputs:
            await inputs.start(lambda task_status: serve_event_queue(
                ctx.home.socket(QUEUE_SOCKET), send_events.clone(),
                max_size=socket_cfg["max_frame"], stats=ctx.queue_stats, task_status=task_status))
            for name, sock in _build_sockets(ctx).items():
                ctx.sockets[name] = sock
                await inputs.start(lambda task_status, sock=sock: sock.serve(task_status=task_status))
            for plugin, service in ctx.plugins.collect("wazuhd_services", ctx=ctx):
                await inputs.start(_supervise, ctx, plugin, service)
            ctx.state = "running"
            log.info("wazuhd %s started (pid %d) on %s with plugins: %s", wazuhd.__version__,
                     os.getpid(), ctx.home.root, ", ".join(ctx.plugins.loaded()))
            banner(render_banner(ctx))
            await stop.wait()
            ctx.state = "stopping"
            inputs.cancel_scope.cancel()
        # Every input has closed its clone of the channel: the consumer ends once it has
        # analysed what was queued, unless that takes too long.
        pipeline.cancel_scope.deadline = trio.current_time() + shutdown_timeout * 0.6
    left = receive_events.statistics().current_buffer_used
    if left:
        log.error("stopped with %d queued events not analysed (the drain took longer than "
                  "60%% of daemon.shutdown_timeout = %g s; raise it to wait longer)", left,
                  shutdown_timeout)


async def _consume_events(ctx: Context, receive_events: trio.MemoryReceiveChannel, *,
                          task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Run the chosen consumer; if it crashes, fall back to the host's default one so
    inputs never block on a channel nobody reads."""
    owner, consumer = ctx.plugins.call_first("wazuhd_event_consumer", ctx=ctx)
    state = ctx.services["events.consumer"] = ServiceState(plugin=owner)
    started = False
    try:
        async with trio.open_nursery() as inner:
            await inner.start(consumer, receive_events.clone())
            state.status, state.started_at = "running", time.time()
            started = True
            task_status.started()
    except Exception as exc:  # noqa: BLE001 - an analysis bug must not stop the inputs
        cause = _leaf(exc)
        state.status, state.error = "failed", f"{type(cause).__name__}: {cause}"
        log.error("event consumer of %s failed, counting events instead: %s", owner,
                  state.error, exc_info=cause)
        await counting_consumer(ctx)(receive_events, task_status=trio.TASK_STATUS_IGNORED
                                     if started else task_status)


def _build_sockets(ctx: Context) -> dict[str, CommandSocket]:
    cfg = ctx.config["sockets"]
    sockets: dict[str, CommandSocket] = {}
    for plugin, command in ctx.plugins.collect("wazuhd_socket_commands"):
        if not isinstance(command, SocketCommand):
            ctx.plugins.fail(plugin, f"wazuhd_socket_commands returned {command!r}")
            continue
        sock = sockets.get(command.socket)
        if sock is None:
            sock = sockets[command.socket] = CommandSocket(
                name=command.socket, path=ctx.home.socket(command.socket), ctx=ctx,
                max_frame=cfg["max_frame"], idle_timeout=cfg["idle_timeout"],
                io_timeout=cfg["io_timeout"])
        try:
            sock.add(command)
        except ValueError as exc:
            ctx.plugins.fail(plugin, str(exc))
    return sockets


async def _supervise(ctx: Context, plugin: str, service: Service, *,
                     task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Run one service; a crash is logged and recorded, never the daemon's end."""
    name = f"{plugin}.{service.name}"
    state = ctx.services[name] = ServiceState(plugin=plugin)
    ready = False
    try:
        async with trio.open_nursery() as inner:
            await inner.start(service.run)
            ready = True
            state.status, state.started_at = "running", time.time()
            task_status.started()
        state.status = "stopped"
    except Exception as exc:  # noqa: BLE001 - one failing service, not the daemon
        cause = _leaf(exc)
        state.status, state.error = "failed", f"{type(cause).__name__}: {cause}"
        log.error("service %s failed: %s", name, state.error, exc_info=cause)
        if plugin in ctx.plugins.required:
            raise
    finally:
        if not ready:
            task_status.started()


def _leaf(exc: BaseException) -> BaseException:
    """The exception itself, not trio's single-member group around it."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def render_banner(ctx: Context) -> str:
    home = ctx.home
    rows = [("home", str(home.root)), ("config", str(home.config_file)),
            ("log", str(home.logs / "wazuhd.log"))]
    rows += [(f"socket {name}", str(sock.path)) for name, sock in sorted(ctx.sockets.items())]
    rows.append((f"socket {QUEUE_SOCKET}", str(home.socket(QUEUE_SOCKET)) + "  (events)"))
    rows += ctx.announcements
    rows.append(("plugins", ", ".join(ctx.plugins.loaded())))
    failed = [f"{i['name']} ({i['error']})" for i in ctx.plugins.report() if i["error"]]
    if failed:
        rows.append(("FAILED", "; ".join(failed)))
    width = max(len(label) for label, _ in rows)
    lines = [f"wazuhd {wazuhd.__version__} running, pid {os.getpid()}"]
    lines += [f"  {label.ljust(width)}  {text}" for label, text in rows]
    lines.append(f"Stop with Ctrl-C or: wazuhd stop --home {home.root}")
    return "\n".join(lines)


def _daemonize(home: Home) -> Callable[[str], None]:
    """Double fork. The first parent waits on a pipe until the daemon is serving
    (and prints its banner) or has failed (and says where to look); the
    returned function is how the daemon reports that it is ready.
    """
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            report = pipe.read()
        if report:
            print(report)
            os._exit(0)
        print(f"wazuhd failed to start; see {home.logs / 'wazuhd.log'} and "
              f"{home.logs / 'wazuhd.out'}", file=sys.stderr)
        os._exit(1)
    os.close(read_end)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    out = os.open(home.logs / "wazuhd.out", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(devnull)
    os.close(out)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)

    def ready(text: str) -> None:
        os.write(write_end, text.encode())
        os.close(write_end)

    return ready


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(home: Home, *, timeout: float = 10.0) -> tuple[bool, str]:
    """SIGTERM the daemon on ``home`` and wait until its lock is free."""
    pid = running_pid(home)
    if pid is None:
        return False, f"wazuhd is not running on {home.root}"
    if pid < 0:
        return False, f"wazuhd on {home.root} holds its lock but wrote no pidfile"
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False, f"wazuhd (pid {pid}) is gone"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(home) is None and not _alive(pid):
            return True, f"wazuhd (pid {pid}) stopped"
        time.sleep(0.05)
    return False, f"wazuhd (pid {pid}) did not stop within {timeout:g} s"
