"""The pull integrations' shared machinery: checkpoints, sinks, schedule, standalone runner."""

from __future__ import annotations

import argparse
import io
import json
import types
from pathlib import Path

import pytest
import trio

from wazuhd import collect
from wazuhd.store import Store
from wazuhd.testing import wait_for


class FolderSource(collect.Source):
    """A real source for the tests: every ``*.log`` file of a folder, in name order,
    one event per line; the checkpoint is the last file read."""

    location = "folder"

    def __init__(self, folder: Path, name: str = "folder-test", fail_on: str | None = None,
                 interval: float = 60):
        self.folder, self.name, self.fail_on, self.interval = folder, name, fail_on, interval

    async def collect(self, run):
        done = (await run.checkpoint("files") or {}).get("last", "")
        for path in sorted(self.folder.glob("*.log")):
            if path.name <= done:
                continue
            if path.name == self.fail_on:
                raise collect.CollectError(f"{path.name} is unreadable")
            await run.emit({"file": path.name, "line": line}
                           for line in path.read_text().splitlines())
            await run.commit("files", {"last": path.name})
            run.count("files")


def args_for(tmp_path: Path, **values) -> argparse.Namespace:
    parser = argparse.ArgumentParser(parents=[collect.standalone_parent()])
    parser.set_defaults(home=str(tmp_path / "home"))
    argv = [f"--{key}" if value is True else f"--{key}={value}" for key, value in values.items()]
    return parser.parse_args(argv)


def write_logs(folder: Path, **files: str) -> None:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.log").write_text(text)


def printed(capsys_out: str) -> list[dict]:
    return [json.loads(line) for line in capsys_out.splitlines()]


def test_standalone_run_prints_once_and_remembers_in_the_state_file(tmp_path, capsys):
    folder = tmp_path / "logs"
    write_logs(folder, a="one\ntwo", b="three")
    state = tmp_path / "state.json"
    args = args_for(tmp_path, stdout=True, state=state)

    assert collect.run_standalone(FolderSource(folder), args) == 0
    first = capsys.readouterr()
    assert [event["line"] for event in printed(first.out)] == ["one", "two", "three"]
    assert "folder-test: 3 events, 2 files, 0 skipped" in first.err
    assert json.loads(state.read_text()) == {"folder-test": {"files": {"last": "b.log"}}}

    assert collect.run_standalone(FolderSource(folder), args) == 0
    assert capsys.readouterr().out == ""

    write_logs(folder, c="four")
    assert collect.run_standalone(FolderSource(folder), args) == 0
    assert [event["line"] for event in printed(capsys.readouterr().out)] == ["four"]


def test_reparse_starts_over(tmp_path, capsys):
    folder = tmp_path / "logs"
    write_logs(folder, a="one")
    args = args_for(tmp_path, stdout=True, state=tmp_path / "state.json")
    collect.run_standalone(FolderSource(folder), args)
    capsys.readouterr()
    assert collect.run_standalone(FolderSource(folder), args, reparse=True) == 0
    assert [event["line"] for event in printed(capsys.readouterr().out)] == ["one"]


def test_without_state_file_checkpoints_go_to_the_homes_store(tmp_path, capsys):
    folder = tmp_path / "logs"
    write_logs(folder, a="one")
    args = args_for(tmp_path, stdout=True)
    collect.run_standalone(FolderSource(folder), args)
    assert printed(capsys.readouterr().out)[0]["line"] == "one"
    collect.run_standalone(FolderSource(folder), args)
    assert capsys.readouterr().out == ""
    assert (tmp_path / "home" / "queue" / "db" / "collect.db").exists()


def test_a_failure_keeps_what_was_committed_and_names_the_source(tmp_path, capsys):
    folder = tmp_path / "logs"
    write_logs(folder, a="one", b="two", c="three")
    args = args_for(tmp_path, stdout=True, state=tmp_path / "state.json")
    assert collect.run_standalone(FolderSource(folder, fail_on="b.log"), args) == 1
    out = capsys.readouterr()
    assert [event["line"] for event in printed(out.out)] == ["one"]
    assert "wazuhd: folder-test: b.log is unreadable" in out.err
    # Fixed: the next run goes on from a.log, nothing read twice, nothing skipped.
    assert collect.run_standalone(FolderSource(folder), args) == 0
    assert [event["line"] for event in printed(capsys.readouterr().out)] == ["two", "three"]


def test_a_corrupt_state_file_is_a_clear_error(tmp_path, capsys):
    state = tmp_path / "state.json"
    state.write_text("{not json")
    args = args_for(tmp_path, stdout=True, state=state)
    assert collect.run_standalone(FolderSource(tmp_path), args) == 1
    assert f"cannot read the state file {state}" in capsys.readouterr().err


def test_sending_to_a_home_without_a_daemon_says_so(tmp_path, capsys):
    write_logs(tmp_path / "logs", a="one")
    args = args_for(tmp_path, state=tmp_path / "state.json")
    assert collect.run_standalone(FolderSource(tmp_path / "logs"), args) == 1
    err = capsys.readouterr().err
    assert "no daemon is listening on" in err and "--stdout" in err
    assert not (tmp_path / "state.json").exists()


def test_standalone_run_feeds_a_running_daemon(daemon_factory, home, tmp_path):
    daemon = daemon_factory().start()
    write_logs(tmp_path / "logs", a="\n".join(f"line {n}" for n in range(200)))
    args = args_for(tmp_path, state=tmp_path / "state.json")
    args.home = str(home)
    assert collect.run_standalone(FolderSource(tmp_path / "logs"), args, stream=io.StringIO()) == 0
    # Datagrams wait in the kernel until the daemon reads them: wait, then count exactly.
    assert wait_for(lambda: daemon.counters("queue")["received"] >= 200)
    assert daemon.counters("queue")["received"] == 200


def test_an_event_longer_than_the_daemon_accepts_is_an_error_not_a_loss(daemon_factory, home,
                                                                        tmp_path, capsys):
    daemon_factory(config="sockets:\n  max_frame: 2048\n").start()
    write_logs(tmp_path / "logs", a="x" * 4096)
    args = args_for(tmp_path, state=tmp_path / "state.json")
    args.home = str(home)
    assert collect.run_standalone(FolderSource(tmp_path / "logs"), args) == 1
    assert "longer than the daemon accepts (sockets.max_frame = 2048)" in capsys.readouterr().err
    assert not (tmp_path / "state.json").exists()


def test_next_delay_jitters_and_backs_off_to_a_cap():
    delays = [collect.next_delay(100, 0.1, 0, 3600) for _ in range(200)]
    assert 90 <= min(delays) and max(delays) <= 110 and len(set(delays)) > 1
    backoff = [collect.next_delay(100, 0.1, failures, 60) for failures in range(1, 6)]
    assert 12.5 * 0.9 <= backoff[0] <= 12.5 * 1.1
    assert 25 * 0.9 <= backoff[1] <= 25 * 1.1
    assert all(delay <= 66 for delay in backoff)


async def test_services_isolate_a_failing_source_and_count_it(tmp_path):
    counters = {}
    send, receive = trio.open_memory_channel(100)
    store = Store(tmp_path / "db")
    store.migrate(("core", m) for m in collect.MIGRATIONS)
    ctx = types.SimpleNamespace(store=store, event_sender=send.clone,
                                add_counters=lambda name, read: counters.setdefault(name, read))
    good, bad = tmp_path / "good", tmp_path / "bad"
    write_logs(good, a="one")
    write_logs(bad, a="x")
    services = collect.services(ctx, "test", [
        FolderSource(good, "good", interval=0.05),
        FolderSource(bad, "bad", fail_on="a.log", interval=0.05)])
    assert [service.name for service in services] == ["good", "bad"]

    async def wait_until(predicate):
        with trio.fail_after(10):
            while not predicate(counters["test"]()):
                await trio.sleep(0.02)

    async with trio.open_nursery() as nursery:
        for service in services:
            await nursery.start(service.run)
        await wait_until(lambda stats: stats["good"]["runs"] >= 3)
        write_logs(good, b="two")
        # The bad source is retried after 1 s, then 2 s (backoff), while the good one goes on.
        await wait_until(lambda stats: stats["good"]["events"] == 2 and stats["bad"]["errors"] >= 2)
        nursery.cancel_scope.cancel()
    stats = counters["test"]()
    assert stats["good"]["errors"] == 0 and stats["good"]["files"] == 2
    assert stats["bad"]["events"] == 0 and stats["bad"]["state"] == "failing"
    assert stats["bad"]["last_error"] == "a.log is unreadable"
    assert stats["bad"]["runs"] < stats["good"]["runs"]  # backing off, not spinning
    received = []
    while True:
        try:
            received.append(receive.receive_nowait())
        except trio.WouldBlock:
            break
    assert [json.loads(event.message)["line"] for event in received] == ["one", "two"]
    assert {(event.queue, event.location) for event in received} == {("1", "folder")}
    assert await collect.StoreCheckpoints(store.db(collect.DATABASE)).all("good") == {
        "files": {"last": "b.log"}}


class SlowSink(collect.Sink):
    """A sink that takes its time, like a daemon whose queue is full."""

    def __init__(self, seconds: float):
        self.seconds, self.events = seconds, []

    async def send(self, events):
        await trio.sleep(self.seconds)
        self.events += events


async def deliver_then_stop(sink, tmp_path):
    checkpoints = collect.FileCheckpoints(tmp_path / "state.json")
    run = collect.Run(FolderSource(tmp_path), sink, checkpoints, collect.SourceStats())
    with trio.move_on_after(0.1):
        await run.deliver([{"n": 1}, {"n": 2}], "files", {"last": "a.log"})
    return await checkpoints.load("folder-test", "files")


async def test_a_stop_during_a_handover_waits_for_the_checkpoint(tmp_path):
    sink = SlowSink(0.5)
    assert await deliver_then_stop(sink, tmp_path) == {"last": "a.log"}
    assert len(sink.events) == 2


async def test_a_handover_stuck_past_the_grace_is_abandoned_unrecorded(tmp_path, autojump_clock):
    sink = SlowSink(collect.HANDOVER_GRACE * 10)
    assert await deliver_then_stop(sink, tmp_path) is None
    assert sink.events == []


def test_a_source_without_checkpoints_takes_no_state_and_touches_no_store(tmp_path, capsys):
    parser = argparse.ArgumentParser(parents=[collect.standalone_parent(checkpoints=False)])
    parser.set_defaults(home=str(tmp_path / "home"))
    with pytest.raises(SystemExit):
        parser.parse_args(["--stdout", "--state", "x.json"])
    assert "unrecognized arguments: --state" in capsys.readouterr().err
    write_logs(tmp_path / "logs", a="one")
    args = parser.parse_args(["--stdout"])
    for _ in range(2):  # nothing remembered between runs, nothing written
        assert collect.run_standalone(FolderSource(tmp_path / "logs"), args) == 0
        assert printed(capsys.readouterr().out)[0]["line"] == "one"
    assert not (tmp_path / "home").exists()
