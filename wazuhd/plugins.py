"""Finding, loading and calling plugins.

Built-in behaviour is a plugin of the same hooks (``BUILTIN_PLUGINS``), and
every other plugin, shipped with wazuhd or installed with pip, comes through
the entry-point group ``wazuhd``: there is no private door.

Each entry point is loaded on its own (pluggy's ``load_setuptools_entrypoints``
would stop at the first broken one) and each hook implementation is called on
its own, so one failing plugin is reported by name and the others go on.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

import wazuhd
from wazuhd import hookspecs

log = logging.getLogger("wazuhd.plugins")

ENTRY_POINT_GROUP = "wazuhd"
BUILTIN_PLUGINS = {"core": "wazuhd.builtin"}


class PluginError(Exception):
    """A required plugin failed; the daemon cannot start without it."""


@dataclass
class PluginInfo:
    name: str
    version: str
    distribution: str
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    builtin: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "hooks": self.hooks,
            "error": self.error,
            "builtin": self.builtin,
        }


class PluginHost:
    """The pluggy manager plus what wazuhd knows about each plugin."""

    def __init__(self, required: Iterable[str] = ()):
        self.pm = pluggy.PluginManager("wazuhd")
        self.pm.add_hookspecs(hookspecs)
        self.required = set(required)
        self.info: dict[str, PluginInfo] = {}

    # -- loading -----------------------------------------------------------

    def load(self, *, disabled: Iterable[str] = (), entry_points: bool = True) -> None:
        disabled = set(disabled)
        for name in disabled:
            self.pm.set_blocked(name)
        for name, module_name in BUILTIN_PLUGINS.items():
            self._load_one(name, lambda m=module_name: importlib.import_module(m),
                           distribution="wazuhd", version=wazuhd.__version__, builtin=True)
        if entry_points:
            for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
                             key=lambda ep: ep.name):
                if ep.name in disabled or ep.name in self.info:
                    continue
                dist = ep.dist
                self._load_one(ep.name, ep.load,
                               distribution=dist.metadata["Name"] if dist else "?",
                               version=dist.version if dist else "?")
        while True:
            try:
                self.pm.check_pending()
                break
            except pluggy.PluginValidationError as exc:
                # A misspelled hookimpl is a programming error in that plugin:
                # report it against the plugin and drop the plugin.
                self.fail(exc.plugin, f"unknown hook: {exc}")

    def register(self, plugin: object, name: str, *, distribution: str = "?",
                 version: str = "?") -> None:
        """Register an already imported plugin object (tests, embedding)."""
        self._load_one(name, lambda: plugin, distribution=distribution, version=version)

    def _load_one(self, name, loader, *, distribution, version, builtin=False):
        info = PluginInfo(name=name, version=version, distribution=distribution, builtin=builtin)
        self.info[name] = info
        try:
            plugin = loader()
            self.pm.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001 - any import-time failure is the plugin's
            info.error = _describe(exc)
            log.error("plugin %s failed to load: %s", name, info.error)
            if name in self.required:
                raise PluginError(f"required plugin {name!r} failed to load: {info.error}") from exc
            return
        info.hooks = sorted(
            hook.name for hook in self.pm.get_hookcallers(plugin) or ()
        )

    # -- failures ----------------------------------------------------------

    def fail(self, plugin_or_name, reason: str) -> None:
        """Record a plugin failure and unregister it (unless it is required)."""
        name = plugin_or_name if isinstance(plugin_or_name, str) else self.pm.get_name(plugin_or_name)
        if name is None:
            return
        info = self.info.setdefault(name, PluginInfo(name, "?", "?"))
        info.error = reason
        log.error("plugin %s failed: %s", name, reason)
        if name in self.required:
            raise PluginError(f"required plugin {name!r} failed: {reason}")
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        info.hooks = []

    # -- calling -----------------------------------------------------------

    def call_each(self, hook_name: str, **kwargs) -> list[tuple[str, Any]]:
        """Call every implementation of a hook in pluggy's order, isolating failures.

        Returns ``(plugin_name, result)`` pairs for the implementations that
        returned something other than None.
        """
        results = []
        for impl in self._ordered_impls(hook_name):
            outcome = self._call_impl(hook_name, impl, kwargs)
            if outcome is not None:
                results.append((impl.plugin_name, outcome))
        return results

    def call_first(self, hook_name: str, **kwargs) -> tuple[str, Any] | None:
        """firstresult semantics with the same failure isolation as :meth:`call_each`:
        ``(plugin_name, result)`` of the first implementation that returns something."""
        for impl in self._ordered_impls(hook_name):
            outcome = self._call_impl(hook_name, impl, kwargs)
            if outcome is not None:
                return impl.plugin_name, outcome
        return None

    def collect(self, hook_name: str, **kwargs) -> list[tuple[str, Any]]:
        """Like :meth:`call_each` but flattens list results into one list of pairs."""
        items = []
        for plugin_name, result in self.call_each(hook_name, **kwargs):
            for item in result if isinstance(result, (list, tuple)) else [result]:
                items.append((plugin_name, item))
        return items

    def _ordered_impls(self, hook_name):
        # pluggy keeps trylast first and tryfirst last, and calls in reverse.
        return list(reversed(getattr(self.pm.hook, hook_name).get_hookimpls()))

    def _call_impl(self, hook_name, impl, kwargs):
        args = {name: kwargs[name] for name in impl.argnames}
        try:
            return impl.function(**args)
        except PluginError:
            raise
        except Exception as exc:  # noqa: BLE001 - isolate the plugin, keep the host up
            self.fail(impl.plugin_name, f"{hook_name} raised {_describe(exc)}")
            log.debug("traceback of %s in %s:\n%s", hook_name, impl.plugin_name,
                      traceback.format_exc())
            return None

    # -- reporting ---------------------------------------------------------

    def loaded(self) -> list[str]:
        return sorted(name for name, info in self.info.items() if info.error is None)

    def report(self) -> list[dict[str, Any]]:
        return [self.info[name].as_dict() for name in sorted(self.info)]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def make_plugin_host(*, disabled: Iterable[str] = (), required: Iterable[str] = (),
                     entry_points: bool = True) -> PluginHost:
    """Build a fresh plugin host: built-ins, then entry points, then check_pending."""
    host = PluginHost(required=required)
    host.load(disabled=disabled, entry_points=entry_points)
    return host
