"""Scheduled scans against a real store: the baseline, the events and Wazuh's options."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import tempfile
import threading
import time
import traceback
from pathlib import Path

import pytest
import trio

from wazuhd.testing import DaemonProcess
from wazuhd_syscheck.options import Settings

from syscheck_helpers import make_monitor, rows, summary, write


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "watched"
    write(root / "a.txt", "alpha\n")
    write(root / "sub" / "b.conf", "key=1\n")
    write(root / "sub" / "deep" / "c.bin", "\0\1\2")
    return root


async def test_first_scan_records_the_baseline_silently(tmp_path, tree):
    monitor, sent = make_monitor(tmp_path / "home", [{"path": str(tree)}])
    await monitor.load()
    report = await monitor.scan()
    assert report["files"] == 3 and report["added"] == 3
    assert sent.take() == []  # as Wazuh: the first scan builds the baseline, it reports nothing
    stored = rows(monitor)
    assert sorted(stored) == sorted(str(p) for p in (tree / "a.txt", tree / "sub" / "b.conf",
                                                     tree / "sub" / "deep" / "c.bin"))
    entry = stored[str(tree / "a.txt")]
    info = os.stat(tree / "a.txt")
    assert entry["size"] == 6 and entry["perm"] == stat.filemode(info.st_mode)[1:]
    assert entry["uid"] == str(info.st_uid) and entry["inode"] == info.st_ino
    assert entry["mtime"] == int(info.st_mtime)
    assert entry["md5"] == hashlib.md5(b"alpha\n").hexdigest()
    assert entry["sha1"] == hashlib.sha1(b"alpha\n").hexdigest()
    assert entry["sha256"] == hashlib.sha256(b"alpha\n").hexdigest()
    assert entry["dir"] == str(tree) and entry["changes"] == 1


async def test_added_modified_deleted_with_changed_attributes(tmp_path, tree):
    monitor, sent = make_monitor(tmp_path / "home", [{"path": str(tree)}])
    await monitor.load()
    await monitor.scan()
    (tree / "a.txt").write_text("alpha and more\n")
    os.chmod(tree / "sub" / "b.conf", 0o600)
    os.chown(tree / "sub" / "deep" / "c.bin", 4242, 4343)
    (tree / "new").write_text("n")
    report = await monitor.scan()
    events = {e["path"]: e for e in sent.take()}
    assert report["modified"] == 3 and report["added"] == 1
    content = events[str(tree / "a.txt")]
    assert content["type"] == "modified" and content["mode"] == "scheduled"
    assert {"size", "md5", "sha1", "sha256"} <= set(content["changed_attributes"])
    assert content["old_attributes"]["size"] == 6 and content["attributes"]["size"] == 15
    assert events[str(tree / "sub" / "b.conf")]["changed_attributes"] == ["permission"]
    assert events[str(tree / "sub" / "b.conf")]["attributes"]["perm"] == "rw-------"
    owner = events[str(tree / "sub" / "deep" / "c.bin")]["changed_attributes"]
    assert {"uid", "gid"} <= set(owner) and "md5" not in owner
    assert events[str(tree / "new")]["type"] == "added"
    assert rows(monitor)[str(tree / "a.txt")]["changes"] == 2

    (tree / "sub" / "deep" / "c.bin").unlink()
    await monitor.scan()
    deleted = sent.take()
    assert summary(deleted) == [("deleted", str(tree / "sub" / "deep" / "c.bin"))]
    assert deleted[0]["attributes"]["uid"] == "4242"  # what it was
    assert str(tree / "sub" / "deep" / "c.bin") not in rows(monitor)
    await monitor.scan()
    assert sent.take() == []  # nothing changed: nothing reported


async def test_baseline_survives_a_new_monitor_on_the_same_store(tmp_path, tree):
    home = tmp_path / "home"
    monitor, _ = make_monitor(home, [{"path": str(tree)}])
    await monitor.load()
    await monitor.scan()
    (tree / "a.txt").write_text("changed while down\n")
    again, sent = make_monitor(home, [{"path": str(tree)}])
    await again.load()
    await again.scan()
    assert summary(sent.take()) == [("modified", str(tree / "a.txt"))]


async def test_checks_select_the_attributes(tmp_path, tree):
    monitor, sent = make_monitor(tmp_path / "home", [
        {"path": str(tree), "check_all": False, "check_size": True, "check_sha256sum": True}])
    await monitor.load()
    await monitor.scan()
    entry = rows(monitor)[str(tree / "a.txt")]
    assert entry["md5"] is None and entry["sha1"] is None and entry["sha256"]
    assert entry["perm"] is None and entry["uid"] is None and entry["mtime"] is None
    os.chmod(tree / "a.txt", 0o700)  # permissions are not checked: no event
    await monitor.scan()
    assert sent.take() == []
    (tree / "a.txt").write_text("alpha\nbeta\n")
    await monitor.scan()
    [event] = sent.take()
    assert event["changed_attributes"] == ["size", "sha256"]


def test_check_all_with_one_check_off():
    settings = Settings.from_config({"directories": [{"path": "/srv", "check_mtime": False},
                                                     {"path": "/opt", "check_all": False, "check_sum": True}]})
    srv, opt = settings.directories
    assert "mtime" not in srv.checks and {"md5sum", "size", "inode", "perm"} <= srv.checks
    assert opt.checks == {"md5sum", "sha1sum", "sha256sum"}


async def test_ignore_restrict_recursion_and_tags(tmp_path, tree):
    write(tree / "sub" / "skip.log", "x")
    write(tree / "ignored" / "x.txt", "x")
    monitor, _ = make_monitor(tmp_path / "home", [
        {"path": str(tree), "recursion_level": 1, "restrict": r"\.(txt|conf|log)$", "tags": "web"}],
        ignore=[str(tree / "ignored"), {"sregex": r"\.log$"}])
    await monitor.load()
    await monitor.scan()
    # deep/c.bin: too deep; ignored/: ignored path; skip.log: ignored sregex
    assert sorted(rows(monitor)) == [str(tree / "a.txt"), str(tree / "sub" / "b.conf")]


async def test_tags_travel_with_events(tmp_path, tree):
    monitor, sent = make_monitor(tmp_path / "home", [{"path": str(tree), "tags": "web,prod"}])
    await monitor.load()
    await monitor.scan()
    (tree / "a.txt").unlink()
    await monitor.scan()
    [event] = sent.take()
    assert event["tags"] == "web,prod" and event["type"] == "deleted"


async def test_report_changes_nodiff_and_size_cap(tmp_path, tree):
    secret = write(tree / "secret.key", "s1\n")
    big = write(tree / "big.txt", "x" * 100 + "\n")
    monitor, sent = make_monitor(tmp_path / "home", [
        {"path": str(tree), "report_changes": True, "diff_size_limit": 64}], nodiff=[str(secret)])
    await monitor.load()
    await monitor.scan()
    (tree / "a.txt").write_text("alpha\ngamma\n")
    secret.write_text("s2\n")
    big.write_text("y" * 100 + "\n")
    (tree / "sub" / "deep" / "c.bin").write_bytes(b"\0\3")
    await monitor.scan()
    changes = {e["path"]: e.get("content_changes") for e in sent.take()}
    assert "+gamma" in changes[str(tree / "a.txt")]
    assert "s2" not in changes[str(secret)] and "nodiff" in changes[str(secret)]
    assert "diff_size_limit" in changes[str(big)]
    assert "not a text file" in changes[str(tree / "sub" / "deep" / "c.bin")]
    assert stat.S_IMODE((tmp_path / "home" / "diff").stat().st_mode) == 0o700
    copies = list((tmp_path / "home" / "diff").iterdir())
    assert all(stat.S_IMODE(c.stat().st_mode) == 0o600 for c in copies)
    assert not any(b"s2" in c.read_bytes() or b"s1" in c.read_bytes() for c in copies)


async def test_file_limit(tmp_path, tree):
    monitor, sent = make_monitor(tmp_path / "home", [{"path": str(tree)}],
                                 file_limit={"enabled": True, "entries": 2})
    await monitor.load()
    report = await monitor.scan()
    assert len(rows(monitor)) == 2
    assert any("file_limit" in p for p in report["problems"])
    assert monitor.counters["file_limit_reached"] == 1


async def test_scan_of_one_directory_below_a_monitored_one(tmp_path, tree):
    monitor, sent = make_monitor(tmp_path / "home", [{"path": str(tree)}])
    await monitor.load()
    await monitor.scan()
    (tree / "a.txt").write_text("outside the requested directory\n")
    (tree / "sub" / "b.conf").unlink()
    await monitor.scan([str(tree / "sub")])
    assert summary(sent.take()) == [("deleted", str(tree / "sub" / "b.conf"))]
    with pytest.raises(ValueError, match="not under a monitored directory"):
        monitor.targets([str(tmp_path / "elsewhere")])


# -- edge cases: none of them stops a scan -----------------------------------------------


async def test_names_that_are_not_utf8(tmp_path, tree):
    raw = os.fsencode(str(tree)) + b"/caf\xe9.txt"
    with open(raw, "wb") as file:
        file.write(b"latin-1 name")
    monitor, sent = make_monitor(tmp_path / "home", [{"path": str(tree)}])
    await monitor.load()
    await monitor.scan()
    shown = f"{tree}/caf\\xe9.txt"
    assert shown in rows(monitor)
    with open(raw, "ab") as file:
        file.write(b" changed")
    os.unlink(tree / "a.txt")
    await monitor.scan()
    assert summary(sent.take()) == [("deleted", str(tree / "a.txt")), ("modified", shown)]


async def test_paths_longer_than_path_max(tmp_path, tree):
    name = "d" * 200
    fd = os.open(tree, os.O_RDONLY)
    depth = 25  # 25 * 201 bytes: beyond PATH_MAX (4096)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
        leaf = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"deep")
        os.close(leaf)
    finally:
        os.close(fd)
    monitor, _ = make_monitor(tmp_path / "home", [{"path": str(tree), "recursion_level": 64}])
    await monitor.load()
    report = await monitor.scan()
    long_paths = [p for p in rows(monitor) if p.endswith("leaf.txt")]
    assert len(long_paths) == 1 and len(long_paths[0]) > 4096
    assert rows(monitor)[long_paths[0]]["size"] == 4
    assert report["files"] == 4
    subprocess.run(["rm", "-rf", str(tree / name)], check=True)


async def test_symbolic_link_loops(tmp_path, tree):
    os.symlink("..", tree / "sub" / "up")  # a loop when links are followed
    os.symlink("nowhere", tree / "dangling")
    os.symlink("self", tree / "self")  # ELOOP
    followed, _ = make_monitor(tmp_path / "follow", [{"path": str(tree), "follow_symbolic_link": True}])
    await followed.load()
    report = await followed.scan()
    assert any("loop" in p for p in report["problems"])
    assert str(tree / "a.txt") in rows(followed)
    plain, _ = make_monitor(tmp_path / "plain", [{"path": str(tree)}])
    await plain.load()
    report = await plain.scan()
    links = rows(plain)
    # not followed: each link is an entry known by its target
    assert links[str(tree / "sub" / "up")]["sha1"] == hashlib.sha1(b"..").hexdigest()
    assert str(tree / "dangling") in links and report["problems"] == []


async def test_directory_replaced_by_a_file(tmp_path, tree):
    monitor, sent = make_monitor(tmp_path / "home", [{"path": str(tree)}])
    await monitor.load()
    await monitor.scan()
    subprocess.run(["rm", "-rf", str(tree / "sub")], check=True)
    (tree / "sub").write_text("now a file\n")
    await monitor.scan()
    assert summary(sent.take()) == [("added", str(tree / "sub")),
                                    ("deleted", str(tree / "sub" / "b.conf")),
                                    ("deleted", str(tree / "sub" / "deep" / "c.bin"))]


async def test_a_vanished_monitored_directory(tmp_path, tree):
    monitor, sent = make_monitor(tmp_path / "home", [{"path": str(tree)}, {"path": str(tmp_path / "never")}])
    await monitor.load()
    report = await monitor.scan()
    assert any("never" in p for p in report["problems"])
    subprocess.run(["rm", "-rf", str(tree)], check=True)
    report = await monitor.scan()
    assert len([e for e in sent.take() if e["type"] == "deleted"]) == 3
    assert rows(monitor) == {}


async def test_a_file_growing_while_it_is_hashed(tmp_path, tree):
    """The hash and the attributes describe one state of the file, never a mix."""
    big = tree / "growing.log"
    big.write_bytes(b"x" * (8 << 20))
    stop = threading.Event()

    def grow():
        with open(big, "ab") as file:
            while not stop.is_set():
                file.write(b"y" * 4096)
                file.flush()
                time.sleep(0.001)

    monitor, _ = make_monitor(tmp_path / "home", [{"path": str(tree)}])
    await monitor.load()
    writer = threading.Thread(target=grow)
    writer.start()
    try:
        report = await monitor.scan()
    finally:
        stop.set()
        writer.join()
    assert report["files"] == 4 and str(big) in rows(monitor)


def scan_as(uid: int, home: Path, watched: Path) -> dict:
    """One scan in a forked child that runs as ``uid`` (root reads everything)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, scan, report, exit
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

            async def main():
                monitor, sent = make_monitor(home, [{"path": str(watched)}])
                await monitor.load()
                report = await monitor.scan()
                return {"report": report, "events": sent.take()}

            os.write(write_end, json.dumps(trio.run(main)).encode())
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        output = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and output
    return json.loads(output)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user for unreadable files")
def test_unreadable_files_are_reported_as_such_not_as_deleted(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="syscheck-unreadable-"))
    try:
        os.chmod(base, 0o777)
        watched = base / "watched"
        watched.mkdir(mode=0o777)
        secret = write(watched / "secret", "top\n")
        locked = watched / "locked"
        write(locked / "inside", "x\n")
        home = base / "home"
        home.mkdir(mode=0o777)
        for path in (home, watched, secret, locked, locked / "inside"):
            os.chown(path, 65534, 65534)

        first = scan_as(65534, home, watched)
        assert first["report"]["added"] == 2
        os.chmod(secret, 0)
        os.chmod(locked, 0)
        second = scan_as(65534, home, watched)
        # the mode did change; the content is not called changed, nothing is called deleted
        [event] = second["events"]
        assert (event["type"], event["path"], event["changed_attributes"]) == (
            "modified", str(secret), ["permission"])
        assert second["report"]["unreadable"] == 1
        problems = "\n".join(second["report"]["problems"])
        assert f"{secret}: cannot read the content: Permission denied" in problems
        assert f"{locked}: Permission denied" in problems
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


async def test_special_filesystems_are_skipped(tmp_path):
    monitor, sent = make_monitor(tmp_path / "home", [{"path": "/proc/sys/kernel/random"}])
    await monitor.load()
    report = await monitor.scan()
    assert report["files"] == 0 and rows(monitor) == {}
    assert report["problems"] == ["/proc/sys/kernel/random: skipped: a proc filesystem "
                                  "(skip_nfs/skip_dev/skip_proc/skip_sys)"]


async def test_a_requested_directory_keeps_the_recursion_level(tmp_path, tree):
    monitor, _ = make_monitor(tmp_path / "home", [{"path": str(tree), "recursion_level": 1}])
    await monitor.load()
    await monitor.scan([str(tree / "sub")])
    assert sorted(rows(monitor)) == [str(tree / "sub" / "b.conf")]  # deep/ is level 2
    with pytest.raises(ValueError, match="deeper than the recursion_level"):
        monitor.targets([str(tree / "sub" / "deep" / "more")])


def test_next_scheduled_scan():
    from datetime import datetime

    from wazuhd_syscheck.service import next_scan_delay
    monday_10 = datetime(2026, 11, 23, 10, 0).timestamp()  # a Monday
    assert next_scan_delay({"frequency": 600}, monday_10) == 600
    assert next_scan_delay({"frequency": 600, "scan_time": "22:30"}, monday_10) == 12.5 * 3600
    assert next_scan_delay({"frequency": 600, "scan_time": "09:00"}, monday_10) == 23 * 3600
    assert next_scan_delay({"frequency": 600, "scan_day": "wednesday"}, monday_10) == 38 * 3600
    assert next_scan_delay({"frequency": 600, "scan_time": "10:00", "scan_day": "monday"},
                           monday_10) == 7 * 24 * 3600


def test_rates_bound_files_bytes_and_events():
    from wazuhd_syscheck.monitor import Rate
    unbounded = Rate(0)
    assert unbounded.take(10 ** 9) == 0
    files = Rate(100)
    assert files.take(50) == pytest.approx(0.5, abs=0.05)
    assert files.take(50) == pytest.approx(1.0, abs=0.05)  # the budget accumulates


async def test_bytes_per_second_slows_the_hashing(tmp_path):
    root = tmp_path / "big"
    for index in range(3):
        write(root / f"f{index}", "x" * 32768)
    monitor, _ = make_monitor(tmp_path / "home", [{"path": str(root)}], max_bytes_per_second=65536)
    await monitor.load()
    began = time.monotonic()
    await monitor.scan()
    assert time.monotonic() - began >= 1.3  # 96 KiB at 64 KiB/s: the bound holds


def test_cli_scan_without_a_daemon_prints_events(tmp_path, tree):
    idle = DaemonProcess(tmp_path / "home")
    write(idle.home / "etc" / "wazuhd.yaml", f"syscheck:\n  directories:\n    - path: {tree}\n")
    first = idle.cli("syscheck", "scan", "--stdout")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "" and "scanned 3 files: 3 added" in first.stderr  # the baseline
    (tree / "a.txt").write_text("changed\n")
    second = idle.cli("syscheck", "scan", "--stdout", "--json")
    assert second.returncode == 0, second.stderr
    [line] = second.stdout.splitlines()
    event = json.loads(line)
    assert (event["type"], event["data"]["type"], event["data"]["path"]) == ("event", "modified", str(tree / "a.txt"))
    assert json.loads(second.stderr)["modified"] == 1
    shown = idle.cli("syscheck", "show", str(tree / "a.txt"), "--json")
    assert json.loads(shown.stdout)["changes"] == 2
    outside = idle.cli("syscheck", "scan", "--stdout", "--dir", "/usr")
    assert outside.returncode == 1 and "not under a monitored directory" in outside.stderr


def test_bad_regular_expressions_are_named():
    with pytest.raises(ValueError, match=r"syscheck.directories\[/srv\]: invalid regular expression '\['"):
        Settings.from_config({"directories": [{"path": "/srv", "restrict": "["}]})
    with pytest.raises(ValueError, match=r"syscheck.ignore: invalid regular expression '\(x'"):
        Settings.from_config({"directories": [], "ignore": [{"sregex": "(x"}]})


async def test_a_directory_new_to_the_configuration_is_recorded_first(tmp_path, tree):
    other = tmp_path / "other"
    write(other / "o.txt", "o\n")
    home = tmp_path / "home"
    monitor, _ = make_monitor(home, [{"path": str(tree)}])
    await monitor.load()
    await monitor.scan()
    (tree / "a.txt").write_text("changed\n")
    grown, sent = make_monitor(home, [{"path": str(tree)}, {"path": str(other)}])
    await grown.load()
    await grown.scan()
    # the known directory reports its change; the new one is recorded, not reported file by file
    assert summary(sent.take()) == [("modified", str(tree / "a.txt"))]
    assert str(other / "o.txt") in rows(grown)
    (other / "o.txt").write_text("now reported\n")
    await grown.scan()
    assert summary(sent.take()) == [("modified", str(other / "o.txt"))]
