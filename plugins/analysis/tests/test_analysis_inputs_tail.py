"""File tailing: rotation, truncation, restarts (no line lost or repeated), formats."""

import logging
import os
from dataclasses import dataclass, field

import pytest
import trio

from wazuhd.store import Store
from wazuhd_analysis.inputs import MIGRATIONS, services
from wazuhd_analysis.inputs.formats import MultiLineRegexFormat

POLL = 0.02


@dataclass
class FakeCtx:
    """What the inputs use of the daemon's Context."""

    config: dict
    store: Store
    events: trio.MemorySendChannel
    counters: dict = field(default_factory=dict)

    def add_counters(self, name, read):
        assert name not in self.counters
        self.counters[name] = read

    def event_sender(self):
        return self.events.clone()


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "db")
    store.migrate([("analysis", m) for m in MIGRATIONS])
    yield store
    store.close()


@pytest.fixture
def channel():
    return trio.open_memory_channel(10_000)


class Tail:
    """One tailed file whose service can be stopped and started again."""

    def __init__(self, store, channel, path, **options):
        send, self.receive = channel
        self.path = path
        ctx = FakeCtx({"localfile": {"poll_interval": POLL, "files": [
            {"location": str(path), "only_future_events": False, **options}]}}, store, send)
        [self.service] = services(ctx)
        self.counters = ctx.counters[f"localfile:{path}"]
        self.scope = None

    async def start(self, nursery):
        self.scope = await nursery.start(self._run)

    async def _run(self, task_status):
        with trio.CancelScope() as scope:
            await self.service.run(task_status=_Relay(task_status, scope))

    def stop(self):
        self.scope.cancel()

    async def take(self, n, timeout=5):
        with trio.fail_after(timeout):
            events = [await self.receive.receive() for _ in range(n)]
        assert {(e.queue, e.location) for e in events} <= {("1", str(self.path))}
        return [e.message for e in events]

    async def nothing_more(self, wait=0.2):
        await trio.sleep(wait)
        with pytest.raises(trio.WouldBlock):
            self.receive.receive_nowait()


class _Relay:
    """Hands the cancel scope of the run back through ``nursery.start``."""

    def __init__(self, status, scope):
        self.status, self.scope = status, scope

    def started(self, value=None):
        self.status.started(self.scope)


def write(path, *lines, mode="a"):
    with open(path, mode) as f:
        f.write("".join(f"{line}\n" for line in lines))


async def test_rotation_truncation_and_restart(store, channel, tmp_path, nursery):
    log = tmp_path / "app.log"
    write(log, "l1", "l2")
    tail = Tail(store, channel, log)
    await tail.start(nursery)
    assert await tail.take(2) == ["l1", "l2"]

    # Rotation: rename, the writer still appends to the old file, then a new file appears.
    write(log, "l3", "unterminated")
    with open(log, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        f.truncate()  # drop the last newline: a line still being written
    old = open(log, "a")
    log.rename(tmp_path / "app.log.1")
    await trio.sleep(5 * POLL)
    old.write(" line\nl4\n")
    old.close()
    write(log, "n1", "n2")
    assert await tail.take(5) == ["l3", "unterminated line", "l4", "n1", "n2"]
    assert tail.counters()["rotations"] == 1

    # copytruncate: the same inode emptied, then written again (even past the old offset).
    os.truncate(log, 0)
    write(log, "after truncate, a longer line than before")
    assert await tail.take(1) == ["after truncate, a longer line than before"]
    assert tail.counters()["truncations"] == 1

    # Restart: lines written while stopped are read, nothing is repeated.
    tail.stop()
    await trio.sleep(3 * POLL)
    write(log, "while stopped")
    await tail.start(nursery)
    write(log, "after restart")
    assert await tail.take(2) == ["while stopped", "after restart"]
    await tail.nothing_more()


async def test_restarts_mid_stream_lose_and_repeat_nothing(store, channel, tmp_path, nursery):
    log = tmp_path / "busy.log"
    write(log, mode="w")
    tail = Tail(store, channel, log)
    await tail.start(nursery)
    total = 3000

    async def writer():
        for i in range(total):
            write(log, f"event {i}")
            if i % 50 == 0:
                await trio.sleep(0.005)

    got = []
    async with trio.open_nursery() as inner:
        inner.start_soon(writer)
        for _ in range(4):
            await trio.sleep(0.05)
            tail.stop()
            await trio.sleep(0.02)
            await tail.start(nursery)
    while len(got) < total:
        got += await tail.take(1)
    assert got == [f"event {i}" for i in range(total)]
    await tail.nothing_more()


async def test_rotated_while_stopped_reads_the_rest_of_the_old_file(store, channel, tmp_path,
                                                                     nursery):
    log = tmp_path / "app.log"
    write(log, "a")
    tail = Tail(store, channel, log)
    await tail.start(nursery)
    assert await tail.take(1) == ["a"]
    tail.stop()
    await trio.sleep(3 * POLL)
    write(log, "b")
    log.rename(tmp_path / "app.log-20261126")
    write(log, "c")
    await tail.start(nursery)
    assert await tail.take(2) == ["b", "c"]
    await tail.nothing_more()


async def test_only_future_events_skips_what_is_there_the_first_time(store, channel, tmp_path,
                                                                      nursery):
    log = tmp_path / "old.log"
    write(log, "history")
    tail = Tail(store, channel, log, only_future_events=True)
    await tail.start(nursery)
    write(log, "new")
    assert await tail.take(1) == ["new"]
    tail.stop()
    await trio.sleep(3 * POLL)
    write(log, "while stopped")  # a saved position is resumed, never skipped
    await tail.start(nursery)
    assert await tail.take(1) == ["while stopped"]


async def test_missing_file_is_waited_for_and_read_from_its_start(store, channel, tmp_path,
                                                                  nursery):
    log = tmp_path / "later.log"
    tail = Tail(store, channel, log, only_future_events=True)
    await tail.start(nursery)
    await trio.sleep(3 * POLL)
    write(log, "first")
    assert await tail.take(1) == ["first"]


async def test_json_objects_compacted_and_invalid_lines_counted(store, channel, tmp_path,
                                                                nursery, caplog):
    caplog.set_level(logging.WARNING)
    log = tmp_path / "events.json"
    write(log, '{"a": 1,  "b": {"c": "é"}}', "not json", "[1, 2]", "", '{"d": null}')
    tail = Tail(store, channel, log, log_format="json")
    await tail.start(nursery)
    assert await tail.take(2) == ['{"a":1,"b":{"c":"é"}}', '{"d":null}']
    assert tail.counters()["invalid"] == 2
    assert f"localfile {log}" in caplog.text and "not a JSON object" in caplog.text


async def test_multi_line_n_and_restart_with_a_group_half_read(store, channel, tmp_path, nursery):
    log = tmp_path / "ml.log"
    write(log, "a1", "a2", "a3", "b1")
    tail = Tail(store, channel, log, log_format="multi-line:3")
    await tail.start(nursery)
    assert await tail.take(1) == ["a1 a2 a3"]
    tail.stop()
    await trio.sleep(3 * POLL)
    write(log, "b2", "b3")
    await tail.start(nursery)
    assert await tail.take(1) == ["b1 b2 b3"]  # b1 was held, not lost


async def test_multi_line_regex_start_with_timeout(store, channel, tmp_path, nursery):
    log = tmp_path / "java.log"
    write(log, "2026-11-26 ERROR boom", "  at a.b(C.java:1)", "  at d.e(F.java:2)",
          "2026-11-26 INFO fine", "  detail")
    tail = Tail(store, channel, log, log_format="multi-line-regex",
                multiline_regex={"regex": r"^\d{4}-\d\d-\d\d ", "timeout": 0.3})
    await tail.start(nursery)
    assert await tail.take(1, timeout=0.25) == [
        "2026-11-26 ERROR boom\n  at a.b(C.java:1)\n  at d.e(F.java:2)"]
    assert await tail.take(1) == ["2026-11-26 INFO fine\n  detail"]  # after the timeout


def test_multi_line_regex_end_and_all_modes():
    end = MultiLineRegexFormat(r";$", "end", "wspace", 5)
    assert end.feed("a", 2) == [] and end.feed("b;", 5) == [("a b;", 5)]
    whole = MultiLineRegexFormat(r"^\{.*\}$", "all", "none", 5)
    assert whole.feed("{", 2) == [] and whole.feed("}", 4) == [("{}", 4)]


async def test_long_lines_are_cut_and_counted(store, channel, tmp_path, nursery):
    log = tmp_path / "long.log"
    write(log, "x" * 5000, "short")
    tail = Tail(store, channel, log, max_size=100)
    await tail.start(nursery)
    assert await tail.take(2) == ["x" * 100, "short"]
    assert tail.counters()["truncated"] == 1


def test_services_refuse_bad_and_duplicate_inputs(store, tmp_path):
    send, _ = trio.open_memory_channel(1)

    def build(config):
        return services(FakeCtx(config, store, send))

    with pytest.raises(ValueError, match="configured twice"):
        build({"localfile": {"files": [{"location": "/a"}, {"location": "/a"}]}})
    with pytest.raises(ValueError, match="needs multiline_regex.regex"):
        build({"localfile": {"files": [{"location": "/a", "log_format": "multi-line-regex"}]}})
    names = [s.name for s in build({"syslog": {"enabled": True, "listeners": [
        {"protocol": "tcp", "port": 1514}, {"port": 1514}]}, "localfile": {"files": [
            {"location": "/var/log/auth.log"}]}})]
    assert names == ["syslog:tcp:0.0.0.0:1514", "syslog:udp:0.0.0.0:1514",
                     "localfile:/var/log/auth.log"]
    assert build({}) == []
