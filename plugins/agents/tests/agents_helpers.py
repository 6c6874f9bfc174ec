"""Shared helpers of the agents plugin's tests: a real daemon over HTTPS on a free port.

(Not a conftest.py: test folders of several distributions run in one pytest session.)
"""

from __future__ import annotations

from pathlib import Path

from wazuhd.testing import ApiDaemon, wazuh_spec_path

WAZUH_SPEC = wazuh_spec_path()
PASSWORD = "Ag3nts!Passw0rd"


class AgentsDaemon(ApiDaemon):
    """The host's API daemon, with no request limit and quick agent status checks."""

    def __init__(self, home: Path, extra: str = ""):
        super().__init__(home, api="  access:\n    max_request_per_minute: 0\n",
                         extra=f"agents:\n  status_check_interval: 0.2\n  client_keys_delay: 0.1\n{extra}")


class Api:
    """An admin session plus helpers to make users limited by policies."""

    def __init__(self, daemon: AgentsDaemon):
        self.daemon = daemon
        self.token = daemon.login()
        self.http = daemon.client(self.token)
        self.counter = 0

    def __getattr__(self, method):
        return getattr(self.http, method)

    def ok(self, reply) -> dict:
        assert reply.status_code == 200, reply.text
        return reply.json()

    def user_with_policy(self, actions: list[str], resources: list[str], effect: str = "allow",
                         more: list[dict] = ()):
        """A client logged in as a new user whose one role holds this policy (and ``more``)."""
        self.counter += 1
        n = self.counter
        policies = [{"actions": actions, "resources": resources, "effect": effect}, *more]
        policy_ids = []
        for i, policy in enumerate(policies):
            reply = self.ok(self.http.post("/security/policies", json={"name": f"agents_p{n}_{i}", "policy": policy}))
            policy_ids.append(reply["data"]["affected_items"][0]["id"])
        role = self.ok(self.http.post("/security/roles", json={"name": f"agents_r{n}"}))["data"]["affected_items"][0]["id"]
        self.ok(self.http.post(f"/security/roles/{role}/policies",
                               params={"policy_ids": ",".join(map(str, policy_ids))}))
        user = self.ok(self.http.post("/security/users", json={"username": f"agents_u{n}", "password": PASSWORD}))
        user_id = user["data"]["affected_items"][0]["id"]
        self.ok(self.http.post(f"/security/users/{user_id}/roles", params={"role_ids": str(role)}))
        return self.daemon.client(self.daemon.login(f"agents_u{n}", PASSWORD))
