"""Engines no real one can be made to be (too old, refusing the stream, sending garbage):
a clear message naming the engine, retries, and nothing sent twice. No dockerd needed."""

from __future__ import annotations

import json
import logging
import time

import pytest

from docker_helpers import Listener, OddEngine
from wazuhd.collect import CollectError
from wazuhd_docker.engine import TlsSettings
from wazuhd_docker.listener import NS


@pytest.fixture
def odd_engines():
    engines = []
    yield lambda **kwargs: engines.append(OddEngine(**kwargs)) or engines[-1]
    for odd in engines:
        odd.close()


def for_a_second(odd: OddEngine, tmp_path) -> Listener:
    return Listener(odd.url, tmp_path / "state.json", name=odd.url,
                    until_nano=time.time_ns() + NS)


def logged(caplog, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


async def test_an_engine_too_old_is_refused_by_name(odd_engines, tmp_path, caplog):
    caplog.set_level(logging.INFO, "wazuhd.docker")
    odd = odd_engines(api_version="1.30")
    listener = for_a_second(odd, tmp_path)
    with pytest.raises(CollectError, match=f"docker engine {odd.url} speaks Engine API 1.30 "
                                           r"\(Docker odd\); wazuhd needs API 1.41 or newer"):
        await listener.source.collect(listener.run)
    assert odd.event_requests == 0
    assert listener.stats.errors >= 3  # retried all along
    assert logged(caplog, "speaks Engine API 1.30") == 1


async def test_an_engine_that_refuses_the_event_stream_is_named_and_retried(odd_engines, tmp_path,
                                                                           caplog):
    caplog.set_level(logging.INFO, "wazuhd.docker")
    odd = odd_engines(events_error="events are unavailable right now")
    listener = for_a_second(odd, tmp_path)
    with pytest.raises(CollectError, match="events are unavailable right now"):
        await listener.source.collect(listener.run)
    assert odd.event_requests >= 3
    assert logged(caplog, f"docker engine {odd.url}: cannot follow events: ") == 1
    assert logged(caplog, "connected") == 0


async def test_malformed_events_are_skipped_by_name_and_replays_are_not_sent_again(
        odd_engines, tmp_path, caplog):
    good = [{"status": "start", "id": f"c{i}", "Type": "container", "Action": "start",
             "Actor": {"ID": f"c{i}", "Attributes": {"name": f"n{i}"}}, "scope": "local",
             "time": 1767225600, "timeNano": 1767225600_000000000 + i} for i in (1, 2)]
    odd = odd_engines(lines=[json.dumps(good[0]).encode(), b'{"Action": "start", "timeNa',
                             b"[1, 2]", json.dumps(good[1]).encode()])
    listener = for_a_second(odd, tmp_path)
    await listener.source.collect(listener.run)
    assert odd.event_requests >= 2  # the stream ended and was asked again, since the last event
    assert [r["docker"] for r in listener.sink.records] == good
    assert listener.stats.extra["malformed"] == 2 * odd.event_requests
    assert listener.stats.extra["reconnects"] == odd.event_requests - 1
    assert logged(caplog, f"docker engine {odd.url}: malformed event skipped (not JSON") >= 1
    assert logged(caplog, "malformed event skipped (not a JSON object): [1, 2]") >= 1
    assert listener.stats.last_error.startswith(f"docker engine {odd.url}: malformed event")


async def test_missing_tls_files_are_named_before_any_connection(tmp_path):
    missing = str(tmp_path / "absent-cert.pem")
    listener = Listener("tcp://127.0.0.1:2376", tmp_path / "state.json", name="remote",
                        tls=TlsSettings(enabled=True, client_cert=missing, client_key=missing),
                        until_nano=time.time_ns() + NS // 2)
    with pytest.raises(CollectError, match=r"^docker engine remote \(tcp://127.0.0.1:2376\): "
                                           r"TLS settings: Path to a certificate and key files"):
        await listener.source.collect(listener.run)
