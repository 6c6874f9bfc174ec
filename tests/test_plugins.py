"""The plugin host: load errors, failing hooks and misspelled hooks are reported by name."""

from __future__ import annotations

import inspect
import types

import pytest

from wazuhd import hookimpl, hookspecs
from wazuhd.config import ConfigSection
from wazuhd.plugins import PluginError, make_plugin_host


def plugin(name, **hooks):
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def section(name):
    return ConfigSection(name, {"type": "object", "properties": {}})


def host_with(*plugins, required=()):
    host = make_plugin_host(entry_points=False, required=required)
    for p in plugins:
        host.register(p, p.__name__)
    return host


def test_builtin_core_is_loaded_without_entry_points():
    host = make_plugin_host(entry_points=False)
    assert host.loaded() == ["core"]
    names = [s.name for _, s in host.collect("wazuhd_config_schema")]
    assert {"daemon", "logging", "sockets", "queue", "plugins"} <= set(names)


def test_a_raising_hook_drops_only_its_plugin():
    def broken():
        raise RuntimeError("no schema for you")

    host = host_with(plugin("good", wazuhd_config_schema=lambda: section("good")),
                     plugin("bad", wazuhd_config_schema=broken))
    names = [s.name for _, s in host.collect("wazuhd_config_schema")]
    assert "good" in names
    report = {row["name"]: row for row in host.report()}
    assert report["bad"]["error"] == "wazuhd_config_schema raised RuntimeError: no schema for you"
    assert "bad" not in host.loaded()
    # It is unregistered: later hooks no longer reach it.
    assert host.pm.get_plugin("bad") is None


def test_a_required_plugin_that_raises_stops_everything():
    def broken():
        raise RuntimeError("boom")

    host = host_with(plugin("vital", wazuhd_config_schema=broken), required=["vital"])
    with pytest.raises(PluginError, match="required plugin 'vital' failed"):
        host.collect("wazuhd_config_schema")


def test_import_failure_is_reported_by_name():
    host = make_plugin_host(entry_points=False)

    def load():
        raise ImportError("No module named 'missing_dependency'")

    host._load_one("fragile", load, distribution="wazuhd-fragile", version="0.1")
    row = {row["name"]: row for row in host.report()}["fragile"]
    assert row["error"] == "ImportError: No module named 'missing_dependency'"
    assert row["distribution"] == "wazuhd-fragile"


def test_misspelled_hookimpl_is_an_error_of_that_plugin():
    typo = plugin("typo", wazuhd_config_shema=lambda: None)
    good = plugin("fine", wazuhd_config_schema=lambda: section("fine"))
    host = make_plugin_host(entry_points=False)
    host.pm.register(typo, name="typo")
    host.pm.register(good, name="fine")
    host.load(entry_points=False)  # runs check_pending again
    report = {row["name"]: row for row in host.report()}
    assert "unknown hook" in report["typo"]["error"]
    assert "wazuhd_config_shema" in report["typo"]["error"]
    assert host.pm.get_plugin("typo") is None
    assert host.pm.get_plugin("fine") is not None


def test_firstresult_skips_none_and_respects_trylast():
    host = host_with(plugin("override", wazuhd_event_consumer=lambda ctx: "mine"))
    assert host.call_first("wazuhd_event_consumer", ctx=types.SimpleNamespace(
        announce=lambda *a: None, add_counters=lambda *a: None)) == ("override", "mine")
    host = host_with(plugin("declines", wazuhd_event_consumer=lambda ctx: None))
    ctx = types.SimpleNamespace(announce=lambda *a: None, add_counters=lambda *a: None)
    owner, consumer = host.call_first("wazuhd_event_consumer", ctx=ctx)
    assert (owner, type(consumer).__name__) == ("core", "CountingConsumer")


HOOKS = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
         if name.startswith("wazuhd_")]


@pytest.mark.parametrize("name", HOOKS)
def test_every_hookspec_is_documented(name):
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert "Called" in doc, f"{name}: say when it is called"
    assert ":return:" in doc, f"{name}: say what it returns"
    assert "firstresult" in doc, f"{name}: say whether it is firstresult"


def test_every_hookspec_is_exercised_by_the_example_plugin(example_plugin_path, monkeypatch):
    """The example plugin (installed by pip) implements each hook; its tests exercise them."""
    monkeypatch.syspath_prepend(str(example_plugin_path))
    import importlib

    example = importlib.import_module("wazuhd_example.plugin")
    implemented = {name for name in HOOKS if hasattr(example, name)}
    assert implemented == set(HOOKS)
