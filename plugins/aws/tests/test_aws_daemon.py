"""The AWS plugin in a real daemon and from the command line, against a real moto server."""

from __future__ import annotations

import json
import subprocess

import pytest

from aws_helpers import (CREDENTIALS, cloudtrail_key, cloudtrail_object, cloudtrail_record,
                         console_login, days_ago, moto, new_bucket, only_logs_after, put)

from wazuhd.cli import main
from wazuhd.testing import DaemonProcess, wait_for, wazuhd_command

__all__ = ["moto"]


def alerts(home) -> list[dict]:
    path = home / "logs" / "alerts" / "alerts.json"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(wazuhd_command("aws", *args), capture_output=True, text=True,
                          timeout=60, env=env)


def test_standalone_twice_with_state_prints_nothing_new(moto, tmp_path):
    bucket = new_bucket(moto)
    when = days_ago(1)
    for hour in (1, 2):
        put(moto, bucket, cloudtrail_key(when.replace(hour=hour)), cloudtrail_object(
            [cloudtrail_record("RunInstances", when=when), console_login(when, success=False)]))
    args = ["s3", "--bucket", bucket, "--type", "cloudtrail", "--service-endpoint", moto.endpoint,
            "--only-logs-after", only_logs_after(when), "--regions", "us-east-1",
            "--state", str(tmp_path / "state.json"), "--stdout"]
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 4
    assert [json.loads(line)["aws"]["eventName"] for line in lines] == [
        "RunInstances", "ConsoleLogin"] * 2
    assert f"aws-s3:{bucket}:cloudtrail: 4 events, 2 listed, 2 objects, 0 skipped" in first.stderr
    second = cli(*args)
    assert second.returncode == 0 and second.stdout == ""
    assert "0 events" in second.stderr
    reparsed = cli(*args, "--reparse")
    assert len(reparsed.stdout.splitlines()) == 4


def test_standalone_errors_are_one_clear_line(moto, tmp_path, capsys):
    """Through the command's entry point in-process (the console script calls the same)."""
    def run(*args: str) -> tuple[int, str]:
        try:
            code = main(["aws", *args])
        except SystemExit as exit_:  # argparse's refusals
            code = exit_.code
        return code, capsys.readouterr().err

    code, err = run("s3", "--bucket", "no-such-bucket-here", "--type", "cloudtrail",
                    "--service-endpoint", moto.endpoint, "--stdout",
                    "--state", str(tmp_path / "s.json"))
    assert code == 1
    assert "s3://no-such-bucket-here/AWSLogs/: cannot list (NoSuchBucket:" in err
    assert "Traceback" not in err
    code, err = run("s3", "--bucket", "b", "--type", "cloudtrail", "--only-logs-after", "soon",
                    "--stdout")
    assert code == 2 and "invalid date 'soon'" in err
    code, err = run("s3", "--bucket", "b", "--type", "nope", "--stdout")
    assert code == 2 and "invalid choice: 'nope'" in err
    code, err = run("cloudwatch", "--aws-log-groups", "/nope", "--service-endpoint", moto.endpoint,
                    "--stdout", "--state", str(tmp_path / "c.json"))
    assert code == 1 and "no log group '/nope'" in err


def test_daemon_reads_buckets_into_alerts_and_counts_per_source(moto, tmp_path):
    bucket = new_bucket(moto)
    when = days_ago(1)
    put(moto, bucket, cloudtrail_key(when.replace(hour=1)), cloudtrail_object(
        [console_login(when, success=False),
         cloudtrail_record("AuthorizeSecurityGroupIngress", when=when)]))
    config = f"""plugins:
  disabled: [http]
aws:
  interval: 1
  buckets:
    - name: {bucket}
      type: cloudtrail
      only_logs_after: {only_logs_after(when)}
      service_endpoint: {moto.endpoint}
    - name: no-such-bucket-here
      type: cloudtrail
      service_endpoint: {moto.endpoint}
"""
    daemon = DaemonProcess(tmp_path / "home", env=CREDENTIALS, config=config).start()
    try:
        assert wait_for(lambda: len(alerts(daemon.home)) >= 2, timeout=30), daemon.output()
        written = alerts(daemon.home)
        assert sorted(a["rule"]["id"] for a in written) == ["191021", "191040"]
        login = next(a for a in written if a["rule"]["id"] == "191021")
        assert login["location"] == "Wazuh-AWS"
        assert login["data"]["aws"]["log_info"]["s3bucket"] == bucket
        assert login["decoder"]["name"] == "wazuhd-json"

        def counters():
            return daemon.counters("aws")
        failing = "aws-s3:no-such-bucket-here:cloudtrail"
        assert wait_for(lambda: counters()[failing]["errors"] >= 1, timeout=20)
        status = counters()
        good = status[f"aws-s3:{bucket}:cloudtrail"]
        assert good["events"] == 2 and good["objects"] == 1 and good["errors"] == 0
        assert "cannot list (NoSuchBucket:" in status[failing]["last_error"]
        shown = daemon.cli("status").stdout
        assert f"aws-s3:{bucket}:cloudtrail" in shown and "NoSuchBucket" in shown

        # Stop, add an object, start again: only the new object's events arrive.
        code, *_ = daemon.terminate()
        assert code == 0
        put(moto, bucket, cloudtrail_key(when.replace(hour=2)), cloudtrail_object(
            [cloudtrail_record("StopLogging", when=when, source="cloudtrail.amazonaws.com")]))
        daemon.start()
        assert wait_for(lambda: len(alerts(daemon.home)) >= 3, timeout=30), daemon.output()
        assert wait_for(lambda: counters()[f"aws-s3:{bucket}:cloudtrail"]["runs"] >= 2, timeout=20)
        assert sorted(a["rule"]["id"] for a in alerts(daemon.home)) == ["191021", "191040",
                                                                         "191050"]
    finally:
        daemon.kill()


def test_standalone_sends_to_a_running_daemon(moto, tmp_path):
    bucket = new_bucket(moto)
    when = days_ago(1)
    put(moto, bucket, cloudtrail_key(when), cloudtrail_object([console_login(when, success=False)]))
    daemon = DaemonProcess(tmp_path / "home", env=CREDENTIALS,
                           config="plugins:\n  disabled: [http]\n").start()
    try:
        sent = daemon.cli("aws", "s3", "--bucket", bucket, "--type", "cloudtrail",
                          "--service-endpoint", moto.endpoint,
                          "--only-logs-after", only_logs_after(when))
        assert sent.returncode == 0, sent.stderr
        assert wait_for(lambda: alerts(daemon.home), timeout=20)
        assert [a["rule"]["id"] for a in alerts(daemon.home)] == ["191021"]
        # Checkpoints went to the daemon's store: a second run sends nothing.
        again = daemon.cli("aws", "s3", "--bucket", bucket, "--type", "cloudtrail",
                           "--service-endpoint", moto.endpoint,
                           "--only-logs-after", only_logs_after(when))
        assert again.returncode == 0 and ": 0 events" in again.stderr
    finally:
        daemon.kill()


def test_a_bad_aws_section_stops_the_start_with_where_and_why(tmp_path):
    config = ("aws:\n  buckets:\n    - name: my-trail\n      type: cloudtrail\n"
              "      discard_field: eventSource\n")
    with pytest.raises(AssertionError, match=r"aws\.buckets\[0\]: 'discard_regex' is a "
                                             r"dependency of 'discard_field'"):
        DaemonProcess(tmp_path / "home", config=config).start()
