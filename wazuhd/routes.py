"""What plugins hand the HTTP host, without importing any web framework.

A plugin returns :class:`Route` objects from ``wazuhd_api_routes`` and an
OpenAPI fragment from ``wazuhd_openapi``; the HTTP host (``wazuhd_http``)
binds each route to the operation of the same method and path in the
assembled spec, validates the request against it, authenticates the caller
and hands the handler an :class:`ApiRequest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal

from wazuhd.errors import WazuhError

#: ``jwt``: a valid token is required (the default); ``basic``: HTTP Basic
#: credentials are checked by the handler itself (login); ``none``: public.
Auth = Literal["jwt", "basic", "none"]


@dataclass(frozen=True)
class Route:
    """One HTTP operation: ``method`` and OpenAPI-style ``path`` (``/agents/{agent_id}``)."""

    method: str
    path: str
    handler: Callable[["ApiRequest"], Awaitable[Any]]
    auth: Auth = "jwt"


@dataclass
class ApiUser:
    """The authenticated caller, as its token describes it."""

    username: str
    user_id: int
    run_as: bool
    roles: list[int]
    token: dict
    rbac: Any = None  # wazuhd.rbac.RbacContext, built per request


@dataclass
class ApiRequest:
    """A validated request: ``params`` holds path and query parameters, coerced to the
    types the spec declares (integers, booleans, comma-separated arrays as lists)."""

    ctx: Any
    method: str
    path: str
    params: dict[str, Any]
    body: Any
    raw_body: bytes
    headers: dict[str, str]
    remote_addr: str
    user: ApiUser | None = None
    api: Any = None  # the HTTP host's runtime: token keys, login guard, security service


@dataclass
class ApiResponse:
    """A handler's answer when a plain JSON object with status 200 is not enough.

    A JSON ``body`` given as ``bytes`` is sent as it is (already encoded, e.g. built by
    SQLite's json functions), so large lists skip a decode/encode round trip."""

    body: Any
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def uploaded_text(content: bytes | str | None, *, empty_code: int) -> str:
    """The text of an uploaded file (a request body): error 1911 when it is not UTF-8,
    ``empty_code`` (Wazuh's code for that upload, e.g. 1112 or 1912) when it is blank."""
    text = content or ""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise WazuhError(1911) from None
    if not text.strip():
        raise WazuhError(empty_code)
    return text
