"""Shared helpers of the syscheck plugin's tests: a monitor on a real store, a daemon with
Wazuh's ruleset, reading alerts.

(Not a conftest.py: test folders of several distributions run in one pytest session.)
"""

from __future__ import annotations

import json
from pathlib import Path

from wazuhd.store import Store
from wazuhd.testing import ApiDaemon, shared_dir, wait_for

from wazuhd_syscheck import baseline
from wazuhd_syscheck.monitor import Monitor
from wazuhd_syscheck.options import Settings

WAZUH_RULESET = shared_dir() / "wazuh-ruleset"
HAS_WAZUH_RULESET = (WAZUH_RULESET / "rules").is_dir()


class Sent:
    """The events a monitor sent, decoded."""

    def __init__(self):
        self.events = []

    async def __call__(self, events):
        self.events.extend(events)

    def take(self) -> list[dict]:
        out = [json.loads(event.message)["data"] for event in self.events]
        for event in self.events:
            assert (event.queue, event.location) == ("8", "syscheck")
        self.events.clear()
        return out


def summary(events: list[dict]) -> list[tuple]:
    return sorted((e["type"], e["path"]) for e in events)


def make_monitor(home: Path, directories: list[dict], **section) -> tuple[Monitor, Sent]:
    store = Store(home / "db")
    store.migrate(("syscheck", m) for m in baseline.MIGRATIONS)
    sent = Sent()
    settings = Settings.from_config({"directories": directories, "ignore": [], "nodiff": [], **section})
    return Monitor(settings, store.db(baseline.DATABASE), home / "diff", sent), sent


def rows(monitor: Monitor) -> dict[str, dict]:
    return {row["file"]: row for row in monitor.db.fetchall_sync("SELECT * FROM fim_entry")}


def ruleset_config() -> str:
    if not HAS_WAZUH_RULESET:
        return ""
    return (f"analysis:\n  ruleset:\n    decoder_dirs: [{WAZUH_RULESET / 'decoders'}]\n"
            f"    rule_dirs: [{WAZUH_RULESET / 'rules'}]\n")


class SyscheckDaemon(ApiDaemon):
    """A daemon monitoring ``directories`` with Wazuh's ruleset loaded (when it is here)."""

    def __init__(self, home: Path, directories: list[dict], extra: str = ""):
        section = "syscheck:\n  directories:\n" + "".join(
            f"    - {json.dumps(d)}\n" for d in directories) + extra
        super().__init__(home, api="  access:\n    max_request_per_minute: 0\n",
                         extra=ruleset_config() + section)

    def alerts(self) -> list[dict]:
        path = self.home / "logs" / "alerts" / "alerts.json"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def fim_alerts(self) -> list[dict]:
        return [a for a in self.alerts() if "syscheck" in a]

    def wait_alerts(self, count: int, timeout: float = 10) -> list[dict]:
        assert wait_for(lambda: len(self.fim_alerts()) >= count, timeout), self.fim_alerts()
        return self.fim_alerts()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def scan_count(daemon: ApiDaemon) -> int:
    return daemon.counters("syscheck")["scans"]


PASSWORD = "Sysch3ck!Passw0rd"


def user_with_policy(daemon: ApiDaemon, admin, name: str, actions: list[str], resources: list[str]):
    """A client logged in as a new user whose one role allows ``actions`` on ``resources``."""
    def ok(reply):
        assert reply.status_code == 200, reply.text
        return reply.json()["data"]["affected_items"][0]["id"]

    policy = ok(admin.post("/security/policies", json={
        "name": f"{name}_policy", "policy": {"actions": actions, "resources": resources, "effect": "allow"}}))
    role = ok(admin.post("/security/roles", json={"name": f"{name}_role"}))
    ok(admin.post(f"/security/roles/{role}/policies", params={"policy_ids": str(policy)}))
    user = ok(admin.post("/security/users", json={"username": name, "password": PASSWORD}))
    ok(admin.post(f"/security/users/{user}/roles", params={"role_ids": str(role)}))
    return daemon.client(daemon.login(name, PASSWORD))
