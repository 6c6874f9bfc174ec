"""Realtime: inotify, read from trio, reports changes as they happen."""

from __future__ import annotations

import os
import subprocess
import tempfile

import pytest
import trio

from wazuhd_syscheck.realtime import Watcher

from syscheck_helpers import make_monitor, rows, summary, write


async def wait_events(sent, count: int, timeout: float = 5.0) -> list[dict]:
    taken = []
    with trio.move_on_after(timeout):
        while len(taken) < count:
            taken += sent.take()
            await trio.sleep(0.02)
    taken += sent.take()
    return taken


@pytest.fixture
async def realtime(tmp_path, nursery):
    root = tmp_path / "watched"
    write(root / "a.txt", "alpha\n")
    write(root / "sub" / "b.txt", "beta\n")
    monitor, sent = make_monitor(tmp_path / "home", [{"path": str(root), "realtime": True,
                                                      "report_changes": True}], realtime_delay=0.02)
    overflows = []
    watcher = Watcher(monitor, lambda: overflows.append(1))
    await monitor.load()
    await monitor.scan()  # the baseline, and a watch on every directory
    nursery.start_soon(watcher.run)
    return root, monitor, sent, watcher


async def test_changes_are_reported_in_realtime(realtime):
    root, monitor, sent, watcher = realtime
    assert monitor.counters["watches"] == 2
    (root / "a.txt").write_text("alpha\nmore\n")
    os.chmod(root / "sub" / "b.txt", 0o640)
    write(root / "c.txt", "new\n")
    events = await wait_events(sent, 3)
    by_path = {e["path"]: e for e in events}
    assert {e["mode"] for e in events} == {"realtime"}
    assert by_path[str(root / "a.txt")]["type"] == "modified"
    assert "+more" in by_path[str(root / "a.txt")]["content_changes"]
    assert by_path[str(root / "sub" / "b.txt")]["changed_attributes"] == ["permission"]
    assert by_path[str(root / "c.txt")]["type"] == "added"
    assert len(events) == 3  # a burst of writes to one file is one event
    (root / "c.txt").unlink()
    assert summary(await wait_events(sent, 1)) == [("deleted", str(root / "c.txt"))]
    assert str(root / "c.txt") not in rows(monitor)


async def test_owner_change_in_realtime(realtime):
    root, monitor, sent, _ = realtime
    os.chown(root / "a.txt", 1234, 2345)
    [event] = await wait_events(sent, 1)
    assert set(event["changed_attributes"]) >= {"uid", "gid"}
    assert event["attributes"]["uid"] == "1234" and event["old_attributes"]["uid"] != "1234"


async def test_new_directories_are_watched_and_removed_ones_reported(realtime):
    root, monitor, sent, watcher = realtime
    write(root / "fresh" / "inner" / "x.txt", "x\n")  # created faster than it can be watched
    events = await wait_events(sent, 1)
    assert summary(events) == [("added", str(root / "fresh" / "inner" / "x.txt"))]
    assert os.fsencode(str(root / "fresh" / "inner")) in watcher.inotify
    (root / "fresh" / "inner" / "y.txt").write_text("y\n")  # inside the new watch
    assert summary(await wait_events(sent, 1)) == [("added", str(root / "fresh" / "inner" / "y.txt"))]
    subprocess.run(["rm", "-rf", str(root / "fresh")], check=True)
    assert summary(await wait_events(sent, 2)) == [("deleted", str(root / "fresh" / "inner" / "x.txt")),
                                                   ("deleted", str(root / "fresh" / "inner" / "y.txt"))]


async def test_a_file_moved_in_and_a_directory_replaced_by_a_file(realtime, tmp_path):
    root, monitor, sent, _ = realtime
    outside = write(tmp_path / "outside.txt", "moved\n")
    os.rename(outside, root / "moved.txt")
    assert summary(await wait_events(sent, 1)) == [("added", str(root / "moved.txt"))]
    subprocess.run(["rm", "-rf", str(root / "sub")], check=True)
    (root / "sub").write_text("a file now\n")
    events = await wait_events(sent, 2)
    assert summary(events) == [("added", str(root / "sub")), ("deleted", str(root / "sub" / "b.txt"))]


async def test_the_watched_root_removed(realtime):
    root, monitor, sent, _ = realtime
    subprocess.run(["rm", "-rf", str(root)], check=True)
    events = await wait_events(sent, 2)
    assert summary(events) == [("deleted", str(root / "a.txt")), ("deleted", str(root / "sub" / "b.txt"))]
    assert rows(monitor) == {}


def can_mount() -> bool:
    probe = tempfile.mkdtemp(prefix="syscheck-mount-probe-")
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", probe], capture_output=True).returncode == 0
        if mounted:
            subprocess.run(["umount", probe], check=True)
        return mounted
    except OSError:
        return False
    finally:
        os.rmdir(probe)


@pytest.mark.skipif(os.geteuid() != 0 or not can_mount(), reason="needs root and mount(8) to mount a tmpfs")
async def test_a_mount_that_disappears(tmp_path):
    root = tmp_path / "watched"
    mount_point = root / "mnt"
    mount_point.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mount_point)], check=True)
    try:
        write(mount_point / "on-the-mount.txt", "m\n")
        monitor, sent = make_monitor(tmp_path / "home", [{"path": str(root), "realtime": True}],
                                     realtime_delay=0.02)
        watcher = Watcher(monitor, lambda: None)
        async with trio.open_nursery() as nursery:
            await monitor.load()
            await monitor.scan()
            nursery.start_soon(watcher.run)
            subprocess.run(["umount", str(mount_point)], check=True)
            await monitor.scan()  # the mount point is an empty directory again
            events = sent.take()
            write(root / "after.txt", "the scanner goes on\n")
            events += await wait_events(sent, 1)
            nursery.cancel_scope.cancel()
        assert summary(events) == [("added", str(root / "after.txt")),
                                   ("deleted", str(mount_point / "on-the-mount.txt"))]
    finally:
        subprocess.run(["umount", str(mount_point)], capture_output=True)
