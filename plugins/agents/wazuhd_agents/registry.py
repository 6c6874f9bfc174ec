"""The agent registry: validation, registration, listing, summaries, removal, keepalives.

Every list goes to SQL: the endpoint filters, the caller's RBAC filter (a WHERE fragment
with bound parameters) and the shared query language (q, search, sort, select, offset,
limit, distinct) become one SELECT and one COUNT; nothing loads the table into memory.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence

import trio

from wazuhd.errors import WazuhError, WazuhPermissionError, error_for
from wazuhd.query import Condition, Query, apply, conditions, nest, to_sql
from wazuhd.rbac import expose_resources
from wazuhd.results import AffectedItemsResult, WazuhResult

from wazuhd_agents.db import (AGENTS, DATE_FIELDS, DEFAULT_SELECT, GROUP_MEMBER, RBAC_COLUMNS, Registry, agent_id,
                               present)
from wazuhd_agents import keys as keys_mod

log = logging.getLogger("wazuhd.agents")

NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
NAME_MAX = 128
STATUSES = ("active", "pending", "never_connected", "disconnected")
_TIMEFRAME = re.compile(r"^(\d+)([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

#: Query-parameter filters of the agent lists and the column each compares with.
FILTER_COLUMNS = {
    "os.platform": "agent.os_platform", "os.version": "agent.os_version", "os.name": "agent.os_name",
    "manager": "agent.manager_host", "node_name": "agent.node_name", "name": "agent.name",
    "ip": "agent.ip", "registerIP": "agent.register_ip",
    "group_config_status": "agent.group_config_status",
}
FILTERS = (*FILTER_COLUMNS, "status", "older_than", "version", "group")


# -- validation --------------------------------------------------------------------------


def timeframe(value: str | int) -> int:
    """Seconds of a Wazuh timeframe (``10``, ``10s``, ``5m``, ``12h``, ``7d``) or 1411."""
    match = _TIMEFRAME.match(str(value).strip())
    if not match:
        raise WazuhError(1411, str(value))
    return int(match.group(1)) * _UNITS[match.group(2)]


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise WazuhError(1725, "an agent name is required")
    if len(name) > NAME_MAX:
        raise WazuhError(1738)
    if len(name) < 2 or not NAME_RE.match(name):
        raise WazuhError(1725, f"invalid agent name {name!r}: 2 to 128 characters among "
                               "A-Z, a-z, 0-9, '-', '_' and '.'")
    return name


def check_ip(ip: str) -> str:
    """An IP, a network in CIDR form or ``any`` (Wazuh's accepted forms), normalised."""
    if not isinstance(ip, str) or not ip.strip():
        raise WazuhError(1706, "an IP is required")
    ip = ip.strip()
    if ip.lower() == "any":
        return "any"
    try:
        if "/" in ip:
            network = ipaddress.ip_network(ip, strict=False)
            return str(network) if network.prefixlen != network.max_prefixlen else str(network.network_address)
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise WazuhError(1706, f"invalid IP {ip!r}") from None
    if address.is_unspecified:
        raise WazuhError(1706, f"invalid IP {ip!r}")
    return str(address)


def normalize_version(version: str) -> str:
    text = version.strip().lower()
    text = text[len("wazuh"):].strip() if text.startswith("wazuh") else text
    return "Wazuh v" + text.lstrip("v")


# -- filters -----------------------------------------------------------------------------


def filter_sql(filters: Mapping | None, now: float) -> tuple[list[str], list]:
    """WHERE clauses (trusted SQL) and parameters for the endpoint filters."""
    clauses, params = [], []
    for name, value in (filters or {}).items():
        if value is None or value == []:
            continue
        if name in FILTER_COLUMNS:
            clauses.append(f"{FILTER_COLUMNS[name]} = ? COLLATE NOCASE")
            params.append(value)
        elif name == "status":
            statuses = [value] if isinstance(value, str) else list(value)
            if "all" in statuses:
                continue
            clauses.append(f"agent.connection_status IN ({','.join('?' * len(statuses))})")
            params.extend(statuses)
        elif name == "older_than":
            cutoff = now - timeframe(value)
            clauses.append("(CASE WHEN agent.last_keepalive IS NULL THEN agent.date_add"
                           " ELSE agent.last_keepalive END) < ?")
            params.append(cutoff)
        elif name == "version":
            clauses.append("agent.version = ? COLLATE NOCASE")
            params.append(normalize_version(value))
        elif name == "group":
            clauses.append("agent.id IN (SELECT agent_id FROM belongs WHERE grp = ?)")
            params.append(value)
        else:
            raise ValueError(f"unknown agent filter {name!r}")
    return clauses, params


def _ids_sql(ids: Sequence[str]) -> tuple[str, list]:
    return f"agent.id IN ({','.join('?' * len(ids))})", [int(i) for i in ids]


def scope(agent_list, rbac_filters, filters=None, *, extra: Sequence[str] = (),
          now: float | None = None) -> tuple[str, list]:
    """One WHERE (never empty) for: explicit ids or the RBAC filter, endpoint filters, extras."""
    now = time.time() if now is None else now
    clauses, params = filter_sql(filters, now)
    clauses = [*extra, *clauses]
    if agent_list is not None:
        sql, ids = _ids_sql(agent_list) if agent_list else ("0", [])
        clauses.insert(0, sql)
        params = ids + params
    elif rbac_filters and "agent_list" in rbac_filters:
        require_some(rbac_filters, "agent_list")
        sql, rbac_params = rbac_sql(rbac_filters["agent_list"])
        clauses.insert(0, sql)
        params = rbac_params + params
    return " AND ".join(f"({c})" for c in clauses) or "1", params


def rbac_sql(allowed) -> tuple[str, list]:
    """The WHERE of a ResourceFilter. A plain allow-list (one action, nothing allowed by default,
    only allow entries: "these groups and these ids") becomes index-driven ``IN`` tests; any
    other mix of allow/deny keeps the host's exact CASE form."""
    decisions = allowed.decisions
    if len(decisions) == 1 and not decisions[0].default and decisions[0].entries \
            and all(allow for *_, allow in decisions[0].entries):
        groups = [value for rtype, value, _ in decisions[0].entries if rtype == "agent:group"]
        ids = [value for rtype, value, _ in decisions[0].entries if rtype == "agent:id"]
        tests, params = [], []
        if groups:
            tests.append(f"agent.id IN (SELECT agent_id FROM belongs WHERE grp IN ({','.join('?' * len(groups))}))")
            params.extend(groups)
        if ids:
            tests.append(f"agent.id IN ({','.join('?' * len(ids))})")
            params.extend(ids)
        return " OR ".join(tests), params
    return allowed.sql(RBAC_COLUMNS)


def require_some(rbac_filters, param: str) -> None:
    """A list operation the caller may see nothing of is refused (4000), as Wazuh does."""
    found = (rbac_filters or {}).get(param)
    if found is not None and found.allows_nothing:
        raise WazuhPermissionError(4000, f"Resource type: {found.resource_type}")


async def agent_groups(ids: list, arguments: Mapping) -> dict:
    """RBAC aliases of explicit agents: ``agent:group:<g>`` for each group they belong to."""
    registry: Registry = arguments["registry"]
    numbers = [int(i) for i in ids if str(i).isdigit()]
    if not numbers:
        return {}
    rows = await registry.db.fetchall(
        f"SELECT agent_id, grp FROM belongs WHERE agent_id IN ({','.join('?' * len(numbers))})", numbers)
    aliases: dict = {}
    for row in rows:
        aliases.setdefault(agent_id(row["agent_id"]), []).append(f"agent:group:{row['grp']}")
    return aliases


async def explicit_agents(registry: Registry, agent_list: list[str] | None,
                          result: AffectedItemsResult) -> list[str] | None:
    """The explicit targets an operation may act on: the manager (000) and unknown ids
    become failed items (1703, 1701). None (no list: every agent) stays None."""
    if agent_list is None:
        return None
    if "000" in agent_list:
        result.add_failed_item("000", WazuhError(1703))
    agent_list = [a for a in agent_list if a != "000"]
    for missing in sorted(await _missing(registry, agent_list)):
        result.add_failed_item(missing, error_for(1701))
    return agent_list


async def _missing(registry: Registry, ids: Sequence[str]) -> set[str]:
    """The explicit ids that are not registered."""
    if not ids:
        return set()
    sql, params = _ids_sql(ids)
    rows = await registry.db.fetchall(f"SELECT id FROM agent WHERE {sql}", params)
    found = {agent_id(r["id"]) for r in rows}
    return {i for i in ids if agent_id(int(i)) not in found}


def group_membership(node):
    """``group=<g>`` in q means "belongs to g" (Wazuh's meaning), not "its only group is g":
    rewritten to a containment test on ``,g1,g2,``. Other operators compare the list's text."""
    if node is None:
        return None
    if isinstance(node, Condition):
        if node.field == "group" and node.op == "=" and node.value is not None:
            return Condition(GROUP_MEMBER.name, "~", f",{node.value},", node.pos)
        return node
    return type(node)(tuple(group_membership(item) for item in node.items))


def agent_query(**params) -> Query:
    """The query language's parameters for agent lists: Wazuh's group semantics, and every
    shown field when nothing is selected."""
    query = Query.from_params(**{k: v for k, v in params.items()
                                 if k in ("offset", "limit", "sort", "search", "select", "q", "distinct")})
    return dataclasses.replace(query, q=group_membership(query.q), select=query.select or DEFAULT_SELECT)


def _query(params: Mapping) -> Query:
    return agent_query(**params)


_ISO = "'%Y-%m-%dT%H:%M:%S+00:00'"


def _json_value(name: str, column: str) -> str:
    """SQL turning one selected column into its value in Wazuh's agent object."""
    if name == "id":
        return f"printf('%03d', {column})"
    if name in DATE_FIELDS:
        return f"strftime({_ISO}, {column}, 'unixepoch')"
    if name == "group":  # group names are [\w.-]: safe inside a JSON string
        return f"""(CASE WHEN {column} IS NULL OR {column} = '' THEN NULL
                   ELSE json('["' || replace({column}, ',', '","') || '"]') END)"""
    return column


class Page:
    """One page of agents: the JSON text SQLite built for its items and the count of all
    matches. The items are parsed only when Python asks for them; the response envelope is
    encoded once per message and then reused, so a page served from the cache costs no
    JSON work at all."""

    __slots__ = ("items_json", "total", "_items", "_bodies")

    def __init__(self, items_json: str, total: int):
        self.items_json, self.total = items_json, total
        self._items: list | None = None
        self._bodies: dict[str, bytes] = {}

    @property
    def items(self) -> list[dict]:
        if self._items is None:
            self._items = json.loads(self.items_json)
        return self._items

    def envelope(self, message: str) -> bytes:
        """Wazuh's envelope (as AffectedItemsResult.render() orders it) with nothing failed."""
        body = self._bodies.get(message)
        if body is None:
            body = (f'{{"data": {{"affected_items": {self.items_json}, "total_affected_items": {self.total},'
                    f' "total_failed_items": 0, "failed_items": []}}, "message": {json.dumps(message)},'
                    ' "error": 0}').encode()
            self._bodies[message] = body
        return body


class PageResult(AffectedItemsResult):
    """An agent list whose items stay SQLite's JSON text until someone reads them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.page: Page | None = None
        self._items: list | None = None  # the base class's [] until a page is set

    @property
    def affected_items(self) -> list:
        if self._items is None:
            self._items = list(self.page.items) if self.page is not None else []  # the cached list stays untouched
        return self._items

    @affected_items.setter
    def affected_items(self, value: list) -> None:
        self._items = value

    def encoded(self) -> bytes | None:
        """The whole response, pre-encoded, when nothing but the page is in it (no failed ids,
        no extra keys, items untouched); None otherwise."""
        if self.page is None or self._items is not None or self._failed or self.extra:
            return None
        return self.page.envelope(self.message)


def fetch_page(conn, query: Query, where: str, params: list, now: float) -> Page:
    """One page of agents as Wazuh shows them (absent fields rather than nulls), and the count
    of all matches. Blocking.

    SQLite builds each agent's JSON (``json_patch`` drops null members): a 500-agent page
    costs a few milliseconds instead of a Python loop over every field."""
    statement = to_sql(query, AGENTS, where=where, where_params=params, now=now)
    cursor = conn.cursor()
    cursor.row_factory = None
    total = cursor.execute(statement.count_sql, statement.count_params).fetchone()[0]
    names = [f"c{i}" for i in range(len(statement.columns))]
    plain, os_parts = [], []
    for name, column in zip(statement.columns, names):
        if name.startswith("os."):
            os_parts.append(f"'{name[3:]}', {column}")
        else:
            plain.append(f"'{name}', {_json_value(name, column)}")
    if os_parts:
        os_object = f"json_patch('{{}}', json_object({', '.join(os_parts)}))"
        plain.append(f"'os', (CASE WHEN {os_object} = '{{}}' THEN NULL ELSE json({os_object}) END)")
    sql = (f"WITH t({', '.join(names)}) AS ({statement.sql}) "
           f"SELECT json_patch('{{}}', json_object({', '.join(plain)})) FROM t")
    rows = cursor.execute(sql, statement.params).fetchall()
    return Page("[" + ",".join(row[0] for row in rows) + "]", total)


def _timeless(query: Query, filters: Mapping | None) -> bool:
    """No timeframe in the filters or q: the page depends on the data only (cacheable)."""
    if filters and filters.get("older_than") is not None:
        return False
    return query.q is None or not any(c.field in DATE_FIELDS for c in conditions(query.q))


async def page_agents(registry: Registry, where: str, params: list, query: Query,
                      result: PageResult, *, cacheable: bool = True) -> PageResult:
    """Fill ``result`` with one page. A cached page is found without leaving the event loop
    (the cache's validity check is one ``PRAGMA data_version`` on an idle read-only
    connection); only a miss goes to a database thread."""
    now = time.time()
    key = (query, where, tuple(params))
    page = None
    if cacheable:
        page = registry.cache.get(key, registry.cache.version(registry.db.path), count_miss=False)

    def work(conn):
        if not cacheable:
            return fetch_page(conn, query, where, params, now)
        version = registry.cache.version(registry.db.path)
        found = registry.cache.get(key, version)
        if found is None:
            found = fetch_page(conn, query, where, params, now)
            registry.cache.put(key, version, found)
        return found

    if page is None:
        page = await registry.db.read(work)
    result.page = page
    result.total_affected_items = page.total
    return result


# -- reading -----------------------------------------------------------------------------


@expose_resources(actions=["agent:read"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def get_agents(rbac, agent_list=None, *, registry: Registry, rbac_filters=None,
                     filters: Mapping | None = None, extra_where: Sequence[str] = (),
                     **query) -> AffectedItemsResult:
    """``GET /agents``: every filter of the spec plus the query language, in SQL."""
    result = PageResult(all_msg="All selected agents information was returned",
                                 some_msg="Some agents information was not returned",
                                 none_msg="No agent information was returned")
    if agent_list is not None:
        for missing in sorted(await _missing(registry, agent_list)):
            result.add_failed_item(missing, error_for(1701))
    where, params = scope(agent_list, rbac_filters, filters, extra=extra_where)
    query_ = _query(query)
    return await page_agents(registry, where, params, query_, result, cacheable=_timeless(query_, filters))


async def get_agents_no_group(rbac, *, registry: Registry, **query) -> AffectedItemsResult:
    """``GET /agents/no_group``: agents (not 000) in no group."""
    return await get_agents(rbac, None, registry=registry,
                            extra_where=["agent.groups IS NULL", "agent.id != 0"], **query)


async def get_outdated_agents(rbac, *, registry: Registry, **query) -> AffectedItemsResult:
    """``GET /agents/outdated``: agents whose version differs from the manager's (000's)."""
    return await get_agents(rbac, None, registry=registry,
                            extra_where=["agent.id != 0", "agent.version IS NOT NULL",
                                         "agent.version != (SELECT version FROM agent WHERE id = 0)"],
                            **query)


@expose_resources(actions=["agent:read"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def get_distinct_agents(rbac, agent_list=None, *, registry: Registry, rbac_filters=None,
                              fields: Sequence[str], **query) -> AffectedItemsResult:
    """``GET /agents/stats/distinct``: the distinct values of ``fields`` and how many agents
    have each (q and search select the agents first, in SQL; grouping is SQL too)."""
    result = AffectedItemsResult(all_msg="All selected agents information was returned",
                                 some_msg="Some agents information was not returned",
                                 none_msg="No agent information was returned")
    fields = list(dict.fromkeys(f for f in fields if f))
    leaves = AGENTS.expand_select(fields)
    where, params = scope(agent_list, rbac_filters)
    inner = to_sql(agent_query(select=leaves, q=query.get("q"), search=query.get("search"), limit=None),
                   AGENTS, where=where, where_params=params)
    names = [f"c{i}" for i in range(len(inner.columns))]
    wanted = [names[inner.columns.index(leaf)] for leaf in leaves]
    sql = (f"WITH t({', '.join(names)}) AS ({inner.sql}) SELECT {', '.join(wanted)}, COUNT(*) FROM t"
           f" GROUP BY {', '.join(wanted)}")

    def work(conn):
        return [row for row in conn.execute(sql, inner.params)]

    rows = []
    for values in await registry.db.read(work):
        item = present(nest(leaves, values))
        item["count"] = values[-1]
        rows.append(item)
    page = apply(rows, Query.from_params(offset=query.get("offset", 0), limit=query.get("limit", 500),
                                         sort=query.get("sort")))
    result.affected_items, result.total_affected_items = page.items, page.total
    return result


@expose_resources(actions=["agent:read"], resources=["agent:id:{agent_list}"])
async def _visible(rbac, agent_list=None, *, rbac_filters=None) -> tuple[str, list]:
    return scope(None, rbac_filters)


async def visible_where(rbac) -> tuple[str, list]:
    """The WHERE selecting the agents the caller may read (summaries, counts)."""
    return await _visible(rbac, None)


async def get_agents_summary_status(rbac, *, registry: Registry) -> WazuhResult:
    """``GET /agents/summary/status``: connection and configuration counts, RBAC-narrowed."""
    where, params = await visible_where(rbac)
    rows = await registry.db.fetchall(
        f"SELECT connection_status AS s, group_config_status AS c, COUNT(*) AS n FROM agent"
        f" WHERE {where} GROUP BY 1, 2", params)
    connection = {"active": 0, "disconnected": 0, "never_connected": 0, "pending": 0, "total": 0}
    configuration = {"synced": 0, "not_synced": 0, "total": 0}
    for row in rows:
        connection[row["s"]] = connection.get(row["s"], 0) + row["n"]
        connection["total"] += row["n"]
        key = "synced" if row["c"] == "synced" else "not_synced"
        configuration[key] += row["n"]
        configuration["total"] += row["n"]
    return WazuhResult({"data": {"connection": connection, "configuration": configuration}})


async def get_agents_summary_os(rbac, *, registry: Registry) -> AffectedItemsResult:
    """``GET /agents/summary/os``: the distinct OS platforms of the visible agents."""
    where, params = await visible_where(rbac)
    rows = await registry.db.fetchall(
        f"SELECT DISTINCT os_platform FROM agent WHERE ({where}) AND os_platform IS NOT NULL"
        " ORDER BY os_platform", params)
    result = AffectedItemsResult(all_msg="Showing the operative system of all specified agents",
                                 none_msg="Could not get the operative system of the agents")
    result.add_affected_items(row["os_platform"] for row in rows)
    return result


@expose_resources(actions=["agent:read"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def get_agents_summary(rbac, agent_list=None, *, registry: Registry, rbac_filters=None) -> WazuhResult:
    """``GET /agents/summary``: counts by status, OS platform and group."""
    where, params = scope(agent_list, rbac_filters)

    def work(conn):
        status = {s: 0 for s in STATUSES}
        for s, n in conn.execute(f"SELECT connection_status, COUNT(*) FROM agent WHERE {where} GROUP BY 1",
                                 params):
            status[s] = n
        os_ = dict(conn.execute(f"SELECT os_platform, COUNT(*) FROM agent WHERE ({where})"
                                " AND os_platform IS NOT NULL GROUP BY 1", params).fetchall())
        groups = dict(conn.execute(f"SELECT b.grp, COUNT(*) FROM belongs b JOIN agent ON agent.id = b.agent_id"
                                   f" WHERE {where} GROUP BY 1", params).fetchall())
        return {"status": status, "os": os_, "groups": groups}

    return WazuhResult({"data": await registry.db.read(work)})


async def overview(rbac, *, registry: Registry) -> WazuhResult:
    """``GET /overview/agents``: nodes, groups (those ``group:read`` allows), OS, status,
    versions and the last registered agent, all counted over the agents ``agent:read`` allows."""
    where, params = await visible_where(rbac)
    readable = rbac.resource_filter(["group:read"], "group:id")

    def work(conn):
        def pairs(column):
            return conn.execute(f"SELECT {column}, COUNT(*) FROM agent WHERE ({where}) AND {column} IS NOT NULL"
                                " GROUP BY 1 ORDER BY 2 DESC", params).fetchall()
        status = {s: 0 for s in STATUSES}
        for s, n in pairs("connection_status"):
            status[s] = n
        config = {"synced": 0, "not_synced": 0}
        for c, n in pairs("group_config_status"):
            config["synced" if c == "synced" else "not_synced"] += n
        last = conn.execute(f"SELECT * FROM agent WHERE {where} AND id != 0 ORDER BY date_add DESC, id DESC"
                            " LIMIT 1", params).fetchone()
        group_rows = conn.execute(
            "SELECT g.name, (SELECT COUNT(*) FROM belongs b JOIN agent ON agent.id = b.agent_id"
            f" WHERE b.grp = g.name AND {where}) AS count FROM grp g ORDER BY g.name", params).fetchall()
        return {
            "nodes": [{"node_name": n, "count": c} for n, c in pairs("node_name")],
            "groups": [{"name": n, "count": c} for n, c in group_rows if readable.matches([f"group:id:{n}"])],
            "agent_os": [{"os": {"name": n, "platform": p, "version": v}, "count": c} for n, p, v, c in
                         conn.execute(f"SELECT os_name, os_platform, os_version, COUNT(*) FROM agent"
                                      f" WHERE ({where}) AND os_name IS NOT NULL GROUP BY 1, 2, 3", params)],
            "agent_status": {"connection": {**status, "total": sum(status.values())},
                             "configuration": {**config, "total": sum(config.values())}},
            "agent_version": [{"version": v, "count": c} for v, c in pairs("version")],
            "last_registered_agent": [_row_agent(last)] if last else [],
        }

    return WazuhResult({"data": await registry.db.read(work)})


def _row_agent(row) -> dict:
    row = dict(row)
    flat = {"id": row["id"], "name": row["name"], "ip": row["ip"], "registerIP": row["register_ip"],
            "status": row["connection_status"], "status_code": row["status_code"],
            "version": row["version"], "manager": row["manager_host"], "node_name": row["node_name"],
            "dateAdd": row["date_add"], "lastKeepAlive": row["last_keepalive"],
            "group": row["groups"], "group_config_status": row["group_config_status"],
            "os": {k[3:]: v for k, v in row.items() if k.startswith("os_")}}
    return present(flat)


# -- registration ------------------------------------------------------------------------


def _conflicts(conn, name: str, ip: str, ident: int | None) -> list[tuple[int, int]]:
    """(existing agent id, error code) for each registration conflict."""
    found = []
    if ident is not None and conn.execute("SELECT 1 FROM agent WHERE id = ?", (ident,)).fetchone():
        found.append((ident, 1708))
    row = conn.execute("SELECT id FROM agent WHERE name = ?", (name,)).fetchone()
    if row:
        found.append((row[0], 1705))
    if ip != "any":
        row = conn.execute("SELECT id FROM agent WHERE register_ip = ? AND register_ip != 'any'",
                           (ip,)).fetchone()
        if row:
            found.append((row[0], 1706))
    return found


def _may_replace(conn, old: int, force: Mapping, now: float) -> bool:
    """Wazuh's force rules: the old agent disconnected long enough and registered long enough ago."""
    if old == 0:
        return False
    row = conn.execute("SELECT connection_status, last_keepalive, disconnection_time, date_add FROM agent"
                       " WHERE id = ?", (old,)).fetchone()
    if row is None:
        return True
    status, keepalive, disconnected, added = row
    after = force.get("after_registration_time", "1h")
    if after is not None and now - added < timeframe(after):
        return False
    dtime = force.get("disconnected_time") or {"enabled": True, "value": "1h"}
    if dtime.get("enabled", True):
        if status in ("active", "pending"):
            return False
        if status == "disconnected":
            since = disconnected or keepalive or added
            if now - since < timeframe(dtime.get("value", "1h")):
                return False
    return True


def _delete_rows(conn, numbers: Sequence[int], purge: bool, now: int) -> None:
    for start in range(0, len(numbers), 500):
        chunk = list(numbers[start:start + 500])
        holes = ",".join("?" * len(chunk))
        if not purge:
            conn.execute("INSERT OR REPLACE INTO agent_removed (id, name, ip, internal_key, removed_at)"
                         f" SELECT id, name, register_ip, internal_key, ? FROM agent WHERE id IN ({holes})",
                         [now, *chunk])
        else:
            conn.execute(f"DELETE FROM agent_removed WHERE id IN ({holes})", chunk)
        conn.execute(f"DELETE FROM belongs WHERE agent_id IN ({holes})", chunk)
        conn.execute(f"DELETE FROM task WHERE agent_id IN ({holes})", chunk)
        conn.execute(f"DELETE FROM agent WHERE id IN ({holes})", chunk)


def register_sync(registry: Registry, name: str, ip: str = "any", *, ident: str | int | None = None,
                  key: str | None = None, force: Mapping | None = None,
                  groups: Sequence[str] = ("default",)) -> dict:
    """Register one agent (blocking; the CLI and the async operations share it) -> {id, key}."""
    name, ip = check_name(name), check_ip(ip)
    number = None if ident is None else int(ident)
    if number == 0:
        raise WazuhError(1708, "000 is the manager")
    if key is not None and len(key) < 64:
        raise WazuhError(1709)
    if key is not None and not keys_mod.KEY_RE.match(key):
        raise WazuhError(1725, "the key must be 64 characters of [A-Za-z0-9+/=]")
    key = key or keys_mod.new_key()
    now = int(time.time())

    def work(conn):
        conflicts = _conflicts(conn, name, ip, number)
        if conflicts:
            if not force or not force.get("enabled", True):
                raise WazuhError(conflicts[0][1])
            olds = sorted({old for old, _ in conflicts})
            for old, code in conflicts:
                if not _may_replace(conn, old, force, now):
                    raise WazuhError(code, f"agent {agent_id(old)} does not meet the force conditions")
            _delete_rows(conn, olds, purge=True, now=now)
            log.info("agents %s replaced by the registration of %r (force)",
                     ", ".join(map(agent_id, olds)), name)
        new = number
        if new is None:
            new = conn.execute("SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM agent"
                               " UNION ALL SELECT MAX(id) FROM agent_removed)").fetchone()[0] + 1
        else:
            conn.execute("DELETE FROM agent_removed WHERE id = ?", (new,))
        conn.execute("INSERT INTO agent (id, name, ip, register_ip, internal_key, date_add, node_name, groups)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (new, name, ip, ip, key, now, registry.settings.node_name, ",".join(groups) or None))
        conn.executemany("INSERT INTO belongs (agent_id, grp, priority) VALUES (?, ?, ?)",
                         [(new, g, i) for i, g in enumerate(groups)])
        return new

    new = registry.db.write_sync(work)
    registry.keys_changed()
    return {"id": agent_id(new), "key": keys_mod.encoded(new, name, ip, key)}


@expose_resources(actions=["agent:create"], resources=["*:*:*"])
async def add_agent(rbac, name: str, ip: str = "any", *, registry: Registry, agent_id: str | None = None,
                    key: str | None = None, force: Mapping | None = None) -> WazuhResult:
    """``POST /agents``, ``/agents/insert``, ``/agents/insert/quick``: register one agent."""
    data = await trio.to_thread.run_sync(
        lambda: register_sync(registry, name, ip, ident=agent_id, key=key, force=force))
    return WazuhResult({"data": data})


def bulk_insert_sync(registry: Registry, agents: Sequence[Mapping]) -> int:
    """Register many agents in one transaction (benchmarks, migrations from another manager).
    Each item: name, ip (default any), optional os_* / version / status fields. Blocking."""
    now = int(time.time())
    rows = []
    for item in agents:
        rows.append((check_name(item["name"]), check_ip(item.get("ip", "any")),
                     item.get("key") or keys_mod.new_key(), item.get("date_add", now)))

    def work(conn):
        start = conn.execute("SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM agent"
                             " UNION ALL SELECT MAX(id) FROM agent_removed)").fetchone()[0] + 1
        conn.executemany("INSERT INTO agent (id, name, ip, register_ip, internal_key, date_add, node_name,"
                         " groups) VALUES (?, ?, ?, ?, ?, ?, ?, 'default')",
                         [(start + i, n, ip, ip, k, d, registry.settings.node_name)
                          for i, (n, ip, k, d) in enumerate(rows)])
        conn.executemany("INSERT INTO belongs (agent_id, grp, priority) VALUES (?, 'default', 0)",
                         [(start + i,) for i in range(len(rows))])
        return len(rows)

    count = registry.db.write_sync(work)
    registry.keys_changed()
    return count


# -- removal -----------------------------------------------------------------------------


@expose_resources(actions=["agent:delete"], resources=["agent:id:{agent_list}"],
                  related={"agent_list": agent_groups})
async def delete_agents(rbac, agent_list=None, *, registry: Registry, rbac_filters=None, purge: bool = False,
                        filters: Mapping | None = None, q: str | None = None) -> AffectedItemsResult:
    """``DELETE /agents``: the listed (or all visible) agents matching the filters, in one
    transaction; their keys stay in client.keys marked removed unless ``purge``."""
    filters = dict(filters or {})
    filters.setdefault("older_than", "7d")
    result = AffectedItemsResult(all_msg="All selected agents were deleted",
                                 some_msg="Some agents were not deleted",
                                 none_msg="No agents were deleted",
                                 extra={"older_than": filters["older_than"]})
    agent_list = await explicit_agents(registry, agent_list, result)
    where, params = scope(agent_list, rbac_filters, filters, extra=["agent.id != 0"])
    if q:
        statement = to_sql(agent_query(q=q, select=["id"], limit=None), AGENTS,
                           where=where, where_params=params)
        where = f"agent.id IN (WITH t(c0) AS ({statement.sql}) SELECT c0 FROM t)"
        params = list(statement.params)
    now = int(time.time())

    def work(conn):
        numbers = [row[0] for row in conn.execute(f"SELECT agent.id FROM agent WHERE {where}", params)]
        _delete_rows(conn, numbers, purge, now)
        return numbers

    deleted = await registry.db.write(work)
    if deleted:
        registry.keys_changed()
        log.info("deleted %d agents%s", len(deleted), " (purged)" if purge else "")
    result.add_affected_items(agent_id(n) for n in sorted(deleted))
    return result


# -- keepalives and status ---------------------------------------------------------------

_OS_KEYS = ("name", "version", "major", "minor", "codename", "build", "platform", "uname", "arch")


def update_keepalive_sync(registry: Registry, ident: str | int, *, status: str = "active",
                          status_code: int = 0, ip: str | None = None, version: str | None = None,
                          os: Mapping | None = None, config_sum: str | None = None,
                          merged_sum: str | None = None, manager: str | None = None,
                          node_name: str | None = None) -> None:
    """Record a keepalive (the agent-communication plugin's entry point): status (active or
    pending), OS and version information, checksums. Blocking; 1701 for unknown agents."""
    number = int(ident)
    if number == 0:
        raise WazuhError(1703)
    if status not in ("active", "pending"):
        raise WazuhError(1725, f"a keepalive sets active or pending, not {status!r}")
    sets = {"last_keepalive": int(time.time()), "connection_status": status, "status_code": int(status_code),
            "disconnection_time": None}
    for column, value in (("ip", ip), ("version", version), ("config_sum", config_sum),
                          ("merged_sum", merged_sum), ("manager_host", manager), ("node_name", node_name)):
        if value is not None:
            sets[column] = value
    for key in _OS_KEYS:
        if os and os.get(key) is not None:
            sets[f"os_{key}"] = str(os[key])

    def work(conn):
        if merged_sum is not None:
            row = conn.execute("SELECT groups FROM agent WHERE id = ?", (number,)).fetchone()
            expected = expected_merged_sum(registry, (row[0] or "").split(",") if row and row[0] else [])
            sets["group_config_status"] = "synced" if merged_sum == expected else "not synced"
        changed = conn.execute(f"UPDATE agent SET {', '.join(f'{c} = ?' for c in sets)} WHERE id = ?",
                               [*sets.values(), number]).rowcount
        if not changed:
            raise error_for(1701)

    registry.db.write_sync(work)


def expected_merged_sum(registry: Registry, groups: Sequence[str]) -> str | None:
    """The merged.mg checksum an agent of these groups (in order) must report to be in sync:
    the group's own for one group, the md5 of the groups' merged files in order for several."""
    import hashlib

    from wazuhd_agents.groups import merged

    if not groups:
        return None
    data = b"".join(merged(registry.shared / name) for name in groups)
    return hashlib.md5(data).hexdigest()


def disconnect_stale_sync(registry: Registry, now: float | None = None) -> tuple[int, list[int]]:
    """Mark agents without a keepalive for ``disconnection_time`` as disconnected, and remove
    those disconnected longer than ``remove_disconnected_after`` when that is set.
    Returns (newly disconnected, removed ids). Blocking."""
    now = int(time.time() if now is None else now)
    settings = registry.settings

    def work(conn):
        changed = conn.execute(
            "UPDATE agent SET connection_status = 'disconnected', disconnection_time = ?"
            " WHERE id != 0 AND connection_status IN ('active', 'pending') AND last_keepalive < ?",
            (now, now - settings.disconnection_time)).rowcount
        removed = []
        if settings.auto_remove_after:
            removed = [r[0] for r in conn.execute(
                "SELECT id FROM agent WHERE id != 0 AND connection_status = 'disconnected'"
                " AND disconnection_time < ?", (now - settings.auto_remove_after,))]
            _delete_rows(conn, removed, purge=False, now=now)
        return changed, removed

    changed, removed = registry.db.write_sync(work)
    if removed:
        log.warning("removed %d agents disconnected for more than %d s: %s", len(removed),
                    settings.auto_remove_after, ", ".join(map(agent_id, removed)))
        registry.keys_changed()
    return changed, removed
