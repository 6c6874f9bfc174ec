"""Docker listener benchmark: events per second through the listener, from a real dockerd.

    .venv/bin/python bench/docker.py [--containers 100] [--workers 4]

Needs root, dockerd and busybox (as the plugin's tests). Starts its own engine, then:

1. **live**: the listener follows the engine while ``--workers`` threads run a burst of
   ``--containers`` lifecycles (create, start, stop, remove of ``tiny:1``); prints the
   engine's own event rate, the rate the listener delivered them at and how far behind
   the last one arrived (the engine is the limit here);
2. **replay**: a fresh listener asks ``since`` the start of the burst and reads what the
   engine still holds (dockerd keeps its last 256 events): the listener's own throughput,
   parsing, de-duplication, the sink and a checkpoint commit per batch included;
3. **standalone**: the same replay through ``wazuhd docker listen --stdout --until``.

Each path sends to a real sink (``--stdout`` to /dev/null, a JSON ``--state`` file).
Load from other processes on the machine shows in every figure: note ``uptime``.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# This file's own name would shadow the docker SDK: import from elsewhere than bench/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent / "plugins" / "docker" / "tests"))

import trio  # noqa: E402

from docker_helpers import DockerEngine, missing  # noqa: E402
from wazuhd import collect  # noqa: E402
from wazuhd.testing import wazuhd_command  # noqa: E402
from wazuhd_docker.engine import EngineSettings  # noqa: E402
from wazuhd_docker.listener import NS, EventsSource  # noqa: E402


class TimedSink(collect.Sink):
    """Counts events and notes when the first and last batches arrived; formats them as
    ``--stdout`` would."""

    def __init__(self):
        self.count = 0
        self.first = self.last = None
        self.out = io.StringIO()

    async def send(self, events):
        now = time.monotonic()
        self.first = self.first or now
        self.last = now
        self.count += len(events)
        self.out.write("".join(event.message + "\n" for event in events))
        self.out.seek(0)
        self.out.truncate()


def burst(engine: DockerEngine, containers: int, workers: int) -> float:
    """Run the lifecycles on ``workers`` threads; return the seconds taken."""
    names = iter(range(containers))
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                number = next(names, None)
            if number is None:
                return
            engine.lifecycle(f"bench-{number}")

    began = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - began


class Counter:
    """An independent subscriber (the plain SDK) that counts what the engine emits."""

    def __init__(self, engine: DockerEngine):
        self.stream = engine.client.events(decode=True)
        self.count = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for _ in self.stream:
            self.count += 1

    def close(self) -> int:
        self.stream.close()
        self.thread.join()
        return self.count


async def follow(engine: DockerEngine, state: Path, *, since_nano=None, during=None,
                 expected=None, timeout: float = 120):
    """Run a listener; run ``during`` in a thread; wait for ``expected()`` events."""
    source = EventsSource(EngineSettings(name="bench", url=engine.url), interval=0.2,
                          since_nano=since_nano)
    sink, stats = TimedSink(), collect.SourceStats()
    run = collect.Run(source, sink, collect.FileCheckpoints(state), stats)
    result = None
    with trio.fail_after(timeout):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(source.collect, run)
            while stats.state != "connected":
                await trio.sleep(0.01)
            if during is not None:
                result = await trio.to_thread.run_sync(during)
            wanted = expected()
            while sink.count < wanted:
                await trio.sleep(0.005)
            nursery.cancel_scope.cancel()
    return sink, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    reason = missing()
    if reason:
        print(f"cannot run: {reason}")
        return 1
    print("load average: %.2f %.2f %.2f" % os.getloadavg())
    engine = DockerEngine().start()
    work = Path(tempfile.mkdtemp(prefix="wzb-"))
    try:
        engine.import_tiny()
        engine.lifecycle("warm-up")
        time.sleep(0.1)
        began_nano = time.time_ns()
        counter = Counter(engine)
        timing = {}

        def lifecycles():
            timing["seconds"] = burst(engine, args.containers, args.workers)
            timing["ended"] = time.monotonic()
            time.sleep(0.5)  # the last events reach the independent subscriber
            return counter.close()

        sink, emitted = trio.run(lambda: follow(engine, work / "live.json", during=lifecycles,
                                                expected=lambda: counter.count))
        seconds = timing["seconds"]
        print(f"burst: {args.containers} container lifecycles on {args.workers} threads in "
              f"{seconds:.1f} s; the engine emitted {emitted} events ({emitted / seconds:.0f}/s)")
        span = sink.last - sink.first
        print(f"live: the listener delivered {sink.count} events at {sink.count / span:.0f} "
              f"events/s; the last arrived {max(0.0, sink.last - timing['ended']) * 1000:.0f} ms "
              f"after the burst ended")

        held = len(engine.events(began_nano / NS, time.time()))
        replay, _ = trio.run(lambda: follow(engine, work / "replay.json", since_nano=began_nano,
                                            expected=lambda: held))
        took = replay.last - replay.first
        print(f"replay: the {replay.count} events the engine still held (dockerd keeps 256), "
              f"read since the burst's start: {replay.count / took:.0f} events/s "
              f"({took * 1000:.0f} ms from the first to the last batch)")

        cli_began = time.monotonic()
        done = subprocess.run(
            wazuhd_command("docker", "listen", "--docker-host", engine.url, "--stdout",
                           "--state", str(work / "cli.json"), "--since", f"{began_nano / NS:.9f}",
                           "--until", f"{time.time():.3f}"),
            capture_output=True, text=True, timeout=120)
        lines = sum(1 for line in done.stdout.splitlines() if line.startswith("{"))
        print(f"standalone: wazuhd docker listen --stdout --since --until: {lines} events in "
              f"{time.monotonic() - cli_began:.2f} s, process start and exit included "
              f"[{done.stderr.strip().splitlines()[-1]}]")
    finally:
        engine.remove()
        for path in work.iterdir():
            path.unlink()
        work.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
