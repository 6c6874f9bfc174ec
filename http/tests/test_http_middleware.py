"""What every request goes through, seen from a real HTTPS client: security headers, CORS,
body size, request timeout, rate limit, brute-force block, validation errors, 404/405,
the access log and HTTP/2."""

from __future__ import annotations

import json
import ssl
import time

import httpx
import pytest

from wazuhd.testing import assert_problem

PASSWORD = "Str0ng.Passw0rd"

SECURITY_HEADERS = {
    "strict-transport-security": "max-age=63072000; includeSubdomains",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "x-xss-protection": "0",
    "content-security-policy": "none",
    "referrer-policy": "no-referrer, strict-origin-when-cross-origin",
    "cache-control": "no-store",
}


def client_from(daemon, address: str, token: str | None = None) -> httpx.Client:
    """A client whose connections leave from ``address`` (another loopback IP)."""
    verify = ssl.create_default_context(cafile=str(daemon.certificate))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=daemon.url, headers=headers, timeout=30,
                        transport=httpx.HTTPTransport(local_address=address, verify=verify))


# -- headers, 404, 405, HTTP/2 -----------------------------------------------------------------


def test_security_headers_on_every_response(api):
    token = api.login()
    with api.client() as anonymous, api.client(token) as client:
        replies = [
            anonymous.get("/"),                                          # 200, public
            client.get("/security/users"),                               # 200, authenticated
            anonymous.get("/security/users"),                            # 401
            anonymous.post("/security/user/authenticate", auth=("wazuh", "bad")),  # 401 login
            client.get("/security/users", params={"limit": "many"}),     # 400
            client.get("/no/such/path"),                                 # 404
            client.patch("/security/users"),                             # 405
        ]
    assert [r.status_code for r in replies] == [200, 200, 401, 401, 400, 404, 405]
    for reply in replies:
        for name, value in SECURITY_HEADERS.items():
            assert reply.headers.get(name) == value, (reply.request.url, name, reply.headers)


def test_unknown_path_is_404_and_wrong_method_405(api):
    with api.client(api.login()) as client:
        assert_problem(client.get("/security/nothing-here"), 404)
        assert_problem(client.put("/security/users"), 405)
        assert_problem(client.post("/"), 405)


def test_http2_is_negotiated(api):
    verify = ssl.create_default_context(cafile=str(api.certificate))
    with httpx.Client(base_url=api.url, verify=verify, http2=True) as client:
        info = client.get("/")
        login = client.post("/security/user/authenticate", auth=("wazuh", "wazuh"))
    assert info.http_version == "HTTP/2" and info.status_code == 200
    assert login.http_version == "HTTP/2" and login.status_code == 200
    assert info.headers["x-frame-options"] == "DENY"


# -- parameter validation ----------------------------------------------------------------------


@pytest.mark.parametrize("method, path, kwargs, named", [
    ("GET", "/security/users", {"params": {"limit": "many"}}, "limit"),             # wrong type
    ("GET", "/security/users", {"params": {"offset": "-1"}}, "offset"),             # out of range
    ("GET", "/security/users", {"params": {"pretty": "maybe"}}, "pretty"),          # not a boolean
    ("GET", "/security/users", {"params": {"colour": "blue"}}, "colour"),           # extra parameter
    ("DELETE", "/security/users", {}, "user_ids"),                                  # missing required
    ("PUT", "/security/users/abc", {"json": {"password": PASSWORD}}, "user_id"),    # bad path value
    ("POST", "/security/users", {"json": {"username": "validname"}}, "password"),   # missing field
    ("POST", "/security/users", {"json": {"username": 12345, "password": PASSWORD}}, "username"),
    ("PUT", "/security/config", {"json": {"rbac_mode": "grey"}}, "rbac_mode"),      # not in enum
])
def test_invalid_requests_are_400_naming_the_culprit(api, method, path, kwargs, named):
    with api.client(api.login()) as client:
        body = assert_problem(client.request(method, path, **kwargs), 400)
    assert named in body["detail"]
    assert body["title"] == "Bad Request"


def test_body_that_is_not_json_is_400(api):
    with api.client(api.login()) as client:
        reply = client.post("/security/users", content=b'{"username": "x", ',
                            headers={"Content-Type": "application/json"})
        body = assert_problem(reply, 400)
    assert "JSON" in body["detail"]


def test_anonymous_invalid_request_is_401_not_400(api):
    """Authentication comes first, as in Wazuh: no validation detail leaks to a stranger."""
    with api.client() as client:
        assert_problem(client.get("/security/users", params={"limit": "many"}), 401)


# -- CORS ---------------------------------------------------------------------------------------


def test_cors_follows_the_configuration(api, api_factory):
    origin = "https://dashboard.example"
    cors = api_factory(api="  cors:\n    enabled: true\n"
                           f"    source_route: {origin}\n"
                           "    expose_headers: Content-Type\n"
                           "    allow_headers: Authorization, Content-Type\n"
                           "    allow_credentials: true\n")
    with cors.client() as client:
        preflight = client.options("/security/users", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization"})
        allowed = client.get("/", headers={"Origin": origin})
        stranger = client.get("/", headers={"Origin": "https://evil.example"})
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "Authorization, Content-Type"
    assert allowed.headers["access-control-allow-origin"] == origin
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert allowed.headers["access-control-expose-headers"] == "Content-Type"
    assert "access-control-allow-origin" not in stranger.headers
    # Disabled (the default): no CORS header at all.
    with api.client() as client:
        plain = client.get("/", headers={"Origin": origin})
    assert not [name for name in plain.headers if name.startswith("access-control-")]


# -- body size and request timeout -------------------------------------------------------------


def test_body_over_max_upload_size_is_413(api_factory):
    small = api_factory(api="  max_upload_size: 400\n")
    with small.client(small.login()) as client:
        fits = client.post("/security/users", json={"username": "fits", "password": PASSWORD})
        big = {"username": "toolarge", "password": PASSWORD, "padding": "x" * 600}
        declared = client.post("/security/users", json=big)

        def chunks():  # no Content-Length: the limit must hold while streaming too
            data = json.dumps(big).encode()
            for start in range(0, len(data), 100):
                yield data[start:start + 100]
        streamed = client.post("/security/users", content=chunks(),
                               headers={"Content-Type": "application/json"})
        users = client.get("/security/users").json()["data"]["affected_items"]
    assert fits.status_code == 200, fits.text
    for reply in (declared, streamed):
        assert_problem(reply, 413)
        assert reply.headers["x-frame-options"] == "DENY"
    assert "toolarge" not in [u["username"] for u in users]


def test_request_over_request_timeout_answers_3021(api_factory):
    """A request whose handler outlasts ``intervals.request_timeout`` gets error 3021 instead
    of hanging; ``wait_for_complete=true`` lifts the limit. The slow handler is a real one:
    creating a user hashes its password with scrypt (tens of ms), far over a 5 ms timeout.
    The token comes from a first run with the default timeout (a login hashes too)."""
    daemon = api_factory()
    token = daemon.login()
    daemon.terminate()
    config = daemon.home / "etc" / "wazuhd.yaml"
    config.write_text(config.read_text() + "  intervals:\n    request_timeout: 0.005\n")
    daemon.start()
    with daemon.client(token) as client:
        began = time.monotonic()
        slow = client.post("/security/users", json={"username": "slowpoke", "password": PASSWORD})
        elapsed = time.monotonic() - began
        patient = client.post("/security/users", params={"wait_for_complete": "true"},
                              json={"username": "patient", "password": PASSWORD})
    body = assert_problem(slow, 500, 3021)
    assert "Timeout" in body["detail"]
    assert elapsed < 5
    assert patient.status_code == 200, patient.text


# -- rate limit and brute force ---------------------------------------------------------------


def test_rate_limit_is_per_user(api_factory):
    daemon = api_factory(api="  access:\n    max_request_per_minute: 4\n")
    busy, quiet = daemon.login(), daemon.login("wazuh-wui", "wazuh")
    with daemon.client(busy) as client:
        statuses = [client.get("/security/users/me").status_code for _ in range(4)]
        limited = client.get("/security/users/me")
        again = client.get("/security/users")
    assert statuses == [200] * 4
    for reply in (limited, again):
        assert_problem(reply, 429, 6001)
        assert 1 <= int(reply.headers["retry-after"]) <= 60
    with daemon.client(quiet) as client:
        assert client.get("/security/users/me").status_code == 200


def test_bad_tokens_count_against_the_callers_ip(api_factory):
    daemon = api_factory(api="  access:\n    max_request_per_minute: 3\n")
    with daemon.client("not-a-token") as client:
        statuses = [client.get("/security/users/me").status_code for _ in range(3)]
        limited = client.get("/security/users/me")
    assert statuses == [401] * 3
    assert_problem(limited, 429, 6001)


def test_failed_logins_block_the_ip(api_factory):
    daemon = api_factory(api="  access:\n    max_login_attempts: 3\n    block_time: 2\n")
    token = daemon.login()
    with daemon.client() as client:
        # Failures further apart than block_time do not add up.
        for _ in range(2):
            assert_problem(client.post("/security/user/authenticate", auth=("wazuh", "bad")), 401)
        time.sleep(2.1)
        assert_problem(client.post("/security/user/authenticate", auth=("wazuh", "bad")), 401)
        assert client.post("/security/user/authenticate", auth=("wazuh", "wazuh")).status_code == 200
    with client_from(daemon, "127.0.0.3") as client:
        # Three within block_time: this IP is blocked, even with the right password.
        for _ in range(3):
            assert_problem(client.post("/security/user/authenticate", auth=("nobody", "bad")), 401)
        assert_problem(client.post("/security/user/authenticate", auth=("wazuh", "wazuh")), 403, 6000)
        assert_problem(client.get("/security/users/me", headers={"Authorization": f"Bearer {token}"}),
                       403, 6000)
    with client_from(daemon, "127.0.0.4") as client:
        # A successful login in between does not wipe the count (else an attacker with any
        # account could guess another's password forever).
        assert_problem(client.post("/security/user/authenticate", auth=("wazuh-wui", "guess1")), 401)
        assert client.post("/security/user/authenticate", auth=("wazuh", "wazuh")).status_code == 200
        assert_problem(client.post("/security/user/authenticate", auth=("wazuh-wui", "guess2")), 401)
        assert_problem(client.post("/security/user/authenticate", auth=("wazuh-wui", "guess3")), 401)
        assert_problem(client.post("/security/user/authenticate", auth=("wazuh", "wazuh")), 403, 6000)
    with daemon.client(token) as client:  # other IPs are unaffected
        assert client.get("/security/users/me").status_code == 200
    time.sleep(2.1)
    with client_from(daemon, "127.0.0.3", token) as client:  # block_time later: unblocked
        assert client.get("/security/users/me").status_code == 200
        assert client.post("/security/user/authenticate", auth=("wazuh", "wazuh")).status_code == 200


def test_guards_forget_idle_callers():
    """Many distinct callers (anonymous requests keyed by IP) must not grow memory forever."""
    from wazuhd_http.guards import LoginGuard, RequestRateLimiter

    now = [1000.0]
    limiter = RequestRateLimiter(5, clock=lambda: now[0])
    for n in range(100):
        assert limiter.check(f"ip:10.0.0.{n}") is None
    now[0] += 61
    assert limiter.check("ip:10.0.1.1") is None
    assert len(limiter._hits) == 1
    guard = LoginGuard(3, 10, clock=lambda: now[0])
    for n in range(100):
        guard.failed(f"10.0.0.{n}")
    for _ in range(3):
        guard.failed("10.9.9.9")
    assert guard.blocked("10.9.9.9")
    now[0] += 11
    guard.failed("10.0.2.1")
    assert len(guard._failures) == 1 and not guard._blocked_until
    assert not guard.blocked("10.9.9.9")


# -- access log --------------------------------------------------------------------------------


def _lines(path, wait: float = 2.0) -> list[str]:
    deadline = time.monotonic() + wait
    while True:
        text = path.read_text() if path.exists() else ""
        if text or time.monotonic() > deadline:
            return text.splitlines()
        time.sleep(0.05)


def test_access_log_plain_and_json_with_secrets_masked(api_factory):
    daemon = api_factory(api="  logs:\n    format: [plain, json]\n")
    token = daemon.login()
    secret_token = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl"
    with daemon.client(token) as client:
        created = client.post("/security/users", json={"username": "logged", "password": PASSWORD})
        assert created.status_code == 200, created.text
        weak = client.post("/security/users", json={"username": "weakling", "password": "Wk!1x"})
        assert weak.status_code == 400
        client.get("/security/users", params={"search": "logged", "token": secret_token})
        client.get("/security/users", params={"limit": 1, "q": "username=logged"})
        assert client.get("/no/such/path").status_code == 404
    with daemon.client() as client:
        client.post("/security/user/authenticate", auth=("wazuh", "wrong-pass"))
    plain = _lines(daemon.home / "logs" / "api.log")
    records = [json.loads(line) for line in _lines(daemon.home / "logs" / "api.json")]
    everything = "\n".join(plain) + json.dumps(records)
    for secret in (PASSWORD, "Wk!1x", secret_token, token, "wrong-pass"):
        assert secret not in everything

    def plain_line(fragment, index=-1):
        found = [line for line in plain if fragment in line]
        assert found, (fragment, plain)
        return found[index]

    login = plain_line('"POST /security/user/authenticate"', 0)
    assert " wazuh 127.0.0.1 " in login and login.endswith(": 200")
    create = plain_line('"POST /security/users"', 0)
    assert " wazuh 127.0.0.1 " in create and '"username": "logged"' in create
    assert '"password": "****"' in create and create.endswith(": 200")
    assert '"password": "****"' in plain_line('"username": "weakling"')  # rejected, still logged
    query = plain_line('"q": "username=logged"')
    assert '"limit": "1"' in query and " done in " in query
    assert '"token": "****"' in plain_line('"search": "logged"')
    assert " wazuh 127.0.0.1 " in plain_line('"GET /no/such/path"') and plain[-2].endswith(": 404")
    failed_login = plain_line('"POST /security/user/authenticate"')
    assert failed_login == plain[-1] and failed_login.endswith(": 401")
    assert " wazuh 127.0.0.1 " in failed_login

    payloads = [record["data"]["payload"] for record in records]
    created = next(p for p in payloads if p["body"].get("username") == "logged")
    assert created["user"] == "wazuh" and created["ip"] == "127.0.0.1"
    assert created["http_method"] == "POST" and created["uri"] == "POST /security/users"
    assert created["status_code"] == 200 and created["body"]["password"] == "****"
    assert created["time"].endswith("s") and float(created["time"][:-1]) >= 0
    queried = next(p for p in payloads if p["parameters"].get("q") == "username=logged")
    assert queried["parameters"]["limit"] == "1"
    assert len(payloads) == len(plain)


def test_access_log_level_warning_keeps_only_failed_requests(api_factory):
    daemon = api_factory(api="  logs:\n    level: warning\n")
    token = daemon.login()
    with daemon.client(token) as client:
        assert client.get("/security/users").status_code == 200
        assert client.get("/security/users", params={"limit": 0}).status_code == 400
    lines = _lines(daemon.home / "logs" / "api.log")
    assert len(lines) == 1 and "WARNING" in lines[0] and lines[0].endswith(": 400")
