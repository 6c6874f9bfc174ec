"""The registry without the API: validation, client.keys import/export, the CLI, status
sweeps with optional auto-removal, and SQL plans that use indexes at scale."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import trio

from wazuhd.errors import WazuhError
from wazuhd.query import Query, to_sql
from wazuhd.rbac import RbacContext
from wazuhd.store import Store
from wazuhd.testing import wazuhd_command

from wazuhd_agents import db, keys, registry

ADMIN = RbacContext({}, mode="black")


@pytest.fixture
def reg(tmp_path):
    store = Store(tmp_path / "db")
    store.migrate(("agents", m) for m in db.MIGRATIONS)
    reg = db.Registry(store.db(db.DATABASE), tmp_path / "etc")
    yield reg
    reg.cache.close()
    store.close()


@pytest.mark.parametrize("name", ["ab", "web-01.example_x", "A" * 128])
def test_valid_names(name):
    assert registry.check_name(name) == name


@pytest.mark.parametrize("name,code", [("a", 1725), ("with space", 1725), ("é-agent", 1725), ("x" * 129, 1738),
                                       ("", 1725)])
def test_invalid_names(name, code):
    with pytest.raises(WazuhError) as info:
        registry.check_name(name)
    assert info.value.code == code


@pytest.mark.parametrize("ip,expected", [("any", "any"), ("ANY", "any"), ("10.0.0.1", "10.0.0.1"),
                                         ("10.0.0.0/8", "10.0.0.0/8"), ("10.1.2.3/32", "10.1.2.3"),
                                         ("fe80::1", "fe80::1"), ("2001:db8::/32", "2001:db8::/32")])
def test_ips(ip, expected):
    assert registry.check_ip(ip) == expected


@pytest.mark.parametrize("ip", ["10.0.0.256", "0.0.0.0", "host.example", "10.0.0.1/33", ""])
def test_invalid_ips(ip):
    with pytest.raises(WazuhError) as info:
        registry.check_ip(ip)
    assert info.value.code == 1706


def test_client_keys_round_trip(reg, tmp_path):
    text = ("001 alpha 10.0.0.1 " + "a" * 64 + "\n"
            "002 !gone any " + "b" * 64 + "\n"
            "005 beta any " + "c" * 64 + "\n"
            "not a line\n")
    report = keys.import_client_keys(reg, text)
    assert (report["imported"], report["removed"], len(report["invalid"])) == (2, 1, 1)
    keys.write_client_keys(reg)
    assert reg.client_keys.read_text() == "".join(text.splitlines(keepends=True)[:3])
    assert oct(reg.client_keys.stat().st_mode & 0o777) == "0o640"
    again = keys.import_client_keys(reg, reg.client_keys.read_text())
    assert (again["imported"], again["unchanged"]) == (0, 2)
    clash = keys.import_client_keys(reg, "007 alpha any " + "d" * 64 + "\n")
    assert clash["conflicts"] == ["007: name 'alpha' is taken"]
    new = registry.register_sync(reg, "gamma")
    assert new["id"] == "006"  # after the highest id, removed ones included


def test_stale_agents_disconnect_then_removed_when_configured(reg):
    reg.settings.disconnection_time = 60
    reg.settings.auto_remove_after = 3600
    first = registry.register_sync(reg, "old-one")["id"]
    second = registry.register_sync(reg, "old-two")["id"]
    registry.update_keepalive_sync(reg, first)
    registry.update_keepalive_sync(reg, second)
    now = time.time()
    assert registry.disconnect_stale_sync(reg, now + 30) == (0, [])
    assert registry.disconnect_stale_sync(reg, now + 120) == (2, [])
    registry.update_keepalive_sync(reg, second)
    removed = registry.disconnect_stale_sync(reg, now + 120 + 3601)
    assert removed == (1, [1])
    rows = reg.db.fetchall_sync("SELECT id FROM agent ORDER BY id")
    assert [r["id"] for r in rows] == [0, 2]
    assert reg.db.fetchall_sync("SELECT id FROM agent_removed") == [{"id": 1}]
    with pytest.raises(WazuhError):
        registry.update_keepalive_sync(reg, "001")


def test_list_queries_use_indexes_at_scale(reg):
    registry.bulk_insert_sync(reg, [{"name": f"scale-{i:05d}"} for i in range(20000)])
    reg.db.execute_sync("UPDATE agent SET os_platform = CASE id % 3 WHEN 0 THEN 'ubuntu' ELSE 'centos' END,"
                        " connection_status = CASE id % 2 WHEN 0 THEN 'active' ELSE 'disconnected' END")
    reg.db.execute_sync("ANALYZE")

    def plan(**params):
        where, args = registry.scope(None, None, params.pop("filters", None))
        statement = to_sql(Query.from_params(**params), db.AGENTS, where=where, where_params=args)
        rows = reg.db.fetchall_sync("EXPLAIN QUERY PLAN " + statement.sql, statement.params)
        return " | ".join(r["detail"] for r in rows)

    assert "TEMP B-TREE" not in plan(limit=500)
    assert "TEMP B-TREE FOR ORDER BY" not in plan(limit=500, sort="-dateAdd", q="os.platform=ubuntu;status=active")
    assert "USING INDEX" in plan(limit=500, sort="-dateAdd", q="os.platform=ubuntu;status=active")
    assert "TEMP B-TREE" not in plan(limit=500, sort="name")
    assert "USING INDEX" in plan(filters={"status": ["active"]})
    result = trio.run(lambda: registry.get_agents(ADMIN, None, registry=reg, q="os.platform=ubuntu;status=active",
                                                  sort="-dateAdd", limit=5))
    assert result.total_affected_items == len([i for i in range(0, 20001) if i % 3 == 0 and i % 2 == 0])


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(wazuhd_command("agents", *args, "--home", str(home)), capture_output=True, text=True,
                          timeout=60)


def test_cli(tmp_path):
    home = tmp_path / "home"
    added = _cli(home, "add", "cli-one", "--ip", "10.3.0.1")
    assert added.returncode == 0, added.stderr
    assert "agent 001 registered" in added.stdout
    assert _cli(home, "add", "cli-one").returncode == 1
    assert _cli(home, "add", "cli-two", "--group", "nogroup").returncode == 1
    assert _cli(home, "add", "cli-two", "--id", "042").returncode == 0
    listing = _cli(home, "list", "-q", "name~cli")
    assert "cli-one" in listing.stdout and "042" in listing.stdout and "2 of 2 agents" in listing.stdout
    key = _cli(home, "key", "1")
    assert key.returncode == 0 and len(key.stdout.strip()) > 80
    assert _cli(home, "key", "77").returncode == 1
    keys_file = (home / "etc" / "client.keys").read_text()
    assert keys_file.splitlines()[0].startswith("001 cli-one 10.3.0.1 ")
    removed = _cli(home, "remove", "42", "0")
    assert "agent 042 removed" in removed.stdout and removed.returncode == 1  # 000 cannot be removed
    assert "042 !cli-two any " in (home / "etc" / "client.keys").read_text()
    # import into a fresh home: same ids, names and keys
    other = tmp_path / "other"
    (tmp_path / "client.keys").write_text(keys_file)
    imported = _cli(other, "import-keys", str(tmp_path / "client.keys"))
    assert imported.returncode == 0 and "imported 2" in imported.stdout, imported.stderr
    assert _cli(other, "key", "001").stdout == key.stdout
    assert (other / "etc" / "client.keys").read_text() == keys_file


def test_daemon_imports_existing_client_keys(tmp_path):
    from agents_helpers import AgentsDaemon

    home = tmp_path / "home"
    (home / "etc").mkdir(parents=True)
    (home / "etc" / "client.keys").write_text("003 legacy-agent 10.4.0.3 " + "e" * 64 + "\n")
    daemon = AgentsDaemon(home).start()
    try:
        with daemon.client(daemon.login()) as client:
            agents = client.get("/agents", params={"agents_list": "003"}).json()["data"]["affected_items"]
        assert agents[0]["name"] == "legacy-agent" and agents[0]["registerIP"] == "10.4.0.3"
    finally:
        daemon.terminate()


def test_page_cache_never_serves_a_page_older_than_the_data(reg, tmp_path):
    registry.register_sync(reg, "cache-one")

    def names():
        result = trio.run(lambda: registry.get_agents(ADMIN, None, registry=reg, q="name~cache", limit=10))
        return [a["name"] for a in result.affected_items]

    assert names() == ["cache-one"]
    assert names() == ["cache-one"] and reg.cache.hits >= 1
    registry.register_sync(reg, "cache-two")  # the daemon's own writer
    assert names() == ["cache-one", "cache-two"]
    other = Store(tmp_path / "db")  # another process's connection (the CLI)
    other.db(db.DATABASE).execute_sync("UPDATE agent SET name = 'cache-renamed' WHERE name = 'cache-one'")
    other.close()
    assert names() == ["cache-renamed", "cache-two"]
    timed = trio.run(lambda: registry.get_agents(ADMIN, None, registry=reg, filters={"older_than": "0s"}, limit=1))
    hits = reg.cache.hits
    trio.run(lambda: registry.get_agents(ADMIN, None, registry=reg, filters={"older_than": "0s"}, limit=1))
    assert reg.cache.hits == hits and timed.total_affected_items >= 0  # timeframes are never cached


def test_group_config_status_follows_the_reported_merged_sum(reg):
    from wazuhd_agents import groups

    groups.ensure_default_group(reg)
    agent = registry.register_sync(reg, "sync-one")["id"]
    expected = groups.sums(reg, "default")["mergedSum"]
    assert registry.expected_merged_sum(reg, ["default"]) == expected

    def status():
        return reg.db.fetchall_sync("SELECT group_config_status AS s FROM agent WHERE id = ?", (int(agent),))[0]["s"]

    registry.update_keepalive_sync(reg, agent, merged_sum="0" * 32)
    assert status() == "not synced"
    registry.update_keepalive_sync(reg, agent, merged_sum=expected)
    assert status() == "synced"
    registry.update_keepalive_sync(reg, agent)  # a keepalive without checksums changes nothing
    assert status() == "synced"
