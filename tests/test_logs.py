"""Log files: rotation (midnight, size), gzip archives in Wazuh's layout, permissions, masking, formats."""

import gzip
import json
import logging
import os
import re
import stat
import threading
import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wazuhd import logs
from wazuhd.logs import (
    JSONFormatter,
    LogHandler,
    PlainFormatter,
    RotatingFile,
    SecretMaskingFilter,
    configure_logging,
    file_handlers,
    mask_secrets,
)


def local(year, month, day, hour=0, minute=0, second=0):
    return time.mktime((year, month, day, hour, minute, second, 0, 0, -1))


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def rotation_order(path):
    """Sort key for archives of one month: day, then Wazuh's counter ("-22" before "-22-001")."""
    day, counter = re.search(r"-(\d\d)(?:-(\d{3}))?\.\w+\.gz$", path.name).groups()
    return path.parent, int(day), int(counter or 0)


def archived_lines(archive_dir):
    """Every line in every archive, in the order they were written."""
    lines = []
    for path in sorted(archive_dir.rglob("*.gz"), key=rotation_order):
        lines += gzip.decompress(path.read_bytes()).decode().splitlines()
    return lines


@pytest.fixture
def root_logger():
    """Restore the root logger after a test wires handlers onto it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


# --- rotation ---------------------------------------------------------------------------------


def test_rotates_at_local_midnight_into_dated_gzip(tmp_path):
    clock = Clock(local(2026, 11, 22, 23, 59, 59))
    with RotatingFile(tmp_path / "wazuhd.log", clock=clock) as file:
        file.write("before midnight")
        clock.now = local(2026, 11, 23, 0, 0, 1)
        file.write("after midnight")
    archive = tmp_path / "wazuhd" / "2026" / "Nov" / "wazuhd-22.log.gz"
    assert gzip.decompress(archive.read_bytes()) == b"before midnight\n"
    assert (tmp_path / "wazuhd.log").read_text() == "after midnight\n"
    assert not list(archive.parent.glob("*.log")), "the plain rotated file is removed once compressed"


def test_year_end_archive_goes_to_the_old_year_and_month(tmp_path):
    clock = Clock(local(2026, 12, 31, 23, 0))
    with RotatingFile(tmp_path / "wazuhd.json", clock=clock) as file:
        file.write('{"a": 1}')
        clock.now = local(2027, 1, 1, 0, 30)
        file.write('{"a": 2}')
    assert archived_lines(tmp_path / "wazuhd") == ['{"a": 1}']
    assert (tmp_path / "wazuhd" / "2026" / "Dec" / "wazuhd-31.json.gz").exists()


def test_rotate_if_due_archives_a_silent_night(tmp_path):
    clock = Clock(local(2026, 11, 22, 12))
    with RotatingFile(tmp_path / "wazuhd.log", clock=clock) as file:
        file.write("noon")
        file.rotate_if_due()
        assert (tmp_path / "wazuhd.log").read_text() == "noon\n"
        clock.now = local(2026, 11, 23, 0, 0, 5)
        file.rotate_if_due()
    assert archived_lines(tmp_path / "wazuhd") == ["noon"]
    assert (tmp_path / "wazuhd.log").read_text() == ""


def test_rotate_all_due_archives_every_open_file_and_forgets_closed_ones(tmp_path):
    clock = Clock(local(2026, 11, 22, 12))
    daemon_log = RotatingFile(tmp_path / "wazuhd.log", clock=clock)
    alerts = RotatingFile(tmp_path / "alerts" / "alerts.json", clock=clock)
    closed = RotatingFile(tmp_path / "old.log", clock=clock)
    for file in (daemon_log, alerts, closed):
        file.write("before midnight")
    closed.close()
    clock.now = local(2026, 11, 23, 0, 0, 5)
    RotatingFile.rotate_all_due()
    daemon_log.close()
    alerts.close()
    assert archived_lines(tmp_path / "wazuhd") == ["before midnight"]
    assert archived_lines(tmp_path / "alerts" / "alerts") == ["before midnight"]
    assert not (tmp_path / "old").exists()
    assert (tmp_path / "old.log").read_text() == "before midnight\n"


def test_no_midnight_rotation_when_daily_is_off(tmp_path):
    clock = Clock(local(2026, 11, 22, 23))
    with RotatingFile(tmp_path / "wazuhd.log", daily=False, clock=clock) as file:
        file.write("one")
        clock.now = local(2026, 11, 24, 1)
        file.write("two")
    assert (tmp_path / "wazuhd.log").read_text() == "one\ntwo\n"
    assert not (tmp_path / "wazuhd").exists()


def test_empty_file_is_not_archived(tmp_path):
    clock = Clock(local(2026, 11, 22, 23))
    with RotatingFile(tmp_path / "wazuhd.log", clock=clock) as file:
        clock.now = local(2026, 11, 23, 1)
        file.write("first line of the day")
    assert not (tmp_path / "wazuhd").exists()


def test_size_limit_rotates_with_wazuh_counters(tmp_path):
    clock = Clock(local(2026, 11, 22, 10))
    lines = [f"line {i:04d} " + "x" * 20 for i in range(20)]  # 31 bytes each with the newline
    with RotatingFile(tmp_path / "wazuhd.log", max_size=100, clock=clock) as file:
        for line in lines:
            file.write(line)
    folder = tmp_path / "wazuhd" / "2026" / "Nov"
    names = sorted(p.name for p in folder.iterdir())
    assert names[:3] == ["wazuhd-22-001.log.gz", "wazuhd-22-002.log.gz", "wazuhd-22-003.log.gz"]
    assert "wazuhd-22.log.gz" in names and len(names) == 6  # 3 lines (93 bytes) per file, 2 live
    for path in folder.iterdir():
        assert len(gzip.decompress(path.read_bytes())) <= 100
    assert archived_lines(tmp_path / "wazuhd") + (tmp_path / "wazuhd.log").read_text().splitlines() == lines


def test_line_larger_than_limit_is_written_whole(tmp_path):
    with RotatingFile(tmp_path / "wazuhd.log", max_size=10, clock=Clock(local(2026, 11, 22, 10))) as file:
        file.write("a" * 50)
        file.write("b" * 50)
    assert (tmp_path / "wazuhd.log").read_text() == "b" * 50 + "\n"
    assert archived_lines(tmp_path / "wazuhd") == ["a" * 50]


def test_uncompressed_archives_when_compress_is_off(tmp_path):
    clock = Clock(local(2026, 11, 22, 23))
    with RotatingFile(tmp_path / "alerts.log", compress=False, clock=clock) as file:
        file.write("alert block\nsecond line of the same alert")
        clock.now = local(2026, 11, 23, 1)
        file.write("next")
    plain = tmp_path / "alerts" / "2026" / "Nov" / "alerts-22.log"
    assert plain.read_text() == "alert block\nsecond line of the same alert\n"
    assert mode(plain) == 0o640


def test_archive_location_and_name_can_follow_the_alerts_layout(tmp_path):
    clock = Clock(local(2026, 11, 22, 23))
    live = tmp_path / "alerts" / "alerts.json"
    with RotatingFile(live, archive_dir=tmp_path / "alerts", archive_name="ossec-alerts", clock=clock) as file:
        file.write('{"rule": 1}')
        clock.now = local(2026, 11, 23, 1)
        file.write('{"rule": 2}')
    assert (tmp_path / "alerts" / "2026" / "Nov" / "ossec-alerts-22.json.gz").exists()


def test_restart_on_a_later_day_archives_the_old_day(tmp_path):
    path = tmp_path / "wazuhd.log"
    path.write_text("from yesterday\n")
    os.utime(path, (local(2026, 11, 21, 18), local(2026, 11, 21, 18)))
    with RotatingFile(path, clock=Clock(local(2026, 11, 22, 9))) as file:
        file.write("today")
    assert (tmp_path / "wazuhd" / "2026" / "Nov" / "wazuhd-21.log.gz").exists()
    assert path.read_text() == "today\n"


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_permissions_of_live_file_archives_and_folders(tmp_path, umask):
    old = os.umask(umask)
    try:
        clock = Clock(local(2026, 11, 22, 23))
        with RotatingFile(tmp_path / "logs" / "wazuhd.log", clock=clock) as file:
            file.write("one")
            clock.now = local(2026, 11, 23, 1)
            file.write("two")
    finally:
        os.umask(old)
    logs_dir = tmp_path / "logs"
    assert mode(logs_dir / "wazuhd.log") == 0o640
    archives = logs_dir / "wazuhd"
    for folder in (logs_dir, archives, archives / "2026", archives / "2026" / "Nov"):
        assert mode(folder) == 0o750, folder
    assert mode(logs_dir / "wazuhd" / "2026" / "Nov" / "wazuhd-22.log.gz") == 0o640


def test_existing_live_file_gets_0640(tmp_path):
    path = tmp_path / "wazuhd.log"
    path.write_text("")
    path.chmod(0o666)
    RotatingFile(path).close()
    assert mode(path) == 0o640


def test_reopens_after_external_delete_and_move(tmp_path):
    path = tmp_path / "wazuhd.log"
    with RotatingFile(path) as file:
        file.write("one")
        path.unlink()
        file.write("two")
        assert path.read_text() == "two\n"
        path.rename(tmp_path / "moved.log")
        file.write("three")
    assert path.read_text() == "three\n"
    assert mode(path) == 0o640


def test_leftovers_of_a_crash_are_compressed_at_start(tmp_path):
    folder = tmp_path / "wazuhd" / "2026" / "Nov"
    folder.mkdir(parents=True)
    (folder / "wazuhd-20.log").write_text("kept through the crash\n")
    (folder / "wazuhd-20.log.gz.tmp").write_bytes(b"\x1f\x8b half written")
    RotatingFile(tmp_path / "wazuhd.log").close()
    assert sorted(p.name for p in folder.iterdir()) == ["wazuhd-20.log.gz"]
    assert archived_lines(tmp_path / "wazuhd") == ["kept through the crash"]


def test_failed_compression_keeps_the_plain_file(tmp_path, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(logs.shutil, "copyfileobj", broken)
    clock = Clock(local(2026, 11, 22, 23))
    with RotatingFile(tmp_path / "wazuhd.log", clock=clock) as file:
        file.write("precious")
        clock.now = local(2026, 11, 23, 1)
        file.write("next")
    folder = tmp_path / "wazuhd" / "2026" / "Nov"
    assert sorted(p.name for p in folder.iterdir()) == ["wazuhd-22.log"]
    assert (folder / "wazuhd-22.log").read_text() == "precious\n"
    assert "could not compress" in caplog.text


def test_rotation_failure_keeps_writing_to_the_live_file(tmp_path, capsys):
    (tmp_path / "wazuhd").write_text("a file where the archive folder should be")
    with RotatingFile(tmp_path / "wazuhd.log", max_size=10) as file:
        for i in range(5):
            file.write(f"line number {i}")
    assert (tmp_path / "wazuhd.log").read_text().splitlines() == [f"line number {i}" for i in range(5)]
    assert capsys.readouterr().err.count("cannot rotate") == 1  # then retried only after 60 s


def test_write_after_close_is_refused(tmp_path):
    file = RotatingFile(tmp_path / "wazuhd.log")
    file.close()
    file.close()
    with pytest.raises(ValueError):
        file.write("late")


def test_no_line_lost_under_concurrent_writers_during_rotation(tmp_path):
    clock = Clock(local(2026, 11, 22, 23, 59))
    threads_n, lines_n = 8, 1500
    file = RotatingFile(tmp_path / "wazuhd.log", max_size=8192, clock=clock)
    start = threading.Barrier(threads_n)

    def writer(n):
        start.wait()
        for i in range(lines_n):
            file.write(f"thread {n} line {i} " + "p" * (i % 50))
            if n == 0 and i == lines_n // 2:
                clock.now = local(2026, 11, 23, 0, 0, 1)  # midnight falls mid-run

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    file.close()
    written = archived_lines(tmp_path / "wazuhd") + (tmp_path / "wazuhd.log").read_text().splitlines()
    expected = [f"thread {n} line {i} " + "p" * (i % 50) for n in range(threads_n) for i in range(lines_n)]
    assert len(written) == len(expected)
    assert sorted(written) == sorted(expected)
    folder = tmp_path / "wazuhd" / "2026" / "Nov"
    assert (folder / "wazuhd-22.log.gz").exists() and (folder / "wazuhd-23.log.gz").exists()
    assert not list(folder.glob("*.log")) and not list(folder.glob("*.tmp"))
    for n in range(threads_n):  # each thread's own lines keep their order across files
        mine = [int(line.split()[3]) for line in written if line.startswith(f"thread {n} ")]
        assert mine == list(range(lines_n))


# --- formatters and handler -------------------------------------------------------------------


def record(name="wazuhd.sockets", level=logging.INFO, msg="listening on %s", args=("queue",), exc_info=None):
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


def test_plain_format_like_ossec_log():
    line = PlainFormatter().format(record())
    stamp = r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d"
    assert re.fullmatch(rf"{stamp} wazuhd\[{os.getpid()}\] sockets: INFO: listening on queue", line)
    top = PlainFormatter().format(record(name="wazuhd", level=logging.WARNING, msg="started", args=()))
    assert re.search(rf" wazuhd\[{os.getpid()}\]: WARNING: started$", top)


def test_json_format_like_ossec_json():
    rec = record(name="wazuhd_aws.s3", level=logging.ERROR, msg="bad ü", args=())
    entry = json.loads(JSONFormatter().format(rec))
    assert entry == {
        "timestamp": entry["timestamp"],
        "tag": "wazuhd:wazuhd_aws.s3",
        "level": "error",
        "description": "bad ü",
    }
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d", entry["timestamp"])


def test_handler_writes_one_valid_json_object_per_line_with_tracebacks(tmp_path):
    handler = LogHandler(RotatingFile(tmp_path / "wazuhd.json"), JSONFormatter())
    logger = logging.getLogger("wazuhd.test_json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("multi\nline")
        try:
            raise RuntimeError("password=hunter2")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()
    lines = (tmp_path / "wazuhd.json").read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["description"] == "multi\nline" and first["tag"] == "wazuhd:test_json"
    assert "Traceback" in second["description"] and "RuntimeError: password=****" in second["description"]
    assert "hunter2" not in (tmp_path / "wazuhd.json").read_text()


def test_handler_masks_messages_and_structured_args(tmp_path):
    handler = LogHandler(RotatingFile(tmp_path / "wazuhd.log"))
    handler.handle(record(msg="config %s", args=({"user": "a", "backends": [{"client_secret": "s3cr3t!"}]},)))
    handler.handle(record(msg="connecting with password=%s", args=("hunter2",)))
    handler.close()
    text = (tmp_path / "wazuhd.log").read_text()
    assert "s3cr3t!" not in text and "hunter2" not in text
    assert "'client_secret': '****'" in text and "password=****" in text and "'user': 'a'" in text


# --- masking ----------------------------------------------------------------------------------

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT = "eyJhbGciOiJFUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ3YXp1aCIsInJiYWNfcm9sZXMiOlsxXX0.AbC-dEf_123"

MASKED = [
    ("password=hunter2 user=bob", "password=**** user=bob"),
    ("login with passwd: hunter2", "login with passwd: ****"),
    ('{"password": "hunter2", "user": "bob"}', '{"password": "****", "user": "bob"}'),
    ("{'secret': 'x y z', 'n': 1}", "{'secret': '****', 'n': 1}"),
    ('{"token": 123456}', '{"token": ****}'),
    ('{"api_key": "k1", "client_secret": "c2", "account_key": "a3", "sas": "s4", "key": "k5"}',
     '{"api_key": "****", "client_secret": "****", "account_key": "****", "sas": "****", "key": "****"}'),
    ('body "{\\"client_secret\\": \\"abc\\"}"', 'body "{\\"client_secret\\": \\"****\\"}"'),
    ("GET /x?access_token=abc123&limit=5", "GET /x?access_token=****&limit=5"),
    ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ****"),
    ("authorization=Bearer abc.def.ghi", "authorization=Bearer ****"),
    ("{'Authorization': 'Bearer abcdefghijkl'}", "{'Authorization': 'Bearer ****'}"),
    ("sent Bearer abcdefghijkl1234 upstream", "sent Bearer **** upstream"),
    (f"token {JWT} rejected", "token **** rejected"),
    (f"jwt={JWT}", "jwt=****"),
    ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9v+YmFy/MTIz==;EndpointSuffix=core.windows.net",
     "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=****;EndpointSuffix=core.windows.net"),
    ("https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sig=Ab%2Bcd%3D&se=2026",
     "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sig=****&se=2026"),
    ("SharedAccessSignature=sv=2022-11-02&sig=Ab%2Bcd%3D;BlobEndpoint=https://a.blob.core.windows.net",
     "SharedAccessSignature=****&sig=****;BlobEndpoint=https://a.blob.core.windows.net"),
    (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = ****"),
    (f"SecretAccessKey {AWS_SECRET} in profile", "SecretAccessKey **** in profile"),
    (f'"SecretAccessKey": "{AWS_SECRET}"', '"SecretAccessKey": "****"'),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\nnext",
     "-----BEGIN RSA PRIVATE KEY-----****-----END RSA PRIVATE KEY-----\nnext"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEow (cut", "-----BEGIN PRIVATE KEY-----****"),
    ("proxy https://user:pa55@proxy:3128/", "proxy https://user:****@proxy:3128/"),
    ("wazuhd-aws --secret-key abc123 --bucket b", "wazuhd-aws --secret-key **** --bucket b"),
]


@pytest.mark.parametrize("text, expected", MASKED)
def test_masks_each_secret_form(text, expected):
    assert mask_secrets(text) == expected
    assert mask_secrets(expected) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Agent 001 (web01) connected from 10.0.0.5",
        "keyboard monkey business; token bucket refilled; signal 15 received",
        "Password policy updated for 3 users",
        "Rule 5710: sshd: Attempt to login using a non-existent user",
        '{"agent": {"id": "001", "name": "web"}, "rule": {"level": 5}}',
        "sha256 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0 matched",
        "https://example.com/path?limit=10&offset=0",
        "2026/11/26 16:21:11 wazuhd[42] sockets: INFO: ready",
    ],
)
def test_normal_text_is_untouched(text):
    assert mask_secrets(text) == text


def test_mask_secrets_on_structures_returns_a_masked_copy():
    body = {
        "user": "admin",
        "password": "hunter2",
        "nested": [{"AccountKey": {"any": "shape"}}, ("x?sig=abc", 1)],
        "headers": {"Authorization": "Basic abc", "Cookie": "session=1"},
        "key": None,
        "count": 3,
    }
    masked = mask_secrets(body)
    assert masked == {
        "user": "admin",
        "password": "****",
        "nested": [{"AccountKey": "****"}, ("x?sig=****", 1)],
        "headers": {"Authorization": "****", "Cookie": "****"},
        "key": None,
        "count": 3,
    }
    assert body["password"] == "hunter2", "the original is not modified"


def test_masking_is_linear_on_huge_lines():
    blob = "a" * 500_000 + " password=x " + "b1-" * 200_000
    started = time.perf_counter()
    assert "password=****" in mask_secrets(blob)
    assert time.perf_counter() - started < 2


secret_strategy = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/_.!%", min_size=6, max_size=40
)
noise = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(prefix=noise, suffix=noise, secret=secret_strategy,
       name=st.sampled_from(["password", "api_key", "client_secret", "token", "AccountKey", "sig"]),
       form=st.sampled_from(["{n}={s}", '"{n}": "{s}"', "'{n}': '{s}'", "{n}: {s}"]))
def test_a_named_secret_never_survives_whatever_surrounds_it(prefix, suffix, secret, name, form):
    # (a "secret" that is part of the key name itself, like "passwo", is not a leak)
    assume(secret not in prefix and secret not in suffix and secret not in form.format(n=name, s=""))
    assert secret not in mask_secrets(f"{prefix} {form.format(n=name, s=secret)} {suffix}")


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(body=json_values, secret=secret_strategy, key=st.sampled_from(["password", "client_secret", "AccountKey"]),
       path=st.lists(st.sampled_from(["list", "dict"]), max_size=4))
def test_a_secret_under_a_secret_key_never_survives_in_a_body(body, secret, key, path):
    assume(secret not in json.dumps(body))
    obj = {"body": body, key: secret}
    for step in path:
        obj = [obj] if step == "list" else {"wrapper": obj}
    assert secret not in json.dumps(mask_secrets(obj))


def test_filter_masks_record_in_place_once():
    rec = record(msg="user %s password=%s", args=("bob", "hunter2"))
    SecretMaskingFilter().filter(rec)
    assert rec.getMessage() == "user bob password=****"
    assert SecretMaskingFilter().filter(rec) and rec.getMessage() == "user bob password=****"


# --- configure_logging ------------------------------------------------------------------------


def test_configure_logging_writes_plain_and_json_without_duplicates(tmp_path, root_logger):
    configure_logging(tmp_path, formats=("plain", "json"))
    handlers = configure_logging(tmp_path, formats=("plain", "json"), level="debug")
    assert len(handlers) == 2 and all(h in root_logger.handlers for h in handlers)
    logging.getLogger("wazuhd.daemon").debug("started token=%s", "abc")
    plain = (tmp_path / "wazuhd.log").read_text().splitlines()
    assert len(plain) == 1 and plain[0].endswith("daemon: DEBUG: started token=****")
    entry = json.loads((tmp_path / "wazuhd.json").read_text())
    assert entry["tag"] == "wazuhd:daemon" and entry["level"] == "debug"
    assert mode(tmp_path / "wazuhd.log") == mode(tmp_path / "wazuhd.json") == 0o640


def test_configure_logging_level_and_stderr(tmp_path, root_logger, capsys):
    handlers = configure_logging(tmp_path, level="warning", also_stderr=True)
    logging.getLogger("wazuhd.x").info("hidden")
    logging.getLogger("wazuhd.x").warning("shown password=%s", "p")
    assert (tmp_path / "wazuhd.log").read_text().count("\n") == 1
    assert "x: WARNING: shown password=****" in capsys.readouterr().err
    for handler in handlers:
        root_logger.removeHandler(handler)
        handler.close()


def test_configure_logging_rejects_bad_values_before_touching_handlers(tmp_path, root_logger):
    before = configure_logging(tmp_path)
    with pytest.raises(ValueError, match="xml"):
        configure_logging(tmp_path, formats=("plain", "xml"))
    with pytest.raises(ValueError, match="loud"):
        configure_logging(tmp_path, level="loud")
    assert all(h in root_logger.handlers for h in before)


def test_file_handlers_for_another_log(tmp_path):
    handlers = file_handlers(tmp_path, "api", formats=("plain", "json"), tag="wazuhd-api")
    logger = logging.getLogger("wazuhd_http.access.test")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    for handler in handlers:
        logger.addHandler(handler)
    try:
        logger.info('admin 127.0.0.1 "POST /security/user/authenticate" body %s', {"password": "x"})
    finally:
        logger.propagate = True
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
    assert "wazuhd-api[" in (tmp_path / "api.log").read_text()
    assert "'password': '****'" in json.loads((tmp_path / "api.json").read_text())["description"]


def test_write_lines_batches_and_still_rotates_at_the_size_limit(tmp_path):
    clock = Clock(local(2026, 11, 22, 10))
    with RotatingFile(tmp_path / "alerts.json", max_size=100, clock=clock) as file:
        file.write_lines(["a" * 30, "b" * 30])  # 62 bytes: one write, no rotation
        file.write_lines(["c" * 30, "d" * 30, "e" * 30])  # crosses 100: rotates inside
    archived = archived_lines(tmp_path / "alerts")
    live = (tmp_path / "alerts.json").read_text().splitlines()
    assert archived + live == ["a" * 30, "b" * 30, "c" * 30, "d" * 30, "e" * 30]
    assert all(path.stat().st_size <= 100 for path in [tmp_path / "alerts.json"])
    assert archived[:3] == ["a" * 30, "b" * 30, "c" * 30]
