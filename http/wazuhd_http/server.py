"""Serving: hypercorn inside the daemon's nursery, HTTPS by default, HTTP/1.1 and HTTP/2."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from wazuhd_http.tls import ensure_self_signed

log = logging.getLogger("wazuhd.api")


def api_dir(home) -> Path:
    return home.etc / "api"


def hypercorn_config(api_config: dict, home) -> tuple[HypercornConfig, str]:
    """Build hypercorn's config from the ``api`` section; returns it and the URL scheme."""
    config = HypercornConfig()
    hosts = api_config["host"] if isinstance(api_config["host"], list) else [api_config["host"]]
    port = api_config["port"]
    config.bind = [f"[{h}]:{port}" if ":" in h else f"{h}:{port}" for h in hosts]
    config.accesslog = None
    config.include_server_header = False
    config.errorlog = logging.getLogger("wazuhd.api.server")
    config.graceful_timeout = 2
    config.keep_alive_timeout = 30
    https = api_config["https"]
    if not https["enabled"]:
        return config, "http"
    directory = api_dir(home)
    cert = _in(directory, https["cert"])
    key = _in(directory, https["key"])
    if ensure_self_signed(cert, key):
        log.info("created a self-signed certificate %s (key %s, mode 0600)", cert, key)
    config.certfile, config.keyfile = str(cert), str(key)
    if https["use_ca"]:
        config.ca_certs = str(_in(directory, https["ca"]))
        config.verify_mode = ssl.CERT_REQUIRED
    if https["ssl_ciphers"]:
        config.ciphers = https["ssl_ciphers"]
    config.alpn_protocols = ["h2", "http/1.1"]
    return config, "https"


def _in(directory: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else directory / path


async def serve_app(app, config: HypercornConfig, *, task_status=trio.TASK_STATUS_IGNORED):
    """Serve until cancelled; ``task_status.started`` gets the bound addresses."""
    await serve(app, config, task_status=task_status)
