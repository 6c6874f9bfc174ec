"""The quart-trio application: every route comes from a plugin's ``wazuhd_api_routes``.

Per request, in order: blocked-IP check, authentication (JWT; before any
validation, as Wazuh's connexion does, so an anonymous caller learns nothing
from 400 details), the per-user rate limit, spec validation of path and query
parameters, body validation, the handler under the request timeout, rendering
to Wazuh's envelope, the security headers, and one access-log line.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import trio

from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from wazuhd.errors import WazuhException, WazuhInternalError, WazuhPermissionError, \
    WazuhTooManyRequests
from wazuhd.results import AffectedItemsResult, WazuhResult
from wazuhd.routes import ApiRequest, ApiResponse, ApiUser, Route
from wazuhd_http.access_log import AccessLog
from wazuhd_http.guards import LoginGuard, RequestRateLimiter
from wazuhd_http.spec import Operation, RequestInvalid, SpecError
from wazuhd_http.tokens import InvalidToken, TokenKeys

log = logging.getLogger("wazuhd.api")

SECURITY_HEADERS = {
    "Server": "wazuhd",
    "Strict-Transport-Security": "max-age=63072000; includeSubdomains",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "0",
    "Content-Security-Policy": "none",
    "Referrer-Policy": "no-referrer, strict-origin-when-cross-origin",
    "Cache-Control": "no-store",
}


class Unauthorized(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@dataclass
class ApiRuntime:
    """What the HTTP host holds for the lifetime of the server."""

    ctx: Any
    config: dict
    spec: dict
    keys: TokenKeys
    security: Any  # wazuhd.rbac security service
    access_log: AccessLog | None = None
    rate_limiter: RequestRateLimiter = field(init=False)
    login_guard: LoginGuard = field(init=False)

    def __post_init__(self):
        access = self.config["access"]
        self.rate_limiter = RequestRateLimiter(access["max_request_per_minute"])
        self.login_guard = LoginGuard(access["max_login_attempts"], access["block_time"])

    async def authenticate_bearer(self, header: str | None) -> ApiUser:
        if not header:
            raise Unauthorized("No authorization token provided")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("No authorization token provided")
        try:
            claims = self.keys.decode(token.strip())
        except InvalidToken:
            raise Unauthorized("Invalid token") from None
        context = await self.security.authorize(claims)
        if context is None:
            raise Unauthorized("Invalid token")
        return ApiUser(username=claims["sub"], user_id=claims["uid"],
                       run_as=bool(claims.get("run_as")), roles=list(claims["rbac_roles"]),
                       token=claims, rbac=context)


def render(result: Any, pretty: bool) -> Response:
    if isinstance(result, ApiResponse):
        if result.content_type == "application/json" and not isinstance(result.body, bytes):
            body = json.dumps(result.body, indent=4 if pretty else None, default=str)
        else:
            body = result.body
        return Response(body, status=result.status, content_type=result.content_type,
                        headers=result.headers)
    if isinstance(result, (AffectedItemsResult, WazuhResult)):
        result = result.render()
    return Response(json.dumps(result, indent=4 if pretty else None, default=str),
                    status=200, content_type="application/json")


def problem(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/problem+json",
                    headers=headers or {})


def to_quart_path(path: str) -> str:
    return path.replace("{", "<").replace("}", ">")


def create_app(runtime: ApiRuntime, routes: list[tuple[str, Route]]) -> QuartTrio:
    app = QuartTrio("wazuhd_http")
    app.config["MAX_CONTENT_LENGTH"] = runtime.config["max_upload_size"]
    app.config["RESPONSE_TIMEOUT"] = None
    app.config["BODY_TIMEOUT"] = runtime.config["intervals"]["request_timeout"] + 5
    cors = runtime.config["cors"]
    spec_ops = {(path, method.upper()) for path, item in runtime.spec["paths"].items()
                for method in item if method in ("get", "put", "post", "delete", "patch")}
    bound: set[tuple[str, str]] = set()
    for plugin, route in routes:
        key = (route.path, route.method.upper())
        if key in bound:
            raise SpecError(f"plugin {plugin!r}: route {key[1]} {key[0]} is already bound")
        if key not in spec_ops:
            raise SpecError(f"plugin {plugin!r}: route {key[1]} {key[0]} has no operation in "
                            f"the OpenAPI spec (add it to the plugin's wazuhd_openapi fragment)")
        bound.add(key)
        operation = Operation(runtime.spec, route.path, route.method)
        app.add_url_rule(to_quart_path(route.path), endpoint=f"{route.method} {route.path}",
                         view_func=_make_view(runtime, route, operation),
                         methods=[route.method.upper()])
    missing = sorted(spec_ops - bound)
    if missing:
        raise SpecError("operations in the spec without a route: "
                        + ", ".join(f"{m} {p}" for p, m in missing))

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException):
        response = _http_problem(runtime, error)
        _log_access(runtime, None, response.status_code, 0.0, None)
        return response

    @app.before_request
    async def preflight():
        if cors["enabled"] and request.method == "OPTIONS":
            return Response("", status=204)
        return None

    @app.after_request
    async def headers(response: Response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        origin = request.headers.get("Origin")
        if cors["enabled"] and origin and cors["source_route"] in ("*", origin):
            response.headers["Access-Control-Allow-Origin"] = origin if \
                cors["allow_credentials"] else cors["source_route"]
            response.headers["Access-Control-Expose-Headers"] = cors["expose_headers"]
            response.headers["Access-Control-Allow-Headers"] = cors["allow_headers"]
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
            if cors["allow_credentials"]:
                response.headers["Access-Control-Allow-Credentials"] = "true"
        return response

    return app


def _http_problem(runtime: ApiRuntime, error: HTTPException) -> Response:
    titles = {404: "Not Found", 405: "Method Not Allowed", 413: "Request Entity Too Large"}
    details = {
        404: "404: Not Found",
        405: "Specified method is invalid for this resource",
        413: f"Maximum upload size exceeded: the request body is larger than "
             f"{runtime.config['max_upload_size']} bytes (api.max_upload_size)",
    }
    code = error.code or 500
    return problem(code, {"title": titles.get(code, error.name),
                          "detail": details.get(code, error.description or error.name)})


def _body_for_log(raw: bytes):
    """A body that failed validation is still logged (then masked): JSON if it parses."""
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _caller_name(runtime: ApiRuntime, header: str | None) -> str | None:
    """Who a request that never reached authentication (login, 404, 405, blocked IP) came
    from, as Wazuh's access log shows it: the Basic username, or the subject of a token
    signed by this API (even if revoked since)."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() == "bearer" and encoded:
        try:
            return runtime.keys.decode(encoded.strip()).get("sub")
        except InvalidToken:
            return None
    credentials = basic_credentials(header)
    return credentials[0] if credentials and credentials[0] else None


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(username, password)`` from an ``Authorization: Basic ...`` header, else None."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        username, sep, password = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (username, password) if sep else None


def _make_view(runtime: ApiRuntime, route: Route, operation: Operation):
    timeout = runtime.config["intervals"]["request_timeout"]

    async def view(**path_params):
        started = time.monotonic()
        user: ApiUser | None = None
        params: dict = {}
        body: Any = None
        wait: float | None = None
        raw = b""
        ip = request.remote_addr or "-"
        try:
            if runtime.login_guard.blocked(ip):
                raise WazuhPermissionError(6000)
            if route.auth == "jwt":
                try:
                    user = await runtime.authenticate_bearer(request.headers.get("Authorization"))
                except Unauthorized:
                    # Bad tokens count against the caller's IP, so a flood of them is limited too.
                    wait = runtime.rate_limiter.check(f"ip:{ip}")
                    if wait is not None:
                        raise WazuhTooManyRequests(6001, extra_remediation=f"Retry in {wait:.0f} s")
                    raise
            wait = runtime.rate_limiter.check(user.username if user else f"ip:{ip}")
            if wait is not None:
                raise WazuhTooManyRequests(6001, extra_remediation=f"Retry in {wait:.0f} s")
            params = operation.check_params(path_params, request.args.items(multi=True))
            raw = await request.get_data(cache=False)
            body = operation.check_body(raw, request.content_type)
            api_request = ApiRequest(ctx=runtime.ctx, method=route.method.upper(),
                                     path=route.path, params=params, body=body, raw_body=raw,
                                     headers=dict(request.headers), remote_addr=ip, user=user,
                                     api=runtime)
            if params.get("wait_for_complete"):
                result = await route.handler(api_request)
            else:
                try:
                    with trio.fail_after(timeout):
                        result = await route.handler(api_request)
                except trio.TooSlowError:
                    raise WazuhInternalError(3021) from None
            response = render(result, bool(params.get("pretty")))
        except RequestInvalid as exc:
            response = problem(exc.status, {"title": exc.title, "detail": exc.detail})
        except HTTPException as exc:  # e.g. 413 while reading a body over max_upload_size
            response = _http_problem(runtime, exc)
        except Unauthorized as exc:
            response = problem(401, {"title": "Unauthorized", "detail": exc.detail})
        except WazuhException as exc:
            extra = {}
            if isinstance(exc, WazuhTooManyRequests):
                extra = {"Retry-After": str(max(1, round(wait or 1)))}
            response = problem(exc.http_status, exc.to_dict(), extra)
        except Exception:  # noqa: BLE001 - a handler bug answers 500, the server goes on
            log.exception("%s %s failed", route.method, route.path)
            response = problem(500, WazuhInternalError(1000).to_dict())
        logged = body if body is not None else _body_for_log(raw)
        _log_access(runtime, user, response.status_code, time.monotonic() - started, logged)
        return response

    view.__name__ = f"{route.method}_{route.path}"
    return view


def _log_access(runtime: ApiRuntime, user: ApiUser | None, status: int, elapsed: float,
                body: Any) -> None:
    if runtime.access_log is None:
        return
    name = user.username if user else _caller_name(runtime, request.headers.get("Authorization"))
    runtime.access_log.record(user=name or "unknown_user",
                              ip=request.remote_addr or "-", method=request.method,
                              path=request.path, parameters=dict(request.args), body=body or {},
                              status=status, elapsed=elapsed)


