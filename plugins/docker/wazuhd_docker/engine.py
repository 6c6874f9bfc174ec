"""One Docker engine: how to reach it, and what went wrong when it cannot be reached.

The docker SDK is blocking; everything here is called in a worker thread. Failures
become :class:`EngineError` with a message that names the engine and says what to do,
never a traceback (a missing socket, permission denied, an engine too old to speak
API 1.41, a TLS file that is not there).
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field
from datetime import datetime

import docker
import docker.errors
import docker.tls
import docker.utils

from wazuhd.collect import CollectError

#: The oldest Engine API spoken (Docker 20.10, what Debian ships).
MIN_API_VERSION = (1, 41)


class EngineError(CollectError):
    """The engine cannot be used right now; the message names it."""


@dataclass(frozen=True)
class TlsSettings:
    """TLS options as the docker SDK takes them (``docker.tls.TLSConfig``)."""

    enabled: bool = False
    verify: bool = True
    ca_cert: str = ""
    client_cert: str = ""
    client_key: str = ""

    def config(self) -> docker.tls.TLSConfig | None:
        if not self.enabled:
            return None
        client = (self.client_cert, self.client_key) if self.client_cert or self.client_key else None
        return docker.tls.TLSConfig(client_cert=client, ca_cert=self.ca_cert or None,
                                    verify=(self.ca_cert or True) if self.verify else False)


@dataclass(frozen=True)
class EngineSettings:
    """Where an engine is. ``url`` empty: ``DOCKER_HOST`` (and ``DOCKER_TLS_VERIFY``,
    ``DOCKER_CERT_PATH``) as the docker command reads them, else the local socket."""

    name: str = "default"
    url: str = ""
    api_version: str = "auto"
    timeout: float = 60.0
    tls: TlsSettings = field(default_factory=TlsSettings)

    @property
    def label(self) -> str:
        """How messages name the engine: its name, and its address when that differs."""
        where = self.url or "DOCKER_HOST or the local socket"
        return self.name if self.name == self.url else f"{self.name} ({where})"


def connect(settings: EngineSettings) -> docker.APIClient:
    """A client of the engine, its API version checked (blocking: call it in a thread)."""
    try:
        kwargs = docker.utils.kwargs_from_env() if not settings.url else {"base_url": settings.url}
        tls = settings.tls.config()
        if tls is not None:
            kwargs["tls"] = tls
        client = docker.APIClient(version=settings.api_version, timeout=settings.timeout, **kwargs)
        version = client.version(api_version=False)
    except docker.errors.DockerException as exc:
        raise EngineError(f"docker engine {settings.label}: {explain(exc)}") from exc
    except Exception as exc:  # noqa: BLE001 - requests/urllib3 errors raised outside the SDK
        raise EngineError(f"docker engine {settings.label}: {explain(exc)}") from exc
    spoken = version.get("ApiVersion", "")
    if api_tuple(spoken) < MIN_API_VERSION:
        client.close()
        raise EngineError(
            f"docker engine {settings.label} speaks Engine API {spoken or 'unknown'} "
            f"(Docker {version.get('Version', '?')}); wazuhd needs API "
            f"{'.'.join(map(str, MIN_API_VERSION))} or newer (Docker 20.10+)")
    if settings.api_version not in ("auto", "") and api_tuple(client.api_version) < MIN_API_VERSION:
        client.close()
        raise EngineError(f"docker engine {settings.label}: api_version {client.api_version} is "
                          f"older than {'.'.join(map(str, MIN_API_VERSION))}; use auto")
    return client


def api_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        return (0,)


def explain(exc: BaseException) -> str:
    """What a connection failure means, in words a user can act on."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        for arg in getattr(cause, "args", ()):
            if isinstance(arg, BaseException) and id(arg) not in seen:
                nested = explain_os_error(arg)
                if nested:
                    return nested
        found = explain_os_error(cause)
        if found:
            return found
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, docker.errors.TLSParameterError):
        return f"TLS settings: {exc}"
    text = str(exc).strip() or type(exc).__name__
    return re.sub(r"^Error while fetching server API version: ", "", text)


def explain_os_error(exc: BaseException) -> str | None:
    if isinstance(exc, PermissionError) or getattr(exc, "errno", None) == errno.EACCES:
        return ("permission denied on the engine's socket: run wazuhd as a user of the "
                "socket's group (usually 'docker') or point it at another engine")
    if isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) == errno.ENOENT:
        return "no engine socket there (is dockerd running?)"
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        return "connection refused (is dockerd running and listening there?)"
    if isinstance(exc, ConnectionResetError):
        return "the engine closed the connection"
    if isinstance(exc, OSError) and exc.args and isinstance(exc.args[0], int):
        return f"{exc.strerror or exc}"
    return None


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def engine_time_nano(system_time: str) -> int:
    """The engine's clock (``/info`` SystemTime, RFC 3339 with nanoseconds) in ns since the epoch."""
    match = _RFC3339.match(system_time.strip())
    if not match:
        raise EngineError(f"the engine reported an unreadable SystemTime {system_time!r}")
    base, fraction, zone = match.groups()
    seconds = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone)).timestamp()
    return int(seconds) * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))
