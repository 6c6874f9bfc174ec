"""Our responses validate against Wazuh 4.x's own response schemas.

For every (path, method) of our assembled spec (read from the running daemon at
``GET /api/spec.yaml``) that Wazuh's spec (``../shared/wazuh-api/spec.yaml``) also
has, a scenario makes a representative successful request and, where cheap, a
representative error (400/401/403) against the real daemon; each response body is
validated with jsonschema against Wazuh's schema for that path, method, status and
media type (Wazuh's ``$ref``s resolved in place, OpenAPI 3.0 ``nullable`` honoured).

Errors: Wazuh's spec declares error bodies as ``application/json``; like Wazuh's
own API (connexion problems) we answer ``application/problem+json``, which is
validated against the ``application/json`` schema.

A status Wazuh's spec does not declare for an operation (e.g. 403 on
``PUT /security/config``) cannot be validated; it is listed as "undocumented" in
the report, not failed. Run with ``-rP`` (or ``-s``) to see the per-operation report.
Without Wazuh's spec the comparisons are skipped; the OpenAPI 3.0 check of ours still runs.
"""

from __future__ import annotations

import copy
import itertools

import httpx
import pytest
import yaml

from wazuhd.testing import ApiDaemon, WazuhSchemas, wazuh_spec_path

METHODS = ("get", "put", "post", "delete", "patch")
PASSWORD = "Sch3ma!Passw0rd"


# -- Wazuh's spec as JSON Schema ------------------------------------------------------


# -- the daemon and the requests --------------------------------------------------------


class Session:
    """The admin's client on one daemon, plus helpers to create what a scenario needs."""

    def __init__(self, daemon: ApiDaemon):
        self.daemon = daemon
        self.counter = itertools.count(1)
        self.token = daemon.login()

    def relogin(self) -> None:
        """After an operation that revokes every token (revoke, security config)."""
        self.token = self.daemon.login()

    def request(self, method: str, path: str, token: str | None = "admin", **kwargs):
        token = self.token if token == "admin" else token
        with self.daemon.client(token) as client:
            return client.request(method, path, **kwargs)

    def name(self, kind: str) -> str:
        return f"schema_{kind}_{next(self.counter)}"

    def created_id(self, reply: httpx.Response) -> int:
        assert reply.status_code == 200, reply.text
        items = reply.json()["data"]["affected_items"]
        assert items, reply.text
        return items[0]["id"]

    def user(self, roles: tuple[int, ...] = ()) -> tuple[int, str]:
        name = self.name("user")
        user_id = self.created_id(self.request("POST", "/security/users",
                                               json={"username": name, "password": PASSWORD}))
        if roles:
            reply = self.request("POST", f"/security/users/{user_id}/roles",
                                 params={"role_ids": ",".join(map(str, roles))})
            assert reply.status_code == 200, reply.text
        return user_id, name

    def login(self, name: str) -> str:
        return self.daemon.login(name, PASSWORD)

    def role(self) -> int:
        return self.created_id(self.request("POST", "/security/roles",
                                            json={"name": self.name("role")}))

    def policy(self) -> int:
        return self.created_id(self.request("POST", "/security/policies", json={
            "name": self.name("policy"),
            "policy": {"actions": ["agent:read"],
                       "resources": [f"agent:id:{next(self.counter):03}"], "effect": "allow"}}))

    def rule(self) -> int:
        return self.created_id(self.request("POST", "/security/rules", json={
            "name": self.name("rule"), "rule": {"FIND": {"r'^auth[a-zA-Z]+$'": [self.name("x")]}}}))


def _users(s: Session):
    yield s.request("GET", "/security/users")
    yield s.request("GET", "/security/users", params={"user_ids": "1,999", "select": "username"})
    yield s.request("GET", "/security/users", params={"limit": "abc"})
    yield s.request("GET", "/security/users", token=None)
    yield s.request("GET", "/security/users", token="not-a-jwt")


def _create_user(s: Session):
    yield s.request("POST", "/security/users", json={"username": s.name("user"),
                                                      "password": PASSWORD})
    yield s.request("POST", "/security/users", json={"username": "abc", "password": PASSWORD})
    yield s.request("POST", "/security/users", json={"username": s.name("user"),
                                                      "password": "weak"})


def _delete_users(s: Session):
    user_id, _ = s.user()
    yield s.request("DELETE", "/security/users", params={"user_ids": f"{user_id},1"})
    yield s.request("DELETE", "/security/users")  # user_ids is required


def _update_user(s: Session):
    user_id, _ = s.user()
    yield s.request("PUT", f"/security/users/{user_id}", json={"password": PASSWORD + "x"})
    yield s.request("PUT", "/security/users/abc", json={"password": PASSWORD})


def _run_as(s: Session):
    user_id, _ = s.user()
    yield s.request("PUT", f"/security/users/{user_id}/run_as", params={"allow_run_as": "true"})
    yield s.request("PUT", f"/security/users/{user_id}/run_as", params={"allow_run_as": "maybe"})


def _login(method: str):
    def scenario(s: Session):
        yield s.request(method, "/security/user/authenticate", token=None, auth=("wazuh", "wazuh"))
        yield s.request(method, "/security/user/authenticate", token=None,
                        auth=("wazuh", "wazuh"), params={"raw": "true"})
        yield s.request(method, "/security/user/authenticate", token=None,
                        auth=("wazuh", "wrong"))
    return scenario


def _logout(s: Session):
    _, name = s.user(roles=(1,))
    yield s.request("DELETE", "/security/user/authenticate", token=s.login(name))
    yield s.request("DELETE", "/security/user/authenticate", token=None)


def _run_as_login(s: Session):
    yield s.request("POST", "/security/user/authenticate/run_as", token=None,
                    auth=("wazuh-wui", "wazuh"), json={"username": "schema"})
    yield s.request("POST", "/security/user/authenticate/run_as", token=None,
                    auth=("wazuh-wui", "wrong"), json={})


def _me(s: Session):
    yield s.request("GET", "/security/users/me")
    yield s.request("GET", "/security/users/me", token=None)


def _me_policies(s: Session):
    yield s.request("GET", "/security/users/me/policies")
    yield s.request("GET", "/security/users/me/policies", params={"pretty": "perhaps"})


def _revoke(s: Session):
    _, name = s.user()
    yield s.request("PUT", "/security/user/revoke", token=s.login(name))  # no role: 403
    yield s.request("PUT", "/security/user/revoke")
    s.relogin()


def _actions(s: Session):
    yield s.request("GET", "/security/actions")
    yield s.request("GET", "/security/actions", params={"endpoint": "GET /security/users"})
    yield s.request("GET", "/security/actions", params={"unknown": "1"})
    yield s.request("GET", "/security/actions", params={"endpoint": "GET /nowhere"})  # 4020


def _resources(s: Session):
    yield s.request("GET", "/security/resources")
    yield s.request("GET", "/security/resources", params={"resource": "user:id"})
    yield s.request("GET", "/security/resources", params={"resource": "nothing:id"})  # 4019


def _listing(kind: str, ids: str):
    def scenario(s: Session):
        yield s.request("GET", f"/security/{kind}")
        yield s.request("GET", f"/security/{kind}", params={ids: "1,99999", "sort": "-id"})
        yield s.request("GET", f"/security/{kind}", params={"offset": "-1"})
        _, name = s.user()
        yield s.request("GET", f"/security/{kind}", token=s.login(name))
    return scenario


def _create(kind: str, body):
    def scenario(s: Session):
        yield s.request("POST", f"/security/{kind}", json=body(s))
        yield s.request("POST", f"/security/{kind}", json={"name": 7})
        yield s.request("POST", f"/security/{kind}", content=b"name=x",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    return scenario


def _remove(kind: str, ids: str, make):
    def scenario(s: Session):
        new = make(s)
        yield s.request("DELETE", f"/security/{kind}", params={ids: f"{new},1"})
        yield s.request("DELETE", f"/security/{kind}", params={ids: "x"})
    return scenario


def _modify(kind: str, make, body):
    def scenario(s: Session):
        new = make(s)
        yield s.request("PUT", f"/security/{kind}/{new}", json=body(s))
        yield s.request("PUT", f"/security/{kind}/99999", json=body(s))
        yield s.request("PUT", f"/security/{kind}/{new}", json={"name": ["x"]})
    return scenario


def _policy_body(s: Session):
    return {"name": s.name("policy"), "policy": {
        "actions": ["agent:read"], "resources": [f"agent:id:{next(s.counter):03}"],
        "effect": "allow"}}


def _rule_body(s: Session):
    return {"name": s.name("rule"), "rule": {"MATCH": {"definition": s.name("rule")}}}


def _link(make_owner, items: str, make_item):
    def scenario(s: Session):
        owner, item = make_owner(s), make_item(s)
        yield s.request("POST", PATHS_OF[items].format(owner), params={items: f"{item},99999"})
        yield s.request("POST", PATHS_OF[items].format(owner), params={items: "x"})
        yield s.request("POST", PATHS_OF[items].format(99999), params={items: str(item)})
    return scenario


def _unlink(make_owner, items: str, make_item):
    def scenario(s: Session):
        owner, item = make_owner(s), make_item(s)
        reply = s.request("POST", PATHS_OF[items].format(owner), params={items: str(item)})
        assert reply.status_code == 200, reply.text
        yield s.request("DELETE", PATHS_OF[items].format(owner), params={items: f"{item},99999"})
        yield s.request("DELETE", PATHS_OF[items].format(owner))  # ids are required
        yield s.request("DELETE", PATHS_OF[items].format(99999), params={items: str(item)})
    return scenario


PATHS_OF = {"role_ids": "/security/users/{}/roles", "policy_ids": "/security/roles/{}/policies",
            "rule_ids": "/security/roles/{}/rules"}


def _config_get(s: Session):
    yield s.request("GET", "/security/config")
    _, name = s.user()
    yield s.request("GET", "/security/config", token=s.login(name))


def _config_put(s: Session):
    yield s.request("PUT", "/security/config", json={"auth_token_exp_timeout": 900})
    s.relogin()
    yield s.request("PUT", "/security/config", json={"rbac_mode": "grey"})


def _config_delete(s: Session):
    yield s.request("DELETE", "/security/config")
    s.relogin()
    yield s.request("DELETE", "/security/config", token=None)


def _info(s: Session):
    yield s.request("GET", "/", token=None)


def _user_id(s: Session) -> int:
    return s.user()[0]


SCENARIOS = {
    ("/", "get"): _info,
    ("/security/user/authenticate", "post"): _login("POST"),
    ("/security/user/authenticate", "get"): _login("GET"),
    ("/security/user/authenticate", "delete"): _logout,
    ("/security/user/authenticate/run_as", "post"): _run_as_login,
    ("/security/users/me", "get"): _me,
    ("/security/users/me/policies", "get"): _me_policies,
    ("/security/user/revoke", "put"): _revoke,
    ("/security/users/{user_id}/run_as", "put"): _run_as,
    ("/security/actions", "get"): _actions,
    ("/security/resources", "get"): _resources,
    ("/security/users", "get"): _users,
    ("/security/users", "post"): _create_user,
    ("/security/users", "delete"): _delete_users,
    ("/security/users/{user_id}", "put"): _update_user,
    ("/security/roles", "get"): _listing("roles", "role_ids"),
    ("/security/roles", "post"): _create("roles", lambda s: {"name": s.name("role")}),
    ("/security/roles", "delete"): _remove("roles", "role_ids", Session.role),
    ("/security/roles/{role_id}", "put"): _modify("roles", Session.role,
                                                  lambda s: {"name": s.name("role")}),
    ("/security/policies", "get"): _listing("policies", "policy_ids"),
    ("/security/policies", "post"): _create("policies", _policy_body),
    ("/security/policies", "delete"): _remove("policies", "policy_ids", Session.policy),
    ("/security/policies/{policy_id}", "put"): _modify("policies", Session.policy, _policy_body),
    ("/security/rules", "get"): _listing("rules", "rule_ids"),
    ("/security/rules", "post"): _create("rules", _rule_body),
    ("/security/rules", "delete"): _remove("rules", "rule_ids", Session.rule),
    ("/security/rules/{rule_id}", "put"): _modify("rules", Session.rule, _rule_body),
    ("/security/users/{user_id}/roles", "post"): _link(_user_id, "role_ids",
                                                       Session.role),
    ("/security/users/{user_id}/roles", "delete"): _unlink(_user_id, "role_ids", Session.role),
    ("/security/roles/{role_id}/policies", "post"): _link(Session.role, "policy_ids",
                                                          Session.policy),
    ("/security/roles/{role_id}/policies", "delete"): _unlink(Session.role, "policy_ids",
                                                              Session.policy),
    ("/security/roles/{role_id}/rules", "post"): _link(Session.role, "rule_ids",
                                                       Session.rule),
    ("/security/roles/{role_id}/rules", "delete"): _unlink(Session.role, "rule_ids",
                                                           Session.rule),
    ("/security/config", "get"): _config_get,
    ("/security/config", "put"): _config_put,
    ("/security/config", "delete"): _config_delete,
}


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """A daemon of this module's own (scenarios revoke tokens and change the config)."""
    daemon = ApiDaemon(tmp_path_factory.mktemp("schemas") / "home",
                       api="  access:\n    max_request_per_minute: 0\n").start()
    yield daemon
    daemon.terminate()


@pytest.fixture(scope="module")
def session(daemon):
    return Session(daemon)


@pytest.fixture(scope="module")
def ours(daemon) -> dict:
    with daemon.client() as client:
        reply = client.get("/api/spec.yaml")
    assert reply.status_code == 200
    return yaml.safe_load(reply.text)


@pytest.fixture(scope="module")
def wazuh() -> WazuhSchemas:
    """Wazuh's spec; every test that compares with it is skipped when it is absent."""
    schemas = WazuhSchemas.load()
    if schemas is None:
        pytest.skip(f"Wazuh's spec is absent ({wazuh_spec_path()}): nothing to compare with")
    return schemas


def shared_operations(ours: dict, wazuh: WazuhSchemas) -> list[tuple[str, str]]:
    return [(path, method) for path, item in ours["paths"].items() for method in item
            if method in METHODS and wazuh.has(path, method)]


REPORT: dict[tuple[str, str], list[str]] = {}


# -- the tests --------------------------------------------------------------------------


def host_operation(path: str) -> bool:
    """The HTTP host's own operations (its base.yaml and security.yaml fragments); the
    plugins' operations are checked against Wazuh's schemas by each plugin's tests
    (``plugins/<name>/tests/test_<name>_wazuh_schemas.py``)."""
    return path == "/" or path.startswith("/security/")


def test_every_shared_operation_has_a_scenario(ours, wazuh):
    """A new host operation that Wazuh also has must get a scenario here."""
    shared = shared_operations(ours, wazuh)
    missing = sorted(op for op in set(shared) - set(SCENARIOS) if host_operation(op[0]))
    assert not missing, f"no scenario for {missing}"
    unserved = sorted(set(SCENARIOS) - set(shared))
    assert not unserved, f"scenarios for operations we do not serve: {unserved}"
    others = [op for op in shared if not host_operation(op[0])]
    print(f"{len(shared) - len(others)} host operations shared with Wazuh; {len(others)} more "
          f"from plugins, left to the plugins' own schema tests")


def validate(wazuh: WazuhSchemas, path: str, method: str, reply: httpx.Response) -> str | None:
    """None when the body validates; else the reason, precise enough to fix."""
    where = f"{method.upper()} {path} -> {reply.status_code}"
    parts = wazuh.response_pointer(path, method, reply.status_code)
    if parts is None:
        return f"undocumented: Wazuh declares no {reply.status_code} for {method.upper()} {path}"
    media = reply.headers.get("content-type", "").split(";")[0].strip()
    lookup = "application/json" if media == "application/problem+json" else media
    validator = wazuh.validator(parts, lookup)
    if validator is None:
        declared = sorted((wazuh._at(parts).get("content") or {}))
        raise AssertionError(f"{where}: media type {media!r} not declared by Wazuh ({declared})")
    body = reply.json() if "json" in lookup else reply.text
    errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [f"  at {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message} "
                 f"(schema {'/'.join(map(str, e.absolute_schema_path))})" for e in errors[:10]]
        raise AssertionError(f"{where}: body does not validate against Wazuh's schema "
                             f"({'/'.join(parts)}):\n" + "\n".join(lines)
                             + f"\nbody: {reply.text[:800]}")
    return None


@pytest.mark.parametrize("path,method", list(SCENARIOS), ids=[f"{m.upper()} {p}"
                                                              for p, m in SCENARIOS])
def test_response_validates_against_wazuh_schema(session, ours, wazuh, path, method):
    if not wazuh.has(path, method):
        pytest.skip(f"Wazuh's spec has no {method.upper()} {path}")
    if method not in ours["paths"].get(path, {}):
        pytest.skip(f"we do not serve {method.upper()} {path}")
    outcomes, failures = [], []
    for reply in SCENARIOS[(path, method)](session):
        assert reply.status_code < 500, f"{reply.request.method} {reply.request.url}: " \
                                        f"{reply.status_code} {reply.text}"
        try:
            note = validate(wazuh, path, method, reply)
        except AssertionError as exc:
            failures.append(str(exc))
            outcomes.append(f"{reply.status_code} FAIL")
        else:
            outcomes.append(f"{reply.status_code} {'ok' if note is None else 'undocumented'}")
    REPORT[(path, method)] = outcomes
    print(f"{method.upper()} {path}: {', '.join(outcomes)}")
    assert not failures, "\n\n".join(failures)


def test_report(ours, wazuh):
    """The per-operation summary (informative; the checks are in the tests above)."""
    lines = []
    for path, method in SCENARIOS:
        outcomes = ", ".join(REPORT.get((path, method), ["not run"]))
        lines.append(f"{method.upper():6} {path:40} {outcomes}")
    validated = sum(o.endswith(" ok") for outs in REPORT.values() for o in outs)
    failed = sum(o.endswith("FAIL") for outs in REPORT.values() for o in outs)
    undocumented = sum(o.endswith("undocumented") for outs in REPORT.values() for o in outs)
    print("\n".join(lines))
    print(f"{len(REPORT)} operations; responses: {validated} validate, {failed} fail, "
          f"{undocumented} with a status Wazuh does not declare")


# -- the spec itself --------------------------------------------------------------------


def test_assembled_spec_is_valid_openapi_30(ours):
    """Against the official OpenAPI 3.0 meta-schema (shipped with schemathesis), and every
    local $ref resolves (schemathesis's loader then reads every operation)."""
    import jsonschema_rs
    import schemathesis
    from schemathesis.specs.openapi.definitions import OPENAPI_30

    assert str(ours["openapi"]).startswith("3.0")
    validator = jsonschema_rs.Draft4Validator(OPENAPI_30)
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}"
              for e in validator.iter_errors(ours)]
    assert not errors, "\n".join(errors[:20])

    def refs(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    dangling = []
    for ref in set(refs(ours)):
        target = ours
        try:
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
        except (KeyError, TypeError):
            dangling.append(ref)
    assert not dangling, f"unresolvable $refs: {sorted(dangling)}"

    schema = schemathesis.openapi.from_dict(copy.deepcopy(ours))
    operations = [result.ok() for result in schema.get_all_operations()]
    count = sum(len([m for m in item if m in METHODS]) for item in ours["paths"].values())
    assert len(operations) == count


def _parameters(spec: dict, path: str, method: str) -> dict[tuple[str, str], dict]:
    from wazuhd_http.spec import resolve

    item = spec["paths"][path]
    declared = item.get("parameters", []) + item[method].get("parameters", [])
    out = {}
    for parameter in (resolve(p, spec) for p in declared):
        schema = parameter.get("schema", {})
        kind = schema.get("type")
        if kind == "array":
            kind = f"array of {schema.get('items', {}).get('type')}"
        out[(parameter["in"], parameter["name"])] = {
            "type": kind, "required": bool(parameter.get("required")),
            "format": schema.get("format") or schema.get("items", {}).get("format")}
    return out


#: Format differences kept on purpose: (operation, parameter) -> why.
KNOWN_FORMAT_DIFFERENCES = {
    ("POST /security/users/{user_id}/roles", "role_ids"):
        "Wazuh's spec says numbers_or_all, but its set_user_role does int(role_id): 'all' "
        "cannot work there; ours accepts numbers only (400 instead of an error item)",
}


def test_parameters_match_wazuh(ours, wazuh):
    """Names, locations, required-ness, types and string formats of every shared
    operation's parameters (format regexes themselves are spec.py's FORMATS)."""
    mismatches, format_notes = [], []
    for path, method in shared_operations(ours, wazuh):
        mine, theirs = _parameters(ours, path, method), _parameters(wazuh.spec, path, method)
        op = f"{method.upper()} {path}"
        for key in sorted(set(mine) | set(theirs)):
            where = f"{op}: {key[0]} parameter {key[1]!r}"
            if key not in theirs:
                mismatches.append(f"{where}: ours only")
            elif key not in mine:
                mismatches.append(f"{where}: Wazuh's only")
            else:
                for aspect in ("type", "required"):
                    if mine[key][aspect] != theirs[key][aspect]:
                        mismatches.append(f"{where}: {aspect} {mine[key][aspect]!r}, "
                                          f"Wazuh {theirs[key][aspect]!r}")
                if mine[key]["format"] != theirs[key]["format"]:
                    text = (f"{where}: format {mine[key]['format']!r}, "
                            f"Wazuh {theirs[key]['format']!r}")
                    known = KNOWN_FORMAT_DIFFERENCES.get((op, key[1]))
                    if known:
                        format_notes.append(f"{text} ({known})")
                    else:
                        mismatches.append(text)
    print("known format differences:\n  " + "\n  ".join(format_notes or ["none"]))
    assert not mismatches, "\n".join(mismatches)
