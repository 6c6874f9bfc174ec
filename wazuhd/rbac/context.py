"""Policy evaluation: a user's policies, processed in order, and what they allow.

Wazuh's rules, as its RBAC documentation and framework define them:

- policies are taken role by role (the user's roles in position order), each role's policies
  in position order, and processed into ``action -> {resource: effect}``; a later entry for
  the same resource replaces the earlier one, and a wildcard (``agent:id:*``) replaces the
  earlier entries it covers, so *the last matching policy wins*;
- ``effect`` allow/deny applies in both modes; ``rbac_mode`` only decides what no policy
  mentions: ``white`` denies it, ``black`` allows it;
- a resource type may have aliases naming the same objects (``agent:group:web`` names the
  agents of group web, ``agent:group:*`` every agent); ``*:*:*`` only grants resourceless
  actions, it is not a wildcard over other types;
- combined resources (``node:id:x&file:path:y``) are kept as written and never match a single
  resource, as in Wazuh.

:class:`RbacContext` is the explicit object handed to every guarded operation (never a
context variable). :class:`ResourceFilter` is its answer for list operations: a Python
predicate and a SQL ``WHERE`` fragment with bound parameters that select the same objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wazuhd.errors import WazuhError, WazuhPermissionError
from wazuhd.rbac import catalog

_ACTION = re.compile(r"[a-z_\-]+:[a-z_\-]+")
_RESOURCE = re.compile(r"[a-z0-9_\-*]+:[a-z0-9_\-*]+:[\w\-/.*]+", re.ASCII)
EFFECTS = ("allow", "deny")
INTEGER_RESOURCES = ("user:id", "role:id", "rule:id", "policy:id")


def sanitize_policy(policy) -> dict:
    """A policy in stored form (lower-case actions, types and effect) or WazuhError 4006."""
    if not isinstance(policy, Mapping) or set(policy) != {"actions", "resources", "effect"}:
        raise WazuhError(4006)
    actions, resources, effect = policy["actions"], policy["resources"], policy["effect"]
    if not (isinstance(actions, list) and actions and isinstance(resources, list) and resources
            and isinstance(effect, str) and effect.lower() in EFFECTS
            and all(isinstance(a, str) for a in actions) and all(isinstance(r, str) for r in resources)):
        raise WazuhError(4006)
    actions = [action.lower() for action in actions]
    clean = []
    for resource in resources:
        parts = resource.split("&")
        lowered = [":".join([*(p.lower() for p in part.split(":")[:2]), *part.split(":")[2:]]) for part in parts]
        if len(parts) > 2 or not all(_RESOURCE.fullmatch(part) for part in lowered):
            raise WazuhError(4006, f"invalid resource {resource!r}")
        clean.append("&".join(lowered))
    if not all(_ACTION.fullmatch(action) for action in actions):
        raise WazuhError(4006, "invalid action")
    return {"actions": actions, "resources": clean, "effect": effect.lower()}


def _type_of(resource: str) -> str:
    return resource.rsplit(":", 1)[0]


def _covered(wildcard_type: str, key: str) -> bool:
    """Entries an earlier policy made that a later wildcard of ``wildcard_type`` supersedes."""
    if "&" in key:
        return False
    key_type = _type_of(key)
    alias = catalog.resource_types().get(key_type)
    return key_type == wildcard_type or (alias is not None and alias.alias_of == wildcard_type)


def process_policies(policies: Iterable[Mapping]) -> dict[str, dict[str, str]]:
    """``action -> {resource: effect}`` in evaluation order (what ``/security/users/me/policies`` shows)."""
    processed: dict[str, dict[str, str]] = {}
    for policy in policies:
        for action in policy["actions"]:
            entries = processed.setdefault(action, {})
            for resource in policy["resources"]:
                resource = "*:*:*" if resource == "*" else resource
                parts = resource.split("&")
                if len(parts) > 1:
                    for key in [k for k in entries if len(k.split("&")) == len(parts)]:
                        if all(new.endswith(":*") or old == new for old, new in zip(key.split("&"), parts)):
                            entries.pop(key)
                else:
                    entries.pop(resource, None)
                    if resource.endswith(":*"):
                        for key in [k for k in entries if _covered(_type_of(resource), k)]:
                            entries.pop(key)
                entries[resource] = policy["effect"]
    return processed


@dataclass(frozen=True)
class _Decision:
    """One action's verdict on a family: specific entries (last wins), else ``default``."""

    entries: tuple[tuple[str, str, bool], ...]
    default: bool

    def decide(self, resources: set[tuple[str, str]]) -> bool:
        for rtype, value, allow in reversed(self.entries):
            if (rtype, value) in resources:
                return allow
        return self.default


@dataclass(frozen=True)
class ResourceFilter:
    """Which objects of ``resource_type`` (and its aliases) the caller may act on.

    ``matches(resources)`` takes every resource string naming one object
    (``["agent:id:001", "agent:group:web"]``); :meth:`sql` gives the same answer in SQL.
    """

    resource_type: str
    family: frozenset[str]
    decisions: tuple[_Decision, ...]

    @property
    def allows_all(self) -> bool:
        return all(not d.entries and d.default for d in self.decisions)

    @property
    def allows_nothing(self) -> bool:
        return any(not d.default and not any(allow for *_, allow in d.entries) for d in self.decisions)

    def matches(self, resources: Iterable[str]) -> bool:
        pairs = {(_type_of(r), r.rsplit(":", 1)[1]) for r in resources}
        return all(decision.decide(pairs) for decision in self.decisions)

    def predicate(self, names_of: Callable[[Any], Iterable[str]]) -> Callable[[Any], bool]:
        """A row predicate, given how to name a row (``lambda a: [f"agent:id:{a['id']}", ...]``)."""
        return lambda row: self.matches(names_of(row))

    def sql(self, columns: Mapping[str, str]) -> tuple[str, list]:
        """``(where, params)`` selecting the allowed rows. ``columns`` maps each resource type of
        the family to trusted SQL: a column expression compared with ``IN``, or a template with
        ``{values}`` where the bound placeholders go (``EXISTS (SELECT 1 FROM belongs b WHERE
        b.agent = agent.id AND b.grp IN ({values}))``)."""
        missing = sorted(t for t in self.family if t not in columns
                         and any(rtype == t for d in self.decisions for rtype, *_ in d.entries))
        if missing:
            raise ValueError(f"no SQL given for resource types {missing}")
        clauses, params = [], []
        for decision in self.decisions:
            if not decision.entries:
                clauses.append("1" if decision.default else "0")
                continue
            whens = []
            for allow, run in _runs(reversed(decision.entries)):
                tests = []
                for rtype in dict.fromkeys(rtype for rtype, _ in run):
                    values = [value for t, value in run if t == rtype]
                    holes = ", ".join("?" * len(values))
                    expr = columns[rtype]
                    tests.append(expr.format(values=holes) if "{values}" in expr else f"({expr}) IN ({holes})")
                    params.extend(values)
                whens.append(f"WHEN {' OR '.join(tests)} THEN {int(allow)}")
            clauses.append(f"(CASE {' '.join(whens)} ELSE {int(decision.default)} END) = 1")
        return " AND ".join(f"({c})" for c in clauses), params


def _runs(entries) -> list[tuple[bool, list[tuple[str, str]]]]:
    """Consecutive entries with the same effect, merged: one ``WHEN`` each."""
    runs: list[tuple[bool, list]] = []
    for rtype, value, allow in entries:
        if runs and runs[-1][0] == allow:
            runs[-1][1].append((rtype, value))
        else:
            runs.append((allow, [(rtype, value)]))
    return runs


def _denied(resource_type: str) -> WazuhPermissionError:
    return WazuhPermissionError(4000, f"Resource type: {resource_type}")


def target_id(resource_type: str, value):
    """Ids of integer resources (users, roles...) are reported as numbers, like Wazuh."""
    return int(value) if resource_type in INTEGER_RESOURCES and str(value).isdigit() else value


class RbacContext:
    """The caller's permissions: processed policies, ``rbac_mode`` and who the caller is."""

    def __init__(self, policies: Mapping[str, Mapping[str, str]], mode: str = "white", *,
                 user_id: int | None = None, username: str | None = None,
                 roles: Sequence[int] = (), run_as: bool = False):
        if mode not in ("white", "black"):
            raise ValueError(f"rbac_mode must be white or black, not {mode!r}")
        self.policies = {action: dict(entries) for action, entries in policies.items()}
        self.mode, self.user_id, self.username = mode, user_id, username
        self.roles, self.run_as = list(roles), run_as

    @classmethod
    def from_policies(cls, policies: Iterable[Mapping], mode: str = "white", **who) -> RbacContext:
        """From raw policies in evaluation order (roles in order, each role's policies in order)."""
        return cls(process_policies(policies), mode, **who)

    def permissions(self) -> dict:
        """What ``GET /security/users/me/policies`` answers: processed policies plus the mode."""
        return {**{action: dict(entries) for action, entries in self.policies.items()}, "rbac_mode": self.mode}

    def resource_filter(self, actions: str | Sequence[str], resource_type: str) -> ResourceFilter:
        """The objects of ``resource_type`` every one of ``actions`` allows (list operations)."""
        actions = [actions] if isinstance(actions, str) else list(actions)
        family = catalog.family(resource_type)
        decisions = []
        for action in actions:
            default, entries = self.mode == "black", []
            for resource, effect in self.policies.get(action, {}).items():
                rtype, _, value = resource.rpartition(":")
                if "&" in resource or rtype not in family:
                    continue
                if value == "*":
                    default, entries = effect == "allow", []
                else:
                    entries.append((rtype, value, effect == "allow"))
            decisions.append(_Decision(tuple(entries), default))
        return ResourceFilter(resource_type, family, tuple(decisions))

    def allowed(self, actions: str | Sequence[str], resource: str = "*:*:*", *aliases: str) -> bool:
        """May the caller do ``actions`` on the object named ``resource`` (and ``aliases``)?"""
        return self.resource_filter(actions, _type_of(resource)).matches([resource, *aliases])

    def check(self, actions: str | Sequence[str], resource: str = "*:*:*", *aliases: str) -> None:
        """:meth:`allowed` or WazuhPermissionError 4000 naming the resource type."""
        if not self.allowed(actions, resource, *aliases):
            raise _denied(_type_of(resource))

    def filter_targets(self, actions: str | Sequence[str], resource_type: str, ids: Iterable,
                       related: Mapping | None = None) -> tuple[list, list]:
        """Split explicit targets into (allowed, denied). ``related`` maps an id to the other
        resources naming it (``{"001": ["agent:group:web"]}``)."""
        check = self.resource_filter(actions, resource_type)
        allowed, denied = [], []
        for id_ in ids:
            names = [f"{resource_type}:{id_}", *(related or {}).get(id_, ())]
            (allowed if check.matches(names) else denied).append(id_)
        return allowed, denied

    @staticmethod
    def add_denied(result, resource_type: str, denied: Iterable) -> None:
        """Record denied targets as failed items with error 4000, as Wazuh reports them."""
        for id_ in denied:
            result.add_failed_item(target_id(resource_type, id_), _denied(resource_type))
