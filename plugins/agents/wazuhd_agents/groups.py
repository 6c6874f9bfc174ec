"""Agent groups: the ``grp`` table, their shared files under ``etc/shared/<group>/`` and the
agent <-> group assignments (bulk SQL, one transaction per request).

``agent.conf`` is checked before it is written: well-formed XML made of ``<agent_config>``
blocks (attributes ``name``, ``os``, ``profile``) holding known configuration sections;
otherwise error 1113 (XML) or 1114 (Wazuh syntax) and the file on disk is unchanged.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

import trio

from wazuhd.errors import WazuhError, error_for
from wazuhd.home import write_atomic
from wazuhd.query import Field, Query, Schema, apply
from wazuhd.rbac import expose_resources
from wazuhd.results import AffectedItemsResult, WazuhResult
from wazuhd.routes import ApiResponse, uploaded_text

from wazuhd_agents.db import Registry, agent_id
from wazuhd_agents.registry import _missing, agent_groups, explicit_agents, get_agents, require_some, scope

GROUP_RE = re.compile(r"^[\w.\-]+$", re.ASCII)
GROUP_MAX = 128
RESERVED = {".", "..", "agent-template"}
MAX_GROUPS_PER_AGENT = 128
DEFAULT_AGENT_CONF = "<agent_config>\n\n  <!-- Shared agent configuration here -->\n\n</agent_config>\n"
HASHES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "blake2s",
          "sha3_224", "sha3_256", "sha3_384", "sha3_512")
#: Sections an agent.conf block may hold (Wazuh's agent configuration reference).
SECTIONS = {
    "active-response", "agent-upgrade", "anti_flooding", "client", "client_buffer", "labels", "localfile",
    "logging", "rootcheck", "sca", "socket", "syscheck", "wodle", "cluster", "osquery", "syscollector",
    "open-scap", "cis-cat", "docker-listener", "gcp-pubsub", "gcp-bucket", "aws-s3", "azure-logs",
    "github", "office365", "ms-graph", "task-manager", "vulnerability-detection", "fluent-forward",
}
BLOCK_ATTRIBUTES = {"name", "os", "profile"}

_RECOMPUTE = ("UPDATE agent SET groups = (SELECT group_concat(grp, ',') FROM (SELECT grp FROM belongs"
              " WHERE agent_id = agent.id ORDER BY priority)), group_config_status = 'not synced'")


def check_group_name(name: str) -> str:
    if not isinstance(name, str) or not GROUP_RE.match(name) or len(name) > GROUP_MAX:
        raise WazuhError(1722)
    if name in RESERVED:
        raise WazuhError(1713)
    return name


def _group_dir(registry: Registry, name: str) -> Path:
    return registry.shared / check_group_name(name)


async def _existing(registry: Registry, names: Sequence[str]) -> set[str]:
    if not names:
        return set()
    rows = await registry.db.fetchall(f"SELECT name FROM grp WHERE name IN ({','.join('?' * len(names))})",
                                      list(names))
    return {r["name"] for r in rows}


async def group_exists(registry: Registry, name: str) -> None:
    if name not in await _existing(registry, [name]):
        raise error_for(1710, name)


# -- files and checksums --------------------------------------------------------------


def _digest(data: bytes, algorithm: str = "md5") -> str:
    if algorithm not in HASHES:
        raise WazuhError(1723)
    return hashlib.new(algorithm, data).hexdigest()


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")) \
        if directory.is_dir() else []


def merged(directory: Path) -> bytes:
    """The group's merged.mg as Wazuh builds it: ``!<size> <name>`` then each file's content."""
    parts = []
    for path in _files(directory):
        if path.name in ("merged.mg", "ar.conf"):
            continue
        data = path.read_bytes()
        parts.append(b"!%d %s\n" % (len(data), path.name.encode()) + data)
    return b"".join(parts)


def sums(registry: Registry, name: str) -> dict:
    directory = registry.shared / name
    conf = directory / "agent.conf"
    out = {}
    if conf.is_file():
        out["configSum"] = _digest(conf.read_bytes())
    if directory.is_dir():
        out["mergedSum"] = _digest(merged(directory))
    return out


# -- agent.conf ----------------------------------------------------------------------


def parse_agent_conf(text: str) -> list[dict]:
    """Validate agent.conf text; its blocks as ``[{filters, config}]`` (Wazuh's JSON form)."""
    try:
        root = ET.fromstring(f"<root>{text}</root>")
    except ET.ParseError as exc:
        raise WazuhError(1113, str(exc)) from None
    blocks = []
    for block in root:
        if block.tag != "agent_config":
            raise WazuhError(1114, f"unexpected <{block.tag}>: agent.conf holds <agent_config> blocks")
        unknown = set(block.attrib) - BLOCK_ATTRIBUTES
        if unknown:
            raise WazuhError(1114, f"invalid attribute(s) {sorted(unknown)} of <agent_config>")
        for child in block:
            if child.tag not in SECTIONS:
                raise WazuhError(1114, f"invalid section <{child.tag}> in <agent_config>")
        for attribute in ("os", "profile"):
            if attribute in block.attrib and not block.attrib[attribute].strip():
                raise WazuhError(1114, f"empty '{attribute}' attribute")
        config = _to_json(block)
        blocks.append({"filters": dict(block.attrib), "config": config if isinstance(config, dict) else {}})
    return blocks


def _to_json(element: ET.Element):
    children = list(element)
    if not children:
        text = (element.text or "").strip()
        return {**element.attrib, "item": text} if element.attrib and text else (element.attrib or text)
    out: dict = dict(element.attrib) if element.tag != "agent_config" else {}
    for child in children:
        value = _to_json(child)
        if child.tag in out:
            out[child.tag] = out[child.tag] if isinstance(out[child.tag], list) else [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    return out


# -- groups --------------------------------------------------------------------------


def create_group_sync(registry: Registry, group_id: str) -> None:
    check_group_name(group_id)
    directory = registry.shared / group_id

    def work(conn):
        if conn.execute("SELECT 1 FROM grp WHERE name = ?", (group_id,)).fetchone():
            raise WazuhError(1711, group_id)
        conn.execute("INSERT INTO grp (name, created) VALUES (?, ?)", (group_id, int(time.time())))
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "agent.conf"
        if not conf.exists():
            write_atomic(conf, DEFAULT_AGENT_CONF, 0o660)

    registry.db.write_sync(work)


def ensure_default_group(registry: Registry) -> None:
    directory = registry.shared / "default"
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "agent.conf").exists():
        write_atomic(directory / "agent.conf", DEFAULT_AGENT_CONF, 0o660)


@expose_resources(actions=["group:create"], resources=["*:*:*"])
async def create_group(rbac, group_id: str, *, registry: Registry) -> WazuhResult:
    """``POST /groups``."""
    await trio.to_thread.run_sync(create_group_sync, registry, group_id)
    return WazuhResult({"message": f"Group '{group_id}' created."})


@expose_resources(actions=["group:read"], resources=["group:id:{group_list}"])
async def get_groups(rbac, group_list=None, *, registry: Registry, rbac_filters=None,
                     hash_algorithm: str | None = None, **query) -> AffectedItemsResult:
    """``GET /groups``: name, agent count (RBAC-independent, as Wazuh) and checksums."""
    result = AffectedItemsResult(all_msg="All selected groups information was returned",
                                 some_msg="Some groups information was not returned",
                                 none_msg="No group information was returned")
    if group_list is not None:
        missing = set(group_list) - await _existing(registry, group_list)
        for name in sorted(missing):
            result.add_failed_item(name, error_for(1710))
    counts = {r["name"]: r["count"] for r in await registry.db.fetchall(
        "SELECT g.name, (SELECT COUNT(*) FROM belongs b WHERE b.grp = g.name) AS count FROM grp g")}
    require_some(rbac_filters, "group_list")
    visible = rbac_filters.get("group_list") if rbac_filters else None
    algorithm = hash_algorithm or "md5"
    rows = []
    for name, count in counts.items():
        if group_list is not None and name not in group_list:
            continue
        if visible is not None and not visible.matches([f"group:id:{name}"]):
            continue
        row = {"name": name, "count": count}
        directory = registry.shared / name
        conf = directory / "agent.conf"
        if conf.is_file():
            row["configSum"] = _digest(conf.read_bytes(), algorithm)
        if directory.is_dir():
            row["mergedSum"] = _digest(merged(directory), algorithm)
        rows.append(row)
    page = apply(rows, Query.from_params(**query), _GROUP_SCHEMA)
    result.affected_items, result.total_affected_items = page.items, page.total
    return result


_GROUP_SCHEMA = Schema([Field("name"), Field("count", type="integer"), Field("configSum"),
                        Field("mergedSum")], id_field="name")
_FILE_SCHEMA = Schema([Field("filename"), Field("hash")], id_field="filename")


@expose_resources(actions=["group:delete"], resources=["group:id:{group_list}"])
async def delete_groups(rbac, group_list=None, *, registry: Registry, rbac_filters=None) -> AffectedItemsResult:
    """``DELETE /groups``: groups, their files and assignments; agents left without a group go
    back to ``default``."""
    result = AffectedItemsResult(all_msg="All selected groups were deleted",
                                 some_msg="Some groups were not deleted",
                                 none_msg="No group was deleted")
    if group_list is None:
        require_some(rbac_filters, "group_list")
        names = [r["name"] for r in await registry.db.fetchall("SELECT name FROM grp ORDER BY name")]
        visible = rbac_filters.get("group_list") if rbac_filters else None
        group_list = [n for n in names if visible is None or visible.matches([f"group:id:{n}"])]
        group_list = [n for n in group_list if n != "default"]
    else:
        if "default" in group_list:
            result.add_failed_item("default", WazuhError(1712))
        existing = await _existing(registry, group_list)
        for name in sorted(set(group_list) - existing - {"default"}):
            result.add_failed_item(name, error_for(1710))
        group_list = [n for n in group_list if n in existing and n != "default"]
    if not group_list:
        return result
    holes = ",".join("?" * len(group_list))

    def work(conn):
        touched = [r[0] for r in conn.execute(
            f"SELECT DISTINCT agent_id FROM belongs WHERE grp IN ({holes})", group_list)]
        conn.execute(f"DELETE FROM belongs WHERE grp IN ({holes})", group_list)
        conn.execute(f"DELETE FROM grp WHERE name IN ({holes})", group_list)
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS touched (id INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM touched")
        conn.executemany("INSERT INTO touched VALUES (?)", [(t,) for t in touched])
        conn.execute("INSERT INTO belongs (agent_id, grp, priority) SELECT id, 'default', 0 FROM touched"
                     " WHERE id NOT IN (SELECT agent_id FROM belongs)")
        conn.execute(_RECOMPUTE + " WHERE id IN (SELECT id FROM touched)")
        for name in group_list:
            shutil.rmtree(registry.shared / name, ignore_errors=True)
        return touched

    touched = await registry.db.write(work)
    result.add_affected_items(group_list)
    result.extra["affected_agents"] = [agent_id(t) for t in sorted(touched)]
    return result


@expose_resources(actions=["group:read"], resources=["group:id:{group_list}"])
async def get_group_agents(rbac, group_list: list[str], *, registry: Registry, filters: Mapping | None = None,
                           **query) -> AffectedItemsResult:
    """``GET /groups/{group_id}/agents``: the group's agents the caller may read."""
    name = group_list[0]
    await group_exists(registry, name)
    return await get_agents(rbac, None, registry=registry, filters={**(filters or {}), "group": name}, **query)


# -- assignments ---------------------------------------------------------------------


def _assign_work(numbers_sql: str, params: list, group_id: str, replace: bool, explicit: bool):
    def work(conn):
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS target (id INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM target")
        conn.execute(f"INSERT INTO target SELECT agent.id FROM agent WHERE {numbers_sql}", params)
        already = [r[0] for r in conn.execute(
            "SELECT t.id FROM target t JOIN belongs b ON b.agent_id = t.id AND b.grp = ?", (group_id,))]
        if replace:
            conn.execute("DELETE FROM belongs WHERE agent_id IN (SELECT id FROM target) AND grp != ?",
                         (group_id,))
            if already:
                conn.execute("UPDATE belongs SET priority = 0 WHERE grp = ? AND agent_id IN"
                             " (SELECT id FROM target)", (group_id,))
        full = [r[0] for r in conn.execute(
            "SELECT b.agent_id FROM belongs b JOIN target t ON t.id = b.agent_id GROUP BY b.agent_id"
            " HAVING COUNT(*) >= ?", (MAX_GROUPS_PER_AGENT,))]
        if full:
            conn.executemany("DELETE FROM target WHERE id = ?", [(f,) for f in full])
        conn.execute("INSERT OR IGNORE INTO belongs (agent_id, grp, priority) SELECT t.id, ?,"
                     " COALESCE((SELECT MAX(priority) + 1 FROM belongs b WHERE b.agent_id = t.id), 0)"
                     " FROM target t", (group_id,))
        conn.execute(_RECOMPUTE + " WHERE id IN (SELECT id FROM target)")
        done = [r[0] for r in conn.execute("SELECT id FROM target ORDER BY id")]
        return done, ([] if replace else already), full

    return work


@expose_resources(actions=["group:modify_assignments"], resources=["group:id:{group_list}"])
@expose_resources(actions=["agent:modify_group"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def assign_agents_to_group(rbac, group_list: list[str], agent_list=None, *, registry: Registry,
                                 rbac_filters=None, replace: bool = False) -> AffectedItemsResult:
    """``PUT /agents/group`` and ``PUT /agents/{agent_id}/group/{group_id}``: add agents to a
    group (``replace``: make it their only group), in one statement however many."""
    group_id = group_list[0]
    result = AffectedItemsResult(all_msg=f"All selected agents were assigned to {group_id}"
                                 + (" and removed from the other groups" if replace else ""),
                                 some_msg="Some agents were not assigned to "
                                          f"{group_id}" + (" and removed from the other groups" if replace else ""),
                                 none_msg="No agents were assigned to " + group_id)
    await group_exists(registry, group_id)
    explicit = agent_list is not None
    agent_list = await explicit_agents(registry, agent_list, result)
    where, params = scope(agent_list, rbac_filters, extra=["agent.id != 0"])
    done, already, full = await registry.db.write(_assign_work(where, params, group_id, replace, explicit))
    already_set = set(already)
    if explicit:
        for number in already:
            result.add_failed_item(agent_id(number), WazuhError(1751))
    for number in full:
        result.add_failed_item(agent_id(number), WazuhError(1737))
    result.add_affected_items(agent_id(n) for n in done if n not in already_set)
    return result


@expose_resources(actions=["group:modify_assignments"], resources=["group:id:{group_list}"])
@expose_resources(actions=["agent:modify_group"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def remove_agents_from_group(rbac, group_list: list[str], agent_list=None, *, registry: Registry,
                                   rbac_filters=None) -> AffectedItemsResult:
    """``DELETE /agents/group``: take agents out of one group (those left in none go to default;
    an agent only in ``default`` cannot leave it: 1745)."""
    group_id = group_list[0]
    result = AffectedItemsResult(all_msg=f"All selected agents were removed from group {group_id}",
                                 some_msg=f"Some agents were not removed from group {group_id}",
                                 none_msg=f"No agent was removed from group {group_id}")
    await group_exists(registry, group_id)
    explicit = agent_list is not None
    agent_list = await explicit_agents(registry, agent_list, result)
    where, params = scope(agent_list, rbac_filters, extra=["agent.id != 0"])

    def work(conn):
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS target (id INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM target")
        conn.execute(f"INSERT INTO target SELECT agent.id FROM agent WHERE {where}", params)
        members = {r[0]: r[1] for r in conn.execute(
            "SELECT t.id, (SELECT COUNT(*) FROM belongs x WHERE x.agent_id = t.id) FROM target t"
            " JOIN belongs b ON b.agent_id = t.id AND b.grp = ?", (group_id,))}
        outside = [r[0] for r in conn.execute("SELECT id FROM target")] if explicit else []
        outside = [n for n in outside if n not in members]
        stuck = [n for n, count in members.items() if group_id == "default" and count == 1]
        removable = [n for n in members if n not in stuck]
        conn.execute("DELETE FROM target")
        conn.executemany("INSERT INTO target VALUES (?)", [(n,) for n in removable])
        conn.execute("DELETE FROM belongs WHERE grp = ? AND agent_id IN (SELECT id FROM target)", (group_id,))
        conn.execute("INSERT INTO belongs (agent_id, grp, priority) SELECT id, 'default', 0 FROM target"
                     " WHERE id NOT IN (SELECT agent_id FROM belongs)")
        conn.execute(_RECOMPUTE + " WHERE id IN (SELECT id FROM target)")
        return sorted(removable), outside, stuck

    removed, outside, stuck = await registry.db.write(work)
    for number in outside:
        result.add_failed_item(agent_id(number), WazuhError(1734))
    for number in stuck:
        result.add_failed_item(agent_id(number), WazuhError(1745))
    result.add_affected_items(agent_id(n) for n in removed)
    return result


@expose_resources(actions=["agent:modify_group"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def remove_agent_from_groups(rbac, agent_list: list[str], group_list=None, *, registry: Registry,
                                   rbac_filters=None) -> AffectedItemsResult:
    """``DELETE /agents/{agent_id}/group``: take one agent out of several groups (or all);
    ``group:modify_assignments`` is checked per group."""
    ident = agent_list[0]
    if ident == "000":
        raise WazuhError(1703)
    if await _missing(registry, [ident]):
        raise error_for(1701)
    number = int(ident)
    result = AffectedItemsResult(all_msg=f"Agent {ident} was removed from returned groups",
                                 some_msg=f"Agent {ident} was not removed from some groups",
                                 none_msg=f"Agent {ident} was not removed from any group")
    current = [r["grp"] for r in await registry.db.fetchall(
        "SELECT grp FROM belongs WHERE agent_id = ? ORDER BY priority", (number,))]
    wanted = current if group_list is None else list(group_list)
    allowed, denied = rbac.filter_targets(["group:modify_assignments"], "group:id", wanted)
    for name in denied:
        rbac.add_denied(result, "group:id", [name])
    existing = await _existing(registry, allowed)
    targets = []
    for name in allowed:
        if name not in existing:
            result.add_failed_item(name, error_for(1710))
        elif name not in current:
            result.add_failed_item(name, WazuhError(1734))
        elif name == "default" and len(current) == 1:
            result.add_failed_item(name, WazuhError(1745))
        else:
            targets.append(name)
    if targets:
        def work(conn):
            conn.executemany("DELETE FROM belongs WHERE agent_id = ? AND grp = ?", [(number, g) for g in targets])
            if not conn.execute("SELECT 1 FROM belongs WHERE agent_id = ?", (number,)).fetchone():
                conn.execute("INSERT INTO belongs (agent_id, grp, priority) VALUES (?, 'default', 0)", (number,))
            conn.execute(_RECOMPUTE + " WHERE id = ?", (number,))
        await registry.db.write(work)
    result.add_affected_items(targets)
    return result


@expose_resources(actions=["agent:read"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def get_agents_sync(rbac, agent_list: list[str], *, registry: Registry) -> AffectedItemsResult:
    """``GET /agents/{agent_id}/group/is_sync``."""
    result = AffectedItemsResult(all_msg="Sync info was returned for all selected agents",
                                 some_msg="Sync info was not returned for some selected agents",
                                 none_msg="No sync info was returned")
    for missing in sorted(await _missing(registry, agent_list)):
        result.add_failed_item(missing, error_for(1701))
    numbers = [int(a) for a in agent_list]
    rows = await registry.db.fetchall(
        f"SELECT id, group_config_status FROM agent WHERE id IN ({','.join('?' * len(numbers))})", numbers)
    result.add_affected_items({"id": agent_id(r["id"]), "synced": r["group_config_status"] == "synced"}
                              for r in rows)
    return result


# -- files ---------------------------------------------------------------------------


@expose_resources(actions=["group:read"], resources=["group:id:{group_list}"])
async def get_group_files(rbac, group_list: list[str], *, registry: Registry, hash_algorithm: str | None = None,
                          **query) -> AffectedItemsResult:
    """``GET /groups/{group_id}/files``: file names and checksums."""
    name = group_list[0]
    await group_exists(registry, name)
    algorithm = hash_algorithm or "md5"
    directory = _group_dir(registry, name)
    rows = [{"filename": p.name, "hash": _digest(p.read_bytes(), algorithm)} for p in _files(directory)]
    if directory.is_dir() and not any(r["filename"] == "merged.mg" for r in rows):
        rows.append({"filename": "merged.mg", "hash": _digest(merged(directory), algorithm)})
    result = AffectedItemsResult(all_msg="All selected groups files were returned",
                                 some_msg="Some groups files were not returned",
                                 none_msg="No groups files were returned")
    page = apply(rows, Query.from_params(**query), _FILE_SCHEMA)
    result.affected_items, result.total_affected_items = page.items, page.total
    return result


@expose_resources(actions=["group:read"], resources=["group:id:{group_list}"])
async def get_group_file(rbac, group_list: list[str], file_name: str, *, registry: Registry,
                         raw: bool = False, type_: str | None = None):
    """``GET /groups/{group_id}/files/{file_name}``: agent.conf as JSON, or any file as text."""
    name = group_list[0]
    await group_exists(registry, name)
    directory = _group_dir(registry, name)
    if "/" in file_name or file_name.startswith("."):
        raise error_for(1906, file_name)
    path = directory / file_name
    if file_name == "merged.mg" and directory.is_dir():
        data = merged(directory)
    elif path.is_file():
        data = path.read_bytes()
    else:
        raise error_for(1906, file_name)
    text = data.decode(errors="replace")
    if raw:
        return ApiResponse(text, content_type="text/plain")
    if file_name == "agent.conf":
        return WazuhResult({"data": {"affected_items": parse_agent_conf(text), "total_affected_items": 1,
                                     "total_failed_items": 0, "failed_items": []}})
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return WazuhResult({"data": {"affected_items": lines, "total_affected_items": len(lines),
                                 "total_failed_items": 0, "failed_items": []}})


@expose_resources(actions=["group:read"], resources=["group:id:{group_list}"])
async def get_group_configuration(rbac, group_list: list[str], *, registry: Registry, offset: int = 0,
                                  limit: int = 500) -> WazuhResult:
    """``GET /groups/{group_id}/configuration``: agent.conf's blocks as JSON."""
    name = group_list[0]
    await group_exists(registry, name)
    conf = _group_dir(registry, name) / "agent.conf"
    blocks = parse_agent_conf(conf.read_text()) if conf.is_file() else []
    return WazuhResult({"data": {"affected_items": blocks[offset:offset + limit],
                                 "total_affected_items": len(blocks)}})


@expose_resources(actions=["group:update_config"], resources=["group:id:{group_list}"])
async def update_group_configuration(rbac, group_list: list[str], content: bytes | str, *,
                                     registry: Registry) -> WazuhResult:
    """``PUT /groups/{group_id}/configuration``: validate, then replace agent.conf atomically."""
    name = group_list[0]
    await group_exists(registry, name)
    content = uploaded_text(content, empty_code=1912)
    parse_agent_conf(content)
    directory = _group_dir(registry, name)
    directory.mkdir(parents=True, exist_ok=True)
    await trio.to_thread.run_sync(write_atomic, directory / "agent.conf", content, 0o660)
    await registry.db.execute("UPDATE agent SET group_config_status = 'not synced'"
                              " WHERE id IN (SELECT agent_id FROM belongs WHERE grp = ?)", (name,))
    return WazuhResult({"message": "Agent configuration was successfully updated"})
