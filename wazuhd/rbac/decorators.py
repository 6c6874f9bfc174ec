"""``expose_resources``: declare what a plugin operation needs, and let RBAC narrow its input.

In the spirit of Wazuh's decorator of the same name::

    @expose_resources(actions=["agent:read"], resources=["agent:id:{agent_list}"],
                      related={"agent_list": agent_groups})
    async def get_agents(rbac, agent_list=None, *, db, rbac_filters, q=None, ...):
        ...

The operation is a plain async function whose first parameter is the caller's
:class:`~wazuhd.rbac.context.RbacContext` (explicit, never a context variable). For each
resource template:

- ``*:*:*`` or a fixed resource (``node:id:master``): the actions must be allowed on it, or
  WazuhPermissionError 4000 is raised before the operation runs;
- ``type:attr:{param}`` with explicit targets (a list, or one value): the operation receives
  only the allowed ones; the denied ones become failed items with error 4000 in the returned
  AffectedItemsResult; if none is allowed, WazuhPermissionError 4000 is raised (as Wazuh does);
- ``{param}`` absent, ``None``, ``"*"`` or ``"all"``: a list operation; the operation gets
  ``param=None`` and ``rbac_filters[param]``, a ResourceFilter it must apply (``.sql(...)``
  for a WHERE fragment, ``.matches(...)``/``.predicate(...)`` in memory) so it only returns
  what the caller may see. An operation without an ``rbac_filters`` parameter only accepts
  explicit targets (a list operation is a TypeError: a programming error, said plainly).

With several actions, a target must be allowed by every one of them.
``related[param]`` is an async ``(ids, arguments) -> {id: [other resources]}`` giving the
aliases of explicit targets (an agent's ``agent:group:<g>``), so a policy on a group applies.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence

from wazuhd.rbac.context import RbacContext
from wazuhd.results import AffectedItemsResult

_TEMPLATE = re.compile(r"([a-z*\-]+:[a-z*\-]+):(?:\{(\w+)\}|([^{}]+))")
_ALL = (None, "*", "all")

Related = Callable[[list, Mapping], Awaitable[Mapping[object, Sequence[str]]]]


def _parse(resources: Sequence[str]) -> list[tuple[str, str | None, str | None]]:
    parsed = []
    for resource in resources:
        match = _TEMPLATE.fullmatch(resource)
        if not match:
            raise ValueError(f"invalid resource template {resource!r}")
        parsed.append(match.groups())
    return parsed


def _is_list_operation(value) -> bool:
    if isinstance(value, (list, tuple)):
        return len(value) == 1 and value[0] in _ALL
    return value in _ALL


def expose_resources(actions: Sequence[str], resources: Sequence[str], *,
                     related: Mapping[str, Related] | None = None):
    """Guard an async operation ``f(rbac, ...)`` with ``actions`` on ``resources`` (see module doc)."""
    templates = _parse(resources)
    params = [param for _, param, _ in templates if param]
    related = dict(related or {})

    def decorator(func):
        signature = inspect.signature(func)
        names = list(signature.parameters)
        if not names or names[0] != "rbac":
            raise TypeError(f"{func.__qualname__}: the first parameter must be 'rbac'")
        missing = [p for p in params + list(related) if p not in signature.parameters]
        if missing:
            raise TypeError(f"{func.__qualname__}: no parameter named {missing} for its RBAC resources")
        takes_filters = "rbac_filters" in signature.parameters

        @functools.wraps(func)
        async def wrapper(rbac: RbacContext, *args, **kwargs):
            bound = signature.bind_partial(rbac, *args, **kwargs)
            bound.apply_defaults()
            filters, denied = {}, []
            for rtype, param, value in templates:
                if param is None:
                    rbac.check(actions, f"{rtype}:{value}")
                    continue
                targets = bound.arguments.get(param)
                if _is_list_operation(targets):
                    if not takes_filters:
                        raise TypeError(f"{func.__qualname__} needs explicit {param!r} (it has no "
                                        "'rbac_filters' parameter for list operations)")
                    filters[param] = rbac.resource_filter(actions, rtype)
                    bound.arguments[param] = None
                    continue
                single = not isinstance(targets, (list, tuple))
                ids = [targets] if single else list(targets)
                aliases = await related[param](ids, bound.arguments) if param in related and ids else {}
                allowed, refused = rbac.filter_targets(actions, rtype, ids, aliases)
                if refused and not allowed:
                    rbac.check(actions, f"{rtype}:{refused[0]}", *aliases.get(refused[0], ()))
                denied.append((rtype, refused))
                bound.arguments[param] = allowed[0] if single else allowed
            if takes_filters:
                bound.arguments["rbac_filters"] = filters
            result = await func(*bound.args, **bound.kwargs)
            if isinstance(result, AffectedItemsResult):
                for rtype, refused in denied:
                    rbac.add_denied(result, rtype, refused)
            return result

        wrapper.rbac_actions = list(actions)
        wrapper.rbac_resources = list(resources)
        return wrapper

    return decorator
