"""``/manager``: the daemon seen as Wazuh's manager - its services, information, configuration
(read and validated, never changed here), API configuration, offline version check and logs.

Operations take plain values (the daemon's status dict, config, home paths), never the
daemon itself, so they run the same from the API, a socket or a test.
"""

from __future__ import annotations

import re
import shutil
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import trio
import yaml

from wazuhd import __version__ as WAZUHD_VERSION
from wazuhd.config import ConfigError, load as load_config, validate as validate_config
from wazuhd.errors import WazuhError
from wazuhd.home import write_atomic
from wazuhd.logs import mask_secrets
from wazuhd.query import Field, Query, Schema, apply
from wazuhd.rbac import expose_resources
from wazuhd.results import AffectedItemsResult
from wazuhd.routes import ApiResponse, uploaded_text

from wazuhd_agents.db import VERSION

LEVELS = ("critical", "debug", "debug2", "error", "info", "warning")
_LINE = re.compile(r"^(\d{4})/(\d{2})/(\d{2}) (\d{2}:\d{2}:\d{2}) (\S+?)(?:\[\d+\])?(?: ([\w.\-]+))?: "
                   r"(DEBUG|INFO|WARNING|ERROR|CRITICAL): (.*)$")
LOG_SCHEMA = Schema([Field("timestamp"), Field("tag"), Field("level"), Field("description")], id_field=None)


def _one(item, all_msg: str, none_msg: str = "") -> AffectedItemsResult:
    result = AffectedItemsResult(all_msg=all_msg, none_msg=none_msg or all_msg)
    result.add_affected_items([item])
    return result


@expose_resources(actions=["manager:read"], resources=["*:*:*"])
async def get_status(rbac, *, status: Mapping) -> AffectedItemsResult:
    """``GET /manager/status``: the daemon and each plugin service, running or stopped."""
    daemons = {"wazuhd": "running" if status.get("state") == "running" else "stopped"}
    for name, service in sorted(status.get("services", {}).items()):
        daemons[name] = "running" if service.get("status") == "running" else "stopped"
    return _one(daemons, "Processes status was successfully read",
                "Could not read basic information in some nodes")


@expose_resources(actions=["manager:read"], resources=["*:*:*"])
async def get_info(rbac, *, home: Path, uuid: str | None = None) -> AffectedItemsResult:
    """``GET /manager/info``."""
    offset = time.strftime("%z")
    return _one({"path": str(home), "version": VERSION.replace("Wazuh ", ""), "type": "server",
                 "max_agents": "unlimited", "openssl_support": "yes", "tz_offset": offset,
                 "tz_name": time.strftime("%Z"), "uuid": uuid, "wazuhd_version": WAZUHD_VERSION},
                "Basic information was successfully read")


def _xml(parent: ET.Element, value) -> None:
    for key, item in value.items():
        for one in item if isinstance(item, list) else [item]:
            child = ET.SubElement(parent, str(key))
            if isinstance(one, Mapping):
                _xml(child, one)
            elif one is not None:
                child.text = str(one).lower() if isinstance(one, bool) else str(one)


@expose_resources(actions=["manager:read"], resources=["*:*:*"])
async def get_configuration(rbac, *, config: Mapping, config_file: Path, section: str | None = None,
                            field: str | None = None, raw: bool = False):
    """``GET /manager/configuration``: the running configuration as JSON, per section and field
    (secrets masked); ``raw``: the same as XML, as Wazuh's clients expect (its ossec.conf)."""
    data = mask_secrets(dict(config))
    if raw:
        root = ET.Element("wazuhd_config")
        _xml(root, data)
        ET.indent(root)
        return ApiResponse(ET.tostring(root, encoding="unicode") + "\n", content_type="application/xml")
    if section is not None:
        if section not in data:
            raise WazuhError(1102, f"{section!r} (sections: {', '.join(sorted(data))})")
        data = {section: data[section]}
        if field is not None:
            if not isinstance(data[section], Mapping) or field not in data[section]:
                raise WazuhError(1103, f"{field!r} in section {section!r}")
            data = {section: {field: data[section][field]}}
    elif field is not None:
        raise WazuhError(1103, "a field needs its section")
    return _one(data, "Configuration was successfully read")


@expose_resources(actions=["manager:read"], resources=["*:*:*"])
async def validate_configuration(rbac, *, config_file: Path, sections: Sequence,
                                 node: str = "node01") -> AffectedItemsResult:
    """``GET /manager/configuration/validation``: the file on disk checked against every
    plugin's schema, as the next start would."""
    result = AffectedItemsResult(all_msg="Validation was successfully checked",
                                 some_msg="Could not check validation in some nodes",
                                 none_msg="Could not check validation in any node")
    try:
        await trio.to_thread.run_sync(load_config, config_file, list(sections))
    except ConfigError as exc:
        result.add_failed_item(node, WazuhError(1908, str(exc)))
    else:
        result.add_affected_items([{"name": node, "status": "OK"}])
    return result


def _check_text(text: str, sections: Sequence, origin: str) -> None:
    try:
        raw = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise WazuhError(1908, f"{origin}: not YAML: {exc}") from None
    if raw is not None and not isinstance(raw, Mapping):
        raise WazuhError(1908, f"{origin}: the configuration is a mapping of sections")
    try:
        validate_config(list(sections), raw or {}, origin=origin)
    except ConfigError as exc:
        raise WazuhError(1908, str(exc)) from None


def _replace_config(config_file: Path, text: str) -> Path:
    """Keep the current file as ``wazuhd.yaml.<UTC stamp>.bak`` and write the new one atomically."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    backup = config_file.with_name(f"{config_file.name}.{stamp}.bak")
    if config_file.exists():
        shutil.copy2(config_file, backup)
    write_atomic(config_file, text, 0o640)
    return backup


@expose_resources(actions=["manager:update_config"], resources=["*:*:*"])
async def update_configuration(rbac, content: bytes | str, *, config_file: Path, sections: Sequence,
                               node: str = "node01") -> AffectedItemsResult:
    """``PUT /manager/configuration``: a new etc/wazuhd.yaml, validated against every plugin's
    schema before it replaces the file (the old one kept as a backup). It applies at the next
    start, as in Wazuh."""
    content = uploaded_text(content, empty_code=1912)
    _check_text(content, sections, "uploaded configuration")
    backup = await trio.to_thread.run_sync(_replace_config, config_file, content)
    result = AffectedItemsResult(all_msg="Configuration was successfully updated",
                                 none_msg="Could not update configuration")
    result.add_affected_items([node])
    result.extra["backup"] = backup.name
    return result


@expose_resources(actions=["manager:read_api_config"], resources=["*:*:*"])
async def get_api_config(rbac, *, api: Mapping, node: str = "node01") -> AffectedItemsResult:
    """``GET /manager/api/config``: the ``api`` section in use (secrets masked)."""
    return _one({"node_name": node, "node_api_config": mask_secrets(dict(api))},
                "API configuration was successfully read")


async def version_check(rbac) -> dict:
    """``GET /manager/version/check``: offline, no network call - the running version only."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"data": {"current_version": VERSION.replace("Wazuh ", ""), "update_check": False,
                     "last_check_date": now}, "error": 0}


def parse_log(lines) -> list[dict]:
    """Our log lines (``YYYY/MM/DD hh:mm:ss wazuhd[pid] logger: LEVEL: text``) as Wazuh's
    log items; continuation lines (tracebacks) join the entry above."""
    items: list[dict] = []
    for line in lines:
        match = _LINE.match(line.rstrip("\n"))
        if match:
            year, month, day, clock, program, logger, level, text = match.groups()
            items.append({"timestamp": f"{year}-{month}-{day}T{clock}Z",
                          "tag": f"{program}:{logger}" if logger else program,
                          "level": level.lower(), "description": text})
        elif items and line.strip():
            items[-1]["description"] += "\n" + line.rstrip("\n")
    return items


def _read_logs(path: Path) -> list[dict]:
    if not path.is_file():
        raise WazuhError(1020)
    with path.open(errors="replace") as handle:
        return parse_log(handle)


@expose_resources(actions=["manager:read"], resources=["*:*:*"])
async def get_logs(rbac, *, log_file: Path, tag: str | None = None, level: str | None = None,
                   **query) -> AffectedItemsResult:
    """``GET /manager/logs``: the daemon's log, newest first, with the query language."""
    items = await trio.to_thread.run_sync(_read_logs, log_file)
    items.reverse()
    items = [i for i in items if (tag is None or i["tag"] == tag) and (level is None or i["level"] == level)]
    result = AffectedItemsResult(all_msg="Logs were successfully read", none_msg="Could not read logs")
    page = apply(items, Query.from_params(**query), LOG_SCHEMA)
    result.affected_items, result.total_affected_items = page.items, page.total
    return result


@expose_resources(actions=["manager:read"], resources=["*:*:*"])
async def get_logs_summary(rbac, *, log_file: Path) -> AffectedItemsResult:
    """``GET /manager/logs/summary``: entries per tag and level."""
    items = await trio.to_thread.run_sync(_read_logs, log_file)
    counts: dict[str, Counter] = {}
    for item in items:
        counts.setdefault(item["tag"], Counter())[item["level"]] += 1
    summary = [{tag: {"all": sum(c.values()), **{level: c.get(level, 0) for level in LEVELS if level != "debug2"}}}
               for tag, c in sorted(counts.items())]
    result = AffectedItemsResult(all_msg="Log was successfully summarized", none_msg="Could not summarize log")
    result.add_affected_items(summary)
    return result




# -- restart and statistics (the history and the counters are in wazuhd_agents.stats) --------


@expose_resources(actions=["manager:read", "manager:restart"], resources=["*:*:*"])
async def restart(rbac, *, config_file: Path, sections: Sequence, schedule, node: str = "node01") -> ApiResponse:
    """``PUT /manager/restart``: the configuration on disk is validated first, as the next start
    would (an invalid one is refused with 1908 and nothing restarts); then ``schedule()`` asks
    for the restart, which happens right after this answer (202) is sent."""
    try:
        await trio.to_thread.run_sync(load_config, config_file, list(sections))
    except ConfigError as exc:
        raise WazuhError(1908, str(exc)) from None
    schedule()
    result = AffectedItemsResult(all_msg="Restart request sent to all specified nodes",
                                 none_msg="Could not send restart request to any node")
    result.add_affected_items([node])
    return ApiResponse(result.render(), status=202)


@expose_resources(actions=["manager:read"], resources=["*:*:*"])
async def get_daemon_stats(rbac, *, daemons: Mapping, daemons_list: Sequence | None = None) -> AffectedItemsResult:
    """``GET /manager/daemons/stats``: ``daemons`` maps a Wazuh daemon name to a callable
    returning its item (see :mod:`wazuhd_agents.stats`)."""
    names = list(dict.fromkeys(daemons_list)) if daemons_list else list(daemons)
    result = AffectedItemsResult(all_msg="Statistical information for each daemon was successfully read",
                                 some_msg="Could not read statistical information for some daemons",
                                 none_msg="Could not read statistical information for any daemon")
    result.add_affected_items([daemons[name]() for name in names])
    return result


def _day(value: str | None) -> str:
    if value is None:
        return datetime.now().strftime("%Y-%m-%d")
    try:
        return datetime.strptime(value, "%Y-%m-%d").strftime("%Y-%m-%d")
    except ValueError:
        raise WazuhError(1307, f"date {value!r}: expected YYYY-MM-DD") from None


@expose_resources(actions=["manager:read"], resources=["*:*:*"])
async def get_stats(rbac, *, history, date: str | None = None) -> AffectedItemsResult:
    """``GET /manager/stats``: one item per hour of ``date`` (today by default) with alerts,
    by rule id and level, events, syscheck and firewall alerts. A past date without history
    is 1308, as Wazuh answers for a missing stats file; today answers its hours so far."""
    day = _day(date)
    await history.flush()
    hours = await trio.to_thread.run_sync(history.day_sync, day)
    if not hours and day != datetime.now().strftime("%Y-%m-%d"):
        raise WazuhError(1308, f"no statistics for {day}")
    result = AffectedItemsResult(all_msg="Statistical information for each node was successfully read",
                                 none_msg="Could not read statistical information for any node")
    result.add_affected_items(hours)
    return result


@expose_resources(actions=["manager:read"], resources=["*:*:*"])
async def get_stats_hourly(rbac, *, history) -> AffectedItemsResult:
    """``GET /manager/stats/hourly``: alerts per hour of the day, averaged over the days with
    history (``interactions``: how many days)."""
    await history.flush()
    averages, days, _ = await trio.to_thread.run_sync(history.averages_sync)
    result = AffectedItemsResult(all_msg="Statistical information per hour for each node was successfully read",
                                 none_msg="Could not read statistical information per hour for any node")
    result.add_affected_items([{"averages": averages, "interactions": days}])
    return result


@expose_resources(actions=["manager:read"], resources=["*:*:*"])
async def get_stats_weekly(rbac, *, history) -> AffectedItemsResult:
    """``GET /manager/stats/weekly``: the same per weekday, Sunday first."""
    await history.flush()
    _, _, per_day = await trio.to_thread.run_sync(history.averages_sync)
    result = AffectedItemsResult(all_msg="Statistical information per week for each node was successfully read",
                                 none_msg="Could not read statistical information per week for any node")
    result.add_affected_items([{name: {"averages": averages, "interactions": days}}
                               for name, (averages, days) in per_day.items()])
    return result


@expose_resources(actions=["manager:read"], resources=["*:*:*"])
async def get_stats_daemon(rbac, *, read, all_msg: str) -> AffectedItemsResult:
    """``GET /manager/stats/analysisd`` and ``/remoted``: Wazuh's older flat form."""
    result = AffectedItemsResult(all_msg=all_msg, none_msg="Could not read statistical information for any node")
    result.add_affected_items([read()])
    return result
