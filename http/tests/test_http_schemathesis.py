"""schemathesis against the running daemon's own assembled spec: /security/* and GET /.

Per operation, a bounded number of generated cases (positive: data the spec allows;
then negative: data it forbids) is sent over HTTPS to a daemon of this module's own,
authenticated with a JWT from the admin's login (HTTP Basic for the login operations).
Checks on every response: not a server error (no 5xx), status code declared by our
spec, content type declared for that status, body valid against the declared schema.

Destructive operations stay in. What could lock the test out is handled so:
- tokens revoked by an operation (revoke, logout, security config, role changes):
  a 401 on a JWT operation logs in again and replays the case once;
- the default users' ids (1, 2) are never generated as ``{user_id}``, so the admin's
  password and roles cannot change (default roles, policies and rules are protected by
  the daemon: error 4008; ``DELETE /security/users?user_ids=1`` fails with 5004);
- the daemon runs with no request limit and a login-attempt limit high enough that
  generated failed logins cannot block 127.0.0.1.

Run with ``-rP`` (or ``-s``) to see the per-operation counts.
"""

from __future__ import annotations

import base64
import time

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                                response_schema_conformance,
                                                status_code_conformance)

from conftest import ApiDaemon

POSITIVE_EXAMPLES = 8
NEGATIVE_EXAMPLES = 4
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
PROTECTED_USERS = {1, 2}

# Wazuh's string formats, so that generated ids and names are mostly accepted values
schemathesis.openapi.format("numbers", st.from_regex(r"\A[0-9]{1,3}\Z"))
schemathesis.openapi.format("numbers_or_all",
                            st.from_regex(r"\A[0-9]{1,3}\Z") | st.just("all"))
schemathesis.openapi.format("names", st.from_regex(r"\A[A-Za-z0-9_.\-]{4,20}\Z"))
schemathesis.openapi.format("sort", st.from_regex(r"\A[+-]?id\Z"))  # every kind has an id
schemathesis.openapi.format("search", st.from_regex(r"\A-?[A-Za-z0-9_.]{1,8}\Z"))
schemathesis.openapi.format("password", st.from_regex(r"\A[A-Za-z0-9]{4,12}\Z").map(
    lambda text: f"Wz{text}9!"))  # passes the password policy, so users get created


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    daemon = ApiDaemon(tmp_path_factory.mktemp("fuzz") / "home",
                       api="  access:\n    max_request_per_minute: 0\n"
                           "    max_login_attempts: 1000000\n").start()
    yield daemon
    daemon.terminate()


class Auth:
    def __init__(self, daemon: ApiDaemon):
        self.daemon = daemon
        self.basic = "Basic " + base64.b64encode(b"wazuh:wazuh").decode()
        self.refresh()

    def refresh(self) -> None:
        self.token = self.daemon.login()

    def headers(self, operation) -> dict[str, str]:
        schemes = {name for requirement in operation.definition.raw.get("security", [{"jwt": []}])
                   for name in requirement}
        if "basicAuth" in schemes:
            return {"Authorization": self.basic}
        if "jwt" in schemes:
            return {"Authorization": f"Bearer {self.token}"}
        return {}


def _touches_protected_user(case) -> bool:
    user_id = (case.path_parameters or {}).get("user_id")
    try:
        return user_id is not None and int(user_id) in PROTECTED_USERS
    except ValueError:
        return False


def test_schemathesis_security_and_info(daemon):
    with daemon.client() as client:
        spec = yaml.safe_load(client.get("/api/spec.yaml").text)
    schema = schemathesis.openapi.from_dict(spec).include(
        path_regex=r"^(/|/security/.*)$")
    auth = Auth(daemon)
    verify = str(daemon.certificate)
    stats: dict[str, dict] = {}
    failures: list[str] = []
    began = time.monotonic()

    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        record = stats.setdefault(label, {"examples": 0, "statuses": set(), "failures": 0})
        for mode, examples in ((GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
                               (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)):
            strategy = operation.as_strategy(generation_mode=mode).filter(
                lambda case: not _touches_protected_user(case))

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case):
                headers = auth.headers(operation)
                kwargs = {"base_url": daemon.url, "headers": headers, "verify": verify,
                          "timeout": 30}
                response = case.call(**kwargs)
                if response.status_code == 401 and headers.get("Authorization", "").startswith(
                        "Bearer"):
                    auth.refresh()  # an earlier case revoked our token
                    kwargs["headers"] = auth.headers(operation)
                    response = case.call(**kwargs)
                record["examples"] += 1
                record["statuses"].add(response.status_code)
                case.validate_response(response, checks=CHECKS, headers=kwargs["headers"],
                                       transport_kwargs={k: v for k, v in kwargs.items()
                                                         if k != "headers"})

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all
                record["failures"] += 1
                failures.append(f"{label} ({mode.value}):\n{exc}")

    elapsed = time.monotonic() - began
    total = sum(r["examples"] for r in stats.values())
    print(f"\nschemathesis: {len(stats)} operations, {total} requests, "
          f"{len(failures)} failing operation runs, {elapsed:.1f} s")
    for label, record in stats.items():
        print(f"  {label:48} {record['examples']:3} requests, statuses "
              f"{sorted(record['statuses'])}{'  FAILED' if record['failures'] else ''}")
    assert len(stats) >= 30, sorted(stats)
    assert not failures, "\n\n".join(failures)
