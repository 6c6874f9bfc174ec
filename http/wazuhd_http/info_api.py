"""``GET /`` (basic API information) and ``GET /api/spec.yaml`` (the assembled spec)."""

from __future__ import annotations

import datetime as dt
import socket

from wazuhd.routes import ApiRequest, ApiResponse, Route

import yaml


async def default_info(request: ApiRequest) -> dict:
    info = request.api.spec["info"]
    return {"data": {
        "title": "Wazuh API REST",
        "api_version": info["version"],
        "revision": "wazuhd",
        "license_name": info["license"]["name"],
        "license_url": info["license"]["url"],
        "hostname": socket.gethostname(),
        "timestamp": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }, "error": 0}


async def openapi_spec(request: ApiRequest) -> ApiResponse:
    return ApiResponse(yaml.safe_dump(request.api.spec, sort_keys=False),
                       content_type="application/yaml")


ROUTES = [
    Route("GET", "/", default_info, auth="none"),
    Route("GET", "/api/spec.yaml", openapi_spec, auth="none"),
]
