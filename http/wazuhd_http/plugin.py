"""Hook implementations of the HTTP API host (thin: the work is in the modules)."""

from __future__ import annotations

from wazuhd import hookimpl
from wazuhd.config import ConfigSection
from wazuhd.daemon import Service
from wazuhd_http import info_api, security_api
from wazuhd_http.service import ApiService
from wazuhd_http.spec import load_fragment

_STRING = {"type": "string"}

API_SECTION = ConfigSection("api", description="The REST API (Wazuh's api.yaml keys).", schema={
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean", "default": True, "description": "Serve the API."},
        "host": {"oneOf": [_STRING, {"type": "array", "items": _STRING, "minItems": 1}],
                 "default": "0.0.0.0", "description": "Address or list of addresses to bind."},
        "port": {"type": "integer", "minimum": 0, "maximum": 65535, "default": 55000,
                 "description": "TCP port (0: any free port)."},
        "max_upload_size": {"type": "integer", "minimum": 0, "default": 10485760,
                            "description": "Largest request body in bytes (413 above it)."},
        "intervals": {"type": "object", "properties": {
            "request_timeout": {"type": "number", "exclusiveMinimum": 0, "default": 10,
                                "description": "Seconds before a request answers error 3021 "
                                               "(unless wait_for_complete=true)."},
        }},
        "https": {"type": "object", "properties": {
            "enabled": {"type": "boolean", "default": True},
            "key": {"type": "string", "default": "server.key",
                    "description": "Private key, relative to etc/api/ (created if missing)."},
            "cert": {"type": "string", "default": "server.crt",
                     "description": "Certificate, relative to etc/api/ (self-signed if missing)."},
            "use_ca": {"type": "boolean", "default": False,
                       "description": "Require client certificates signed by the CA below."},
            "ca": {"type": "string", "default": "ca.crt"},
            "ssl_ciphers": {"type": "string", "default": ""},
        }},
        "logs": {"type": "object", "properties": {
            "level": {"type": "string", "enum": ["debug", "info", "warning", "error"],
                      "default": "info"},
            "format": {"type": "array", "items": {"type": "string", "enum": ["plain", "json"]},
                       "minItems": 1, "uniqueItems": True, "default": ["plain"],
                       "description": "logs/api.log (plain) and/or logs/api.json (json)."},
            "max_size": {"type": "integer", "minimum": 0, "default": 0,
                         "description": "Rotate the access log at this many bytes (0: daily only)."},
        }},
        "cors": {"type": "object", "properties": {
            "enabled": {"type": "boolean", "default": False},
            "source_route": {"type": "string", "default": "*"},
            "expose_headers": {"type": "string", "default": "*"},
            "allow_headers": {"type": "string", "default": "*"},
            "allow_credentials": {"type": "boolean", "default": False},
        }},
        "access": {"type": "object", "properties": {
            "max_login_attempts": {"type": "integer", "minimum": 1, "default": 50},
            "block_time": {"type": "number", "minimum": 0, "default": 300,
                           "description": "Seconds an IP stays blocked after too many failed logins."},
            "max_request_per_minute": {"type": "integer", "minimum": 0, "default": 300,
                                       "description": "Per user; 0 disables the limit."},
        }},
    },
})


@hookimpl
def wazuhd_config_schema():
    return API_SECTION


@hookimpl
def wazuhd_services(ctx):
    if not ctx.config["api"]["enabled"]:
        return []
    return [Service("api", ApiService(ctx).run)]


@hookimpl
def wazuhd_api_routes():
    return info_api.ROUTES + security_api.ROUTES


@hookimpl
def wazuhd_openapi():
    return load_fragment("wazuhd_http", "openapi/security.yaml")
