"""The catalog of RBAC actions and resource types: what policies may name.

The host registers the resource types Wazuh defines and the ``security:*`` actions it guards
itself; plugins add theirs with :func:`register_actions` / :func:`register_resources` (the
``wazuhd_rbac_actions`` hook is wired to these elsewhere). ``GET /security/actions`` and
``GET /security/resources`` answer from here, in Wazuh's shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from wazuhd.errors import WazuhError

RESOURCELESS = "*:*"


@dataclass(frozen=True)
class RbacResource:
    """A resource type (``agent:id``). ``alias_of``: another type naming the same objects
    another way (``agent:group`` selects agents), so policies on either apply to them."""

    name: str
    description: str
    alias_of: str | None = None


@dataclass(frozen=True)
class RbacAction:
    """An action (``agent:read``), the resource types it applies to and the endpoints guarded."""

    name: str
    description: str
    resources: list[str]
    related_endpoints: list[str] = field(default_factory=list)
    example: dict | None = None

    def to_dict(self) -> dict:
        body = {"description": self.description, "resources": list(self.resources)}
        body["example"] = self.example or {"actions": [self.name],
                                           "resources": [f"{self.resources[0]}:*"],
                                           "effect": "allow"}
        body["related_endpoints"] = list(self.related_endpoints)
        return body


_RESOURCES: dict[str, RbacResource] = {}
_ACTIONS: dict[str, RbacAction] = {}


def register_resources(*resources: RbacResource) -> None:
    """Declare resource types; re-declaring an identical one is a no-op, a different one an error."""
    for resource in resources:
        known = _RESOURCES.get(resource.name)
        if known is not None and known != resource:
            raise ValueError(f"RBAC resource {resource.name!r} is already registered differently")
    for resource in resources:
        _RESOURCES[resource.name] = resource


def register_actions(*actions: RbacAction) -> None:
    """Declare actions (a plugin's ``wazuhd_rbac_actions``); their resource types must be known."""
    for action in actions:
        unknown = [r for r in action.resources if r not in _RESOURCES]
        if unknown:
            raise ValueError(f"RBAC action {action.name!r} names unknown resource types {unknown}")
        known = _ACTIONS.get(action.name)
        if known is not None and (known.description, known.resources) != (
                action.description, action.resources):
            raise ValueError(f"RBAC action {action.name!r} is already registered differently")
    for action in actions:
        known = _ACTIONS.get(action.name)
        if known is not None:
            # Two plugins guarding endpoints with one action: it lists all their endpoints.
            endpoints = list(dict.fromkeys([*known.related_endpoints, *action.related_endpoints]))
            action = replace(known, related_endpoints=endpoints)
        _ACTIONS[action.name] = action


def register(items: Iterable[RbacAction | RbacResource]) -> None:
    """What a plugin's ``wazuhd_rbac_actions`` returns: resource types first, then actions."""
    items = list(items)
    register_resources(*(item for item in items if isinstance(item, RbacResource)))
    register_actions(*(item for item in items if isinstance(item, RbacAction)))


def resource_types() -> dict[str, RbacResource]:
    return dict(_RESOURCES)


def actions() -> dict[str, RbacAction]:
    return dict(_ACTIONS)


def family(resource_type: str) -> frozenset[str]:
    """The type and its aliases: every way a policy can name the same objects."""
    primary = _RESOURCES[resource_type].alias_of if resource_type in _RESOURCES else None
    primary = primary or resource_type
    return frozenset({primary} | {r.name for r in _RESOURCES.values() if r.alias_of == primary})


def rbac_actions(endpoint: str | None = None) -> dict:
    """``GET /security/actions``: every action, or those guarding ``endpoint`` (4020 if unknown)."""
    if endpoint:
        endpoints = sorted({e for a in _ACTIONS.values() for e in a.related_endpoints})
        if endpoint not in endpoints:
            raise WazuhError(4020, extra_remediation=", ".join(endpoints))
    return {name: action.to_dict() for name, action in sorted(_ACTIONS.items())
            if not endpoint or endpoint in action.related_endpoints}


def rbac_resources(resource: str | None = None) -> dict:
    """``GET /security/resources``: every resource type, or one (4019 if unknown)."""
    if resource:
        if resource not in _RESOURCES:
            raise WazuhError(4019)
        return {resource: {"description": _RESOURCES[resource].description}}
    return {name: {"description": r.description} for name, r in _RESOURCES.items()}


def _security(name: str, description: str, resources: Iterable[str], *endpoints: str) -> RbacAction:
    return RbacAction(name, description, list(resources), list(endpoints))


_SECURITY_TYPES = ("policy:id", "role:id", "user:id", "rule:id")

register_resources(
    RbacResource("*:*", "Resource applied in functions acting on resources that do not yet exist in the "
                        "system. We call these functions, resourceless functions"),
    RbacResource("agent:group", "Reference agents via group name (i.e. agent:group:web)", alias_of="agent:id"),
    RbacResource("agent:id", "Reference agents via agent ID (i.e. agent:id:001)"),
    RbacResource("group:id", "Reference agent groups via group ID (i.e. group:id:default)"),
    RbacResource("node:id", "Reference cluster nodes via node ID (i.e. node:id:worker1)"),
    RbacResource("decoder:file", "Reference decoder files via its path (i.e. decoder:file:0005-wazuh_decoders.xml)"),
    RbacResource("list:file", "Reference list files via its filename (i.e. list:file:audit-keys)"),
    RbacResource("rule:file", "Reference rule files via its path (i.e. rule:file:0610-win-ms_logs_rules.xml)"),
    RbacResource("policy:id", "Reference security policies via its id (i.e. policy:id:1)"),
    RbacResource("role:id", "Reference security roles via its id (i.e. role:id:1)"),
    RbacResource("rule:id", "Reference security rules via its id (i.e. rule:id:1)"),
    RbacResource("user:id", "Reference security users via its id (i.e. user:id:1)"),
)

register_actions(
    _security("security:create", "Create new system security resources", [RESOURCELESS],
              "POST /security/roles", "POST /security/policies", "POST /security/rules"),
    _security("security:create_user", "Create new system users", [RESOURCELESS], "POST /security/users"),
    _security("security:read", "Access information about system security resources", _SECURITY_TYPES,
              "GET /security/users", "GET /security/roles", "GET /security/policies", "GET /security/rules"),
    _security("security:update", "Update the information of system security resources", _SECURITY_TYPES,
              "PUT /security/users/{user_id}", "PUT /security/roles/{role_id}",
              "PUT /security/policies/{policy_id}", "PUT /security/rules/{rule_id}",
              "POST /security/users/{user_id}/roles", "POST /security/roles/{role_id}/policies",
              "POST /security/roles/{role_id}/rules"),
    _security("security:delete", "Delete system security resources", _SECURITY_TYPES,
              "DELETE /security/users", "DELETE /security/roles", "DELETE /security/policies",
              "DELETE /security/rules", "DELETE /security/users/{user_id}/roles",
              "DELETE /security/roles/{role_id}/policies", "DELETE /security/roles/{role_id}/rules"),
    _security("security:edit_run_as", "Change the value of the allow_run_as flag for a user", [RESOURCELESS],
              "PUT /security/users/{user_id}/run_as"),
    _security("security:read_config", "Read current system security configuration", [RESOURCELESS],
              "GET /security/config"),
    _security("security:update_config", "Update current system security configuration", [RESOURCELESS],
              "PUT /security/config", "DELETE /security/config"),
    _security("security:revoke", "Revoke all active JWT tokens", [RESOURCELESS], "PUT /security/user/revoke"),
)
