"""The events source in-process against a real Docker engine: order, restarts, the Wazuh rules."""

from __future__ import annotations

import glob
import json
import os
import threading
import time

import pytest
import trio

from docker_helpers import DockerEngine, Listener, actions_of, engine_fixture, keys_of
from wazuhd.testing import shared_dir
from wazuhd_docker.listener import LOCATION, POSITION_KEY


@pytest.fixture(scope="module")
def engine(request, tmp_path_factory) -> DockerEngine:
    return engine_fixture(request, tmp_path_factory)


async def call(function, *args, **kwargs):
    """A blocking docker call, off the trio loop."""
    return await trio.to_thread.run_sync(lambda: function(*args, **kwargs))


def destroyed(container_ids: set[str]):
    """A predicate: the destroy event of every one of these containers was sent."""
    def check(records):
        return container_ids <= {r["docker"]["Actor"]["ID"] for r in records
                                 if r["docker"]["Action"] == "destroy"}
    return check


async def test_lifecycle_events_arrive_in_order_as_wazuh_sends_them(engine, tmp_path):
    listener = Listener(engine.url, tmp_path / "state.json")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(listener.source.collect, listener.run)
        await listener.wait_for(lambda _: listener.stats.state == "connected")
        container = await call(engine.lifecycle, "lifecycle-web")
        await listener.wait_for(destroyed({container}))
        nursery.cancel_scope.cancel()
    actions = actions_of(listener.sink.records, container)
    expected = ["create", "start", "exec_create: sh -c true", "exec_start: sh -c true",
                "stop", "destroy"]
    assert [a for a in actions if a in expected] == expected, actions
    event = listener.sink.events[0]
    assert (event.queue, event.location) == ("1", LOCATION)
    created = listener.sink.records[actions.index("create")]
    assert set(created) == {"integration", "docker"} and created["integration"] == "docker"
    assert created["docker"]["Actor"]["Attributes"]["name"] == "lifecycle-web"
    assert created["docker"]["from"] == "tiny:1" and created["docker"]["Type"] == "container"
    # The checkpoint is the newest event sent.
    newest = max(r["docker"]["timeNano"] for r in listener.sink.records)
    position = await listener.checkpoints.load("docker:test", POSITION_KEY)
    assert position["time_nano"] == newest
    assert listener.stats.events == len(listener.sink.records)


async def test_concurrent_changes_arrive_exactly_as_the_engine_published_them(engine, tmp_path):
    """Containers changing on several threads: the engine stamps events before publishing
    them, so a stream is not strictly in time order; none may be dropped for that."""
    listener = Listener(engine.url, tmp_path / "state.json")
    witness = engine.client.events(decode=True)  # an independent subscriber, the plain SDK
    published = []
    reader = threading.Thread(target=lambda: published.extend(witness), daemon=True)
    reader.start()

    def burst():
        workers = [threading.Thread(target=lambda n=n: [engine.lifecycle(f"burst-{n}-{i}")
                                                        for i in range(2)]) for n in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(listener.source.collect, listener.run)
        await listener.wait_for(lambda _: listener.stats.state == "connected")
        began = len(published)
        await trio.to_thread.run_sync(burst)
        await trio.sleep(0.5)
        witness.close()
        await trio.to_thread.run_sync(reader.join)
        expected = published[began:]
        await listener.wait_for(lambda records: len(records) >= len(expected))
        nursery.cancel_scope.cancel()
    assert len(expected) >= 6 * 6
    # Each subscriber may see concurrent events in its own order; the same events, once.
    sent = sorted(json.dumps(r["docker"], sort_keys=True) for r in listener.sink.records)
    assert sent == sorted(json.dumps(e, sort_keys=True) for e in expected)


async def test_filters_are_the_engines(engine, tmp_path):
    listener = Listener(engine.url, tmp_path / "state.json",
                        filters={"type": ["container"], "event": ["start", "destroy"]})
    async with trio.open_nursery() as nursery:
        nursery.start_soon(listener.source.collect, listener.run)
        await listener.wait_for(lambda _: listener.stats.state == "connected")
        container = await call(engine.lifecycle, "filtered")
        await listener.wait_for(destroyed({container}))
        nursery.cancel_scope.cancel()
    assert {r["docker"]["Action"] for r in listener.sink.records} == {"start", "destroy"}


async def test_engine_restart_loses_nothing_and_sends_nothing_twice(engine, tmp_path):
    """The engine restarts mid-stream; while it is back but the listener has not yet
    reconnected, a container lives and dies: its events come after the reconnect, once."""
    link = tmp_path / "engine.sock"  # the listener's way to the engine, cut at will
    os.symlink(engine.socket, link)
    listener = Listener(f"unix://{link}", tmp_path / "state.json")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(listener.source.collect, listener.run)
        await listener.wait_for(lambda _: listener.stats.state == "connected")
        before = await call(engine.lifecycle, "before-restart")
        await listener.wait_for(destroyed({before}))
        os.unlink(link)
        await call(engine.restart)
        await listener.wait_for(lambda _: listener.stats.state == "unreachable")
        began = time.time()
        during = await call(engine.lifecycle, "while-away")
        assert listener.stats.state == "unreachable"
        os.symlink(engine.socket, link)
        await listener.wait_for(destroyed({during}))
        after = await call(engine.lifecycle, "after-reconnect")
        await listener.wait_for(destroyed({after}))
        nursery.cancel_scope.cancel()
    records = listener.sink.records
    keys = keys_of(records)
    assert len(keys) == len(set(keys)), "an event was sent twice"
    for container in (before, during, after):
        actions = actions_of(records, container)
        assert actions.count("create") == actions.count("destroy") == 1, actions
    # Everything the restarted engine reports for the time the listener was away was sent.
    truth = await call(engine.events, began - 1, time.time(), type="container")
    assert truth and {(e["timeNano"], e["Action"], e["Actor"]["ID"]) for e in truth} <= {
        (k[0], k[2], k[3]) for k in keys}
    assert listener.stats.extra["reconnects"] >= 1 and listener.stats.errors >= 1
    assert "no engine socket there" in listener.stats.last_error


async def test_a_new_run_resumes_from_the_checkpoint(engine, tmp_path):
    state = tmp_path / "state.json"
    first = Listener(engine.url, state)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(first.source.collect, first.run)
        await first.wait_for(lambda _: first.stats.state == "connected")
        seen = await call(engine.lifecycle, "first-run")
        await first.wait_for(destroyed({seen}))
        nursery.cancel_scope.cancel()
    missed = await call(engine.lifecycle, "between-runs")
    second = Listener(engine.url, state)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(second.source.collect, second.run)
        await second.wait_for(destroyed({missed}))
        nursery.cancel_scope.cancel()
    assert actions_of(second.sink.records, seen) == []
    assert actions_of(second.sink.records, missed).count("create") == 1


RULESET = shared_dir() / "wazuh-ruleset"


@pytest.mark.skipif(not (RULESET / "rules").is_dir(), reason=f"Wazuh ruleset not found at {RULESET}")
async def test_wazuh_docker_rules_fire_with_the_container_name(engine, tmp_path):
    from wazuhd_analysis.engine import Engine, Ruleset

    listener = Listener(engine.url, tmp_path / "state.json")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(listener.source.collect, listener.run)
        await listener.wait_for(lambda _: listener.stats.state == "connected")
        container = await call(engine.lifecycle, "rules-web")
        await listener.wait_for(destroyed({container}))
        nursery.cancel_scope.cancel()
    lists = sorted(p for p in glob.glob(str(RULESET / "lists" / "**" / "*"), recursive=True)
                   if os.path.isfile(p) and not p.endswith((".cdb", ".md")))
    analysis = Engine(Ruleset.load(decoder_dirs=[str(RULESET / "decoders")],
                                   rule_dirs=[str(RULESET / "rules")], list_files=lists))
    alerts = {}
    for event in listener.sink.events:
        result = analysis.process(event.message, event.location)
        if result.alert is not None:
            alerts.setdefault(result.alert["rule"]["id"], result.alert)
    for rule, verb in (("87901", "created"), ("87903", "started"), ("87904", "stopped"),
                       ("87902", "destroyed")):
        assert rule in alerts, sorted(alerts)
        assert alerts[rule]["rule"]["description"] == f"Docker: Container rules-web {verb}"
        assert alerts[rule]["data"]["docker"]["Actor"]["Attributes"]["name"] == "rules-web"
        assert alerts[rule]["location"] == LOCATION
