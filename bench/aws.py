"""AWS plugin benchmark: CloudTrail records per second from a moto bucket.

    .venv/bin/python bench/aws.py [--objects 2000] [--records 50]

Fills a bucket of a real ``moto_server`` with gzip CloudTrail objects (``--records``
records each, spread over three days) and prints records/s for:

1. parsing alone (gunzip, JSON, Wazuh's reshaping, event JSON) on the objects' bytes;
2. the S3 source in-process: list, get (a few objects at once), parse, hand over in key
   order and commit a checkpoint per object, into a memory sink;
3. end to end into a running daemon: ``wazuhd aws s3 --home`` sending to the daemon's
   queue socket (datagrams; waits when the daemon's buffer is full), and how long the
   daemon's analysis engine then takes to have received all of them.

moto answers from one Python process: its latency is part of figures 2 and 3 (a real S3
endpoint answers each GET in ~10-30 ms, which the parallel fetches hide).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "aws" / "tests"))

from aws_helpers import (CREDENTIALS, MotoServer, ListSink, cloudtrail_key,  # noqa: E402
                         cloudtrail_object, cloudtrail_record, days_ago, only_logs_after,
                         run_source)
from wazuhd.testing import DaemonProcess, wait_for, wazuhd_command  # noqa: E402
from wazuhd_aws import formats  # noqa: E402
from wazuhd_aws.buckets import BucketOptions, S3Source  # noqa: E402
from wazuhd_aws.session import Access  # noqa: E402


def fill(moto: MotoServer, bucket: str, objects: int, records: int) -> list[bytes]:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=bucket)
    bodies = []
    jobs = []
    for n in range(objects):
        when = days_ago(3 - n * 3 // objects, hour=(n * 24 // max(1, objects // 3)) % 24)
        body = cloudtrail_object([cloudtrail_record(
            ("DescribeInstances", "ConsoleLogin", "RunInstances", "GetObject")[i % 4], when=when)
            for i in range(records)])
        bodies.append(body)
        jobs.append((cloudtrail_key(when, n), body))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda job: s3.put_object(Bucket=bucket, Key=job[0], Body=job[1]), jobs))
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--records", type=int, default=50)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    total = args.objects * args.records
    moto = MotoServer()
    try:
        bucket = "bench-cloudtrail"
        began = time.perf_counter()
        bodies = fill(moto, bucket, args.objects, args.records)
        print(f"bucket filled: {args.objects} objects x {args.records} records = {total} records "
              f"({sum(map(len, bodies)) / 1e6:.1f} MB gzip) in {time.perf_counter() - began:.1f} s")

        source = S3Source(BucketOptions(name=bucket, type="cloudtrail"))
        began = time.perf_counter()
        shaped = sum(len(source.shape(formats.parse("cloudtrail", body, "k"), "k")[0])
                     for body in bodies)
        seconds = time.perf_counter() - began
        print(f"1. parse + shape only:        {shaped / seconds:>9,.0f} records/s "
              f"({seconds:.2f} s)")

        since = only_logs_after(days_ago(4))
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            out = run_source(S3Source(BucketOptions(
                name=bucket, type="cloudtrail", only_logs_after=since,
                access=Access(service_endpoint=moto.endpoint))), Path(tmp) / "state.json",
                ListSink())
            seconds = time.perf_counter() - began
            assert out.error is None and len(out.sink.events) == total, (out.error, len(out.sink.events))
            print(f"2. S3 source -> memory sink:  {total / seconds:>9,.0f} records/s "
                  f"({seconds:.2f} s, {args.objects / seconds:,.0f} objects/s)")

            daemon = DaemonProcess(Path(tmp) / "home", env=CREDENTIALS,
                                   config="plugins:\n  disabled: [http]\n").start()
            try:
                began = time.perf_counter()
                sent = subprocess.run(
                    wazuhd_command("aws", "s3", "--bucket", bucket, "--type", "cloudtrail",
                                   "--service-endpoint", moto.endpoint, "--only-logs-after", since,
                                   "--home", str(daemon.home)),
                    capture_output=True, text=True, env={**os.environ, **CREDENTIALS})
                seconds = time.perf_counter() - began
                assert sent.returncode == 0, sent.stderr
                print(f"3. wazuhd aws s3 --home:      {total / seconds:>9,.0f} records/s "
                      f"into the daemon's queue ({seconds:.2f} s, process start included)")

                def received():
                    return daemon.counters("analysis")["received"]
                wait_for(lambda: received() >= total, timeout=600)
                seconds = time.perf_counter() - began
                print(f"   analysed by the daemon:    {received() / seconds:>9,.0f} records/s "
                      f"({received()} events in {seconds:.2f} s from the start of the run)")
            finally:
                daemon.terminate()
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
              f"({os.cpu_count()} CPUs)")
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
