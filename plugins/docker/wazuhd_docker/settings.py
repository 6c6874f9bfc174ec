"""The ``docker`` section of ``etc/wazuhd.yaml`` and the sources it configures."""

from __future__ import annotations

from pathlib import Path

from wazuhd.config import ConfigSection
from wazuhd_docker.engine import EngineSettings, TlsSettings
from wazuhd_docker.inventory import InventorySource
from wazuhd_docker.listener import EventsSource

#: Docker's ``/events`` filter names (``docker events --filter``).
FILTER_NAMES = ("config", "container", "daemon", "event", "image", "label", "network", "node",
                "plugin", "scope", "secret", "service", "type", "volume")

_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}, "default": []}

_TLS = {
    "type": "object",
    "description": "TLS to a tcp:// engine, as the docker SDK takes it (docker.tls.TLSConfig); "
                   "relative paths are under etc/.",
    "properties": {
        "enabled": {"type": "boolean", "default": False},
        "verify": {"type": "boolean", "default": True,
                   "description": "Check the engine's certificate (against ca_cert when set)."},
        "ca_cert": {"type": "string", "default": ""},
        "client_cert": {"type": "string", "default": ""},
        "client_key": {"type": "string", "default": ""},
    },
}

_ENGINE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "",
                 "description": "Names the engine in the status, logs and checkpoints "
                                "(default: its url, or 'default')."},
        "url": {"type": "string", "default": "",
                "description": "unix:///var/run/docker.sock, tcp://host:2376, ...; empty: "
                               "DOCKER_HOST (with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) or the "
                               "local socket."},
        "api_version": {"type": "string", "default": "auto",
                        "description": "Engine API version to speak; auto negotiates "
                                       "(1.41 or newer is required)."},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 60,
                    "description": "Seconds for a request (the event stream itself has none)."},
        "tls": _TLS,
    },
}

SECTION = ConfigSection("docker", description="Docker engines' events (Wazuh's docker-listener).",
                        schema={
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean", "default": False},
        "engines": {"type": "array", "items": _ENGINE, "default": [],
                    "description": "Engines to follow; empty: the one DOCKER_HOST names, "
                                   "else the local socket."},
        "filters": {"type": "object", "description": "Docker's event filters "
                    "(docker events --filter), e.g. type: [container], event: [start, stop], "
                    "label: [env=prod].",
                    "properties": {name: _STRINGS for name in FILTER_NAMES}},
        "run_on_start": {"type": "boolean", "default": True,
                         "description": "Connect at start (else after 'interval')."},
        "interval": {"type": "number", "exclusiveMinimum": 0, "default": 5,
                     "description": "Seconds before reconnecting to an engine that went away; "
                                    "doubles after each failed attempt up to max_backoff."},
        "max_backoff": {"type": "number", "exclusiveMinimum": 0, "default": 300},
        "inventory": {"type": "object", "properties": {
            "enabled": {"type": "boolean", "default": False,
                        "description": "Report the running containers (image, command, ports, "
                                       "privileged, mounts) as events every 'interval'."},
            "interval": {"type": "number", "exclusiveMinimum": 0, "default": 3600},
        }},
    },
})


def engine_settings(item: dict, etc: Path | None = None) -> EngineSettings:
    """One ``engines`` entry (defaults filled) as :class:`EngineSettings`."""
    tls = dict(item.get("tls") or {})
    for key in ("ca_cert", "client_cert", "client_key"):
        if tls.get(key) and etc is not None and not Path(tls[key]).is_absolute():
            tls[key] = str(etc / tls[key])
    url = item.get("url", "")
    return EngineSettings(name=item.get("name") or url or "default", url=url,
                          api_version=item.get("api_version", "auto"),
                          timeout=float(item.get("timeout", 60)), tls=TlsSettings(**tls))


def sources(section: dict, etc: Path | None = None) -> list:
    """The event sources (and inventory sources, when enabled) the section configures."""
    if not section["enabled"]:
        return []
    engines = [engine_settings(item, etc) for item in section["engines"] or [{}]]
    names = [engine.name for engine in engines]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"docker.engines: two engines are named {name!r}; "
                             f"give each its own name")
    filters = {name: values for name, values in (section.get("filters") or {}).items() if values}
    out: list = [EventsSource(engine, filters=filters, interval=section["interval"],
                              max_backoff=section["max_backoff"]) for engine in engines]
    if section["inventory"]["enabled"]:
        out += [InventorySource(engine, interval=section["inventory"]["interval"])
                for engine in engines]
    return out
