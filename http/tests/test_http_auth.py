"""Authentication end to end, over real HTTPS: login, tokens, expiry, revocation, run_as.

Every test logs in for itself: some tests revoke every token (config change, revoke-all),
so no token is shared between tests.
"""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from wazuhd.testing import assert_problem

PASSWORD = "Str0ng.Passw0rd"


def claims_of(token: str) -> dict:
    """The JWT payload as any client can read it (no signature check)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def ok(reply) -> dict:
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["error"] == 0, body
    return body


def create_user(api, admin: str, username: str, password: str = PASSWORD,
                roles: list[int] = (), run_as: bool = False) -> int:
    with api.client(admin) as client:
        user = ok(client.post("/security/users", json={"username": username, "password": password}))
        user_id = user["data"]["affected_items"][0]["id"]
        if roles:
            ok(client.post(f"/security/users/{user_id}/roles",
                           params={"role_ids": ",".join(map(str, roles))}))
        if run_as:
            ok(client.put(f"/security/users/{user_id}/run_as", params={"allow_run_as": "true"}))
    return user_id


def status_with(api, token: str, path: str = "/security/users/me") -> int:
    with api.client(token) as client:
        return client.get(path).status_code


# -- login ------------------------------------------------------------------------------------


def test_post_login_returns_a_jwt_that_opens_the_api(api):
    with api.client() as client:
        body = ok(client.post("/security/user/authenticate", auth=("wazuh", "wazuh")))
    token = body["data"]["token"]
    assert jwt.get_unverified_header(token)["alg"] == "ES512"
    claims = claims_of(token)
    assert claims["sub"] == "wazuh" and claims["iss"] == "wazuh"
    assert claims["rbac_roles"] == [1] and claims["run_as"] is False
    with api.client(token) as client:
        me = ok(client.get("/security/users/me"))["data"]["affected_items"][0]
    assert me["username"] == "wazuh"
    assert [role["name"] for role in me["roles"]] == ["administrator"]


def test_deprecated_get_login_and_raw_text_token(api):
    with api.client() as client:
        raw = client.get("/security/user/authenticate", auth=("wazuh-wui", "wazuh"),
                         params={"raw": "true"})
        raw_post = client.post("/security/user/authenticate", auth=("wazuh", "wazuh"),
                               params={"raw": "true"})
        as_json = client.get("/security/user/authenticate", auth=("wazuh", "wazuh"))
    for reply in (raw, raw_post):
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/plain")
        assert reply.text.count(".") == 2 and not reply.text.startswith("{")
    assert claims_of(raw.text)["sub"] == "wazuh-wui"
    assert status_with(api, raw.text) == 200
    assert status_with(api, ok(as_json)["data"]["token"]) == 200


@pytest.mark.parametrize("auth", [("wazuh", "not-the-password"), ("nobody", "wazuh"), ("wazuh", "")])
def test_bad_credentials_are_401(api, auth):
    with api.client() as client:
        body = assert_problem(client.post("/security/user/authenticate", auth=auth), 401)
    assert "token" not in json.dumps(body)


def test_requests_without_a_valid_token_are_401(api):
    token = api.login()
    tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    other_key = jwt.encode({**claims_of(token)}, _other_private_key(), algorithm="ES512")
    with api.client() as client:
        assert_problem(client.get("/security/users"), 401)
        assert_problem(client.get("/security/users", headers={"Authorization": f"Basic {token}"}), 401)
        for bad in ("not.a.jwt", tampered, other_key):
            assert_problem(client.get("/security/users", headers={"Authorization": f"Bearer {bad}"}),
                           401)


def _other_private_key():
    from cryptography.hazmat.primitives.asymmetric import ec
    return ec.generate_private_key(ec.SECP521R1())


# -- lifetime ---------------------------------------------------------------------------------


def test_token_lifetime_follows_auth_token_exp_timeout(api):
    token = api.login()
    claims = claims_of(token)
    assert claims["exp"] - claims["nbf"] == 900  # the default
    assert claims["nbf"] <= time.time() + 1
    with api.client(token) as client:
        ok(client.put("/security/config", json={"auth_token_exp_timeout": 3600}))
        # A change of the security configuration revokes every token, as in Wazuh.
        assert_problem(client.get("/security/config"), 401)
    fresh = api.login()
    claims = claims_of(fresh)
    assert claims["exp"] - claims["nbf"] == 3600
    assert claims["exp"] - int(claims["iat"]) == 3600
    with api.client(fresh) as client:
        assert ok(client.get("/security/config"))["data"]["auth_token_exp_timeout"] == 3600
        too_short = client.put("/security/config", json={"auth_token_exp_timeout": 5})
        assert "auth_token_exp_timeout" in assert_problem(too_short, 400)["detail"]
        ok(client.delete("/security/config"))
    restored = api.login()
    assert claims_of(restored)["exp"] - claims_of(restored)["nbf"] == 900


def test_expired_token_is_refused(api):
    """A token signed with the daemon's own key, valid in every way but ``exp``: the daemon
    must refuse it once expired (the control, same claims with a future ``exp``, passes)."""
    key = (api.home / "etc" / "api" / "jwt_private.key").read_bytes()
    claims = claims_of(api.login())
    now = time.time()
    claims.update(iat=now, nbf=int(now) - 600)
    valid = jwt.encode({**claims, "exp": int(now) + 60}, key, algorithm="ES512")
    expired = jwt.encode({**claims, "exp": int(now) - 1}, key, algorithm="ES512")
    assert status_with(api, valid) == 200
    with api.client(expired) as client:
        assert_problem(client.get("/security/users/me"), 401)


# -- logout and revocation --------------------------------------------------------------------


def test_logout_invalidates_the_callers_tokens_only(api):
    first, second = api.login(), api.login()
    other = api.login("wazuh-wui", "wazuh")
    with api.client(first) as client:
        ok(client.delete("/security/user/authenticate"))
    assert status_with(api, first) == 401
    assert status_with(api, second) == 401  # every token of that user
    assert status_with(api, other) == 200
    assert status_with(api, api.login()) == 200  # logging in again works


def test_revoke_invalidates_every_token(api):
    mine, theirs = api.login(), api.login("wazuh-wui", "wazuh")
    with api.client(mine) as client:
        assert "revoked" in ok(client.put("/security/user/revoke"))["message"]
    assert status_with(api, mine) == 401
    assert status_with(api, theirs) == 401
    assert status_with(api, api.login()) == 200


def test_password_change_invalidates_tokens_and_the_old_password(api):
    admin = api.login()
    user_id = create_user(api, admin, "pwchange", roles=[2])
    token = api.login("pwchange", PASSWORD)
    assert status_with(api, token) == 200
    with api.client(admin) as client:
        ok(client.put(f"/security/users/{user_id}", json={"password": "N3w.Passw0rd!"}))
        assert_problem(client.post("/security/user/authenticate", auth=("pwchange", PASSWORD)), 401)
    assert status_with(api, token) == 401
    assert status_with(api, admin) == 200  # other users keep their tokens
    assert status_with(api, api.login("pwchange", "N3w.Passw0rd!")) == 200


def test_role_change_invalidates_the_users_tokens(api):
    admin = api.login()
    user_id = create_user(api, admin, "rolechange", roles=[2])
    token = api.login("rolechange", PASSWORD)
    assert claims_of(token)["rbac_roles"] == [2]
    with api.client(admin) as client:
        ok(client.post(f"/security/users/{user_id}/roles", params={"role_ids": "3"}))
    assert status_with(api, token) == 401
    token = api.login("rolechange", PASSWORD)
    assert claims_of(token)["rbac_roles"] == [2, 3]
    with api.client(admin) as client:
        ok(client.delete(f"/security/users/{user_id}/roles", params={"role_ids": "3"}))
    assert status_with(api, token) == 401


def test_policy_change_invalidates_tokens_of_its_roles(api):
    admin = api.login()
    with api.client(admin) as client:
        role = ok(client.post("/security/roles", json={"name": "policy_change_role"}))
        role_id = role["data"]["affected_items"][0]["id"]
        policy = ok(client.post("/security/policies", json={"name": "policy_change_read", "policy": {
            "actions": ["security:read"], "resources": ["user:id:*"], "effect": "allow"}}))
        policy_id = policy["data"]["affected_items"][0]["id"]
        ok(client.post(f"/security/roles/{role_id}/policies", params={"policy_ids": str(policy_id)}))
    create_user(api, admin, "policychange", roles=[role_id])
    bystander = create_user(api, admin, "policybystander", roles=[2])
    token = api.login("policychange", PASSWORD)
    other = api.login("policybystander", PASSWORD)
    with api.client(token) as client:
        users = ok(client.get("/security/users"))["data"]["affected_items"]
    assert bystander in [u["id"] for u in users]
    with api.client(admin) as client:
        ok(client.put(f"/security/policies/{policy_id}", json={"policy": {
            "actions": ["security:read"], "resources": ["user:id:1"], "effect": "allow"}}))
    assert status_with(api, token) == 401
    assert status_with(api, other) == 200  # a user without that role keeps its token
    token = api.login("policychange", PASSWORD)
    with api.client(token) as client:
        users = ok(client.get("/security/users"))["data"]["affected_items"]
    assert [u["id"] for u in users] == [1]  # the new policy applies to the new token


# -- run_as -----------------------------------------------------------------------------------


def test_run_as_login_gets_the_roles_whose_rules_match(api):
    admin = api.login()
    with api.client(admin) as client:
        role_id = ok(client.post("/security/roles", json={"name": "run_as_team"}))[
            "data"]["affected_items"][0]["id"]
        rule_id = ok(client.post("/security/rules", json={
            "name": "run_as_team_rule", "rule": {"FIND": {"department": "security"}}}))[
            "data"]["affected_items"][0]["id"]
        ok(client.post(f"/security/roles/{role_id}/rules", params={"rule_ids": str(rule_id)}))
        ok(client.post(f"/security/roles/{role_id}/policies", params={"policy_ids": "1"}))
    create_user(api, admin, "runner", run_as=True)
    create_user(api, admin, "norunner", run_as=False)
    context = {"user": {"name": "ann", "department": ["security", "it"]}}
    with api.client() as client:
        matched = ok(client.post("/security/user/authenticate/run_as", auth=("runner", PASSWORD),
                                 json=context))["data"]["token"]
        unmatched = ok(client.post("/security/user/authenticate/run_as", auth=("runner", PASSWORD),
                                   json={"user": {"department": ["sales"]}}))["data"]["token"]
        refused = client.post("/security/user/authenticate/run_as", auth=("norunner", PASSWORD),
                              json=context)
        raw = client.post("/security/user/authenticate/run_as", auth=("runner", PASSWORD),
                          json=context, params={"raw": "true"})
        wrong = client.post("/security/user/authenticate/run_as", auth=("runner", "nope"),
                            json=context)
    assert_problem(refused, 403, 6004)
    assert_problem(wrong, 401)
    assert raw.headers["content-type"].startswith("text/plain")
    assert claims_of(raw.text)["rbac_roles"] == [role_id]
    assert claims_of(matched)["run_as"] is True
    assert claims_of(matched)["rbac_roles"] == [role_id]
    assert claims_of(unmatched)["rbac_roles"] == []
    with api.client(matched) as client:
        me = ok(client.get("/security/users/me"))["data"]["affected_items"][0]
        assert [r["name"] for r in me["roles"]] == ["run_as_team"]
    # A change to the rules ends every run_as token; ordinary tokens stay.
    with api.client(admin) as client:
        ok(client.put(f"/security/rules/{rule_id}", json={"rule": {"FIND": {"department": "it"}}}))
    assert status_with(api, matched) == 401
    assert status_with(api, admin) == 200


def test_default_rules_only_serve_wazuh_wui(api):
    """Wazuh's default authorization-context rules (``FIND username: elastic`` -> administrator)
    are for the dashboard's user; another user sending the same context gets no role."""
    context = {"username": "elastic"}
    with api.client() as client:
        wui = client.post("/security/user/authenticate/run_as", auth=("wazuh-wui", "wazuh"),
                          json=context)
        other = client.post("/security/user/authenticate/run_as", auth=("wazuh", "wazuh"),
                            json=context)
    assert claims_of(ok(wui)["data"]["token"])["rbac_roles"] == [1]
    assert claims_of(ok(other)["data"]["token"])["rbac_roles"] == []
