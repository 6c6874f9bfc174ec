"""Microsoft's REST APIs over plain HTTPS: client-credential tokens and requests that
ride out throttling.

Plain ``httpx`` rather than azure-identity and azure-monitor-query: both of those
are asyncio- or thread-bound while the daemon runs on trio, and one small client
gives every source the same handling of a configurable token authority and
endpoint, a private CA (``ca_file``), 401 (refresh the token once), 429 and 503
(wait ``Retry-After``) and other 5xx (exponential backoff).
"""

from __future__ import annotations

import logging
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
import trio

from wazuhd.collect import CollectError, Run, Source
from wazuhd_azure.common import (Watermark, from_timestamp, iso, redact, slices,
                                 window_start)

log = logging.getLogger("wazuhd.azure")

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
#: A token is renewed this many seconds before it expires.
TOKEN_MARGIN = 60.0


@dataclass(frozen=True)
class AppCredentials:
    """An Entra ID application (client credentials) of one tenant."""

    tenant_id: str
    client_id: str
    client_secret: str
    authority: str = DEFAULT_AUTHORITY


@dataclass
class HttpSettings:
    ca_file: str | None = None
    timeout: float = 60.0
    max_retries: int = 5
    max_retry_wait: float = 60.0


def _error_text(response: httpx.Response) -> str:
    """What an Azure error body says (``error.code: error.message`` or the OAuth form)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return ": ".join(str(error[k]) for k in ("code", "message") if error.get(k))
    if isinstance(error, str):
        description = str(body.get("error_description", "")).strip().splitlines()
        return f"{error}: {description[0]}" if description else error
    return ""


class TokenProvider:
    """Client-credential tokens for one application and scope, kept until shortly
    before they expire (or until the API refuses one)."""

    def __init__(self, credentials: AppCredentials, scope: str):
        self.credentials = credentials
        self.scope = scope
        self.token: str | None = None
        self.expires = 0.0

    @property
    def url(self) -> str:
        return (f"{self.credentials.authority.rstrip('/')}/{self.credentials.tenant_id}"
                f"/oauth2/v2.0/token")

    def forget(self) -> None:
        self.token = None

    async def get(self, http: httpx.AsyncClient) -> str:
        if self.token and time.time() < self.expires - TOKEN_MARGIN:
            return self.token
        form = {"grant_type": "client_credentials", "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret, "scope": self.scope}
        where = f"token for tenant {self.credentials.tenant_id} from {self.credentials.authority}"
        try:
            response = await http.post(self.url, data=form)
        except httpx.HTTPError as exc:
            raise CollectError(redact(f"cannot get a {where}: {describe_http(exc)}",
                                      [self.credentials.client_secret])) from None
        if response.status_code != 200:
            raise CollectError(redact(f"cannot get a {where}: HTTP {response.status_code} "
                                      f"{_error_text(response)}".rstrip(),
                                      [self.credentials.client_secret]))
        try:
            body = response.json()
            self.token = body["access_token"]
            self.expires = time.time() + float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise CollectError(f"cannot get a {where}: the answer holds no access_token") from None
        return self.token


def describe_http(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class RestClient:
    """Authenticated JSON requests to one API origin (``async with`` opens the connection pool)."""

    def __init__(self, tokens: TokenProvider, settings: HttpSettings, origin: str):
        self.tokens = tokens
        self.settings = settings
        self.origin = _origin(origin)
        self.http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> "RestClient":
        verify: ssl.SSLContext | bool = True
        if self.settings.ca_file:
            verify = ssl.create_default_context(cafile=self.settings.ca_file)
        self.http = httpx.AsyncClient(verify=verify, timeout=self.settings.timeout)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.http.aclose()

    async def request(self, run: Run, method: str, url: str, *, what: str,
                      params: dict | None = None, json: dict | None = None) -> dict:
        """The JSON answer; throttling, server errors and a refused token are retried,
        anything else raises CollectError naming ``what``."""
        if _origin(url) != self.origin:
            raise CollectError(f"{what}: refusing to send the token to {_origin(url)} "
                               f"(the configured endpoint is {self.origin})")
        refreshed = False
        failures = 0
        while True:
            token = await self.tokens.get(self.http)
            problem, wait = None, None
            try:
                response = await self.http.request(
                    method, url, params=params, json=json,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
            except httpx.HTTPError as exc:
                problem = describe_http(exc)
            else:
                status = response.status_code
                if status == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise CollectError(f"{what}: the answer is not JSON") from None
                if status == 401 and not refreshed:
                    self.tokens.forget()
                    refreshed = True
                    run.count("token_refreshes")
                    continue
                if status != 429 and status < 500:
                    raise CollectError(redact(f"{what}: HTTP {status} {_error_text(response)}",
                                              [self.tokens.credentials.client_secret]).rstrip())
                problem = f"HTTP {status} {_error_text(response)}".rstrip()
                wait = retry_after(response)
                run.count("throttled" if status == 429 else "server_errors")
            failures += 1
            if failures > self.settings.max_retries:
                raise CollectError(f"{what}: giving up after {failures} attempts: {problem}")
            wait = min(self.settings.max_retry_wait,
                       wait if wait is not None else 2 ** (failures - 1))
            log.info("%s: %s; retrying in %.1f s", what, problem, wait)
            await trio.sleep(wait)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class WindowedApiSource(Source):
    """A REST source read by time windows (Log Analytics, Graph): from its watermark
    (or the configured start) up to now minus ``ingestion_delay``, ``max_window``
    seconds at a time. Subclasses set ``settings`` and ``tokens`` and implement
    :meth:`_read_window`."""

    settings: object
    tokens: TokenProvider

    async def collect(self, run: Run) -> None:
        settings = self.settings
        mark = Watermark.from_checkpoint(await run.checkpoint())
        now = time.time()
        start = window_start(settings.only_logs_after, settings.time_offset, now)
        lower = max(mark.time, iso(start) if start else "")
        upper = iso(from_timestamp(now - settings.ingestion_delay))
        if not mark.time and start is None and getattr(settings, "only_future_events", False):
            # First run, no start asked for: history is skipped, as Wazuh's ms-graph does.
            await run.commit("", Watermark(upper).as_checkpoint())
            return
        async with RestClient(self.tokens, settings.http, settings.endpoint) as client:
            for first, last in slices(lower, upper, settings.max_window):
                await self._read_window(run, client, mark, first, last)

    async def _read_window(self, run: Run, client: "RestClient", mark: Watermark,
                           lower: str, upper: str) -> None:
        raise NotImplementedError
