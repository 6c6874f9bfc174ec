"""Helpers for testing wazuhd and its plugins against a real daemon process.

Plugin authors can use them too: ``DaemonProcess(home, env).start()`` runs
``python -m wazuhd start`` on a temporary home and waits until every service
has started; ``ApiDaemon`` does the same with the REST API on a free port and
gives verified HTTPS clients; ``WazuhSchemas`` checks a response against the
response schema Wazuh's own API spec declares for it (``../shared``).
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jsonschema
import referencing
import referencing.jsonschema

from wazuhd.sockets import SocketClient

WAZUH_URI = "urn:wazuh-spec"


def shared_dir() -> Path:
    """The read-only reference folder: ``$WAZUHD_SHARED``, else ``../shared`` beside the checkout."""
    return Path(os.environ.get("WAZUHD_SHARED")
                or Path(__file__).resolve().parents[1].parent / "shared")


def wazuh_spec_path() -> Path:
    return shared_dir() / "wazuh-api" / "spec.yaml"


def wait_for(predicate, timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a daemon's API in tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wazuhd_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "wazuhd", *args]


class DaemonProcess:
    """A ``wazuhd start`` subprocess on its own home."""

    def __init__(self, home: Path, env: dict | None = None, config: str | None = None):
        """``config``: text of ``etc/wazuhd.yaml``, written before the first start."""
        self.home = home
        self.config = config
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def socket(self, name: str) -> Path:
        return self.home / "queue" / "sockets" / name

    def cli(self, *args: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(wazuhd_command(*args, "--home", str(self.home)), env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=check)

    def start(self, *extra: str, timeout: float = 20) -> "DaemonProcess":
        """Start and wait until every service has started (status ``state`` is running)."""
        config_file = self.home / "etc" / "wazuhd.yaml"
        if self.config is not None and not config_file.exists():
            config_file.parent.mkdir(parents=True, exist_ok=True)
            config_file.write_text(self.config)
        # Output goes to files, not pipes: a pipe nobody reads would block a chatty daemon.
        self._out = tempfile.TemporaryFile("w+")
        self._err = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(wazuhd_command("start", "--home", str(self.home), *extra),
                                     env=self.env, stdout=self._out, stderr=self._err, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.output()
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{out}\n{err}")
            try:
                with SocketClient(self.socket("control"), timeout=2) as client:
                    if client.request("status")["state"] == "running":
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"daemon did not start in {timeout} s:\n{self.output()[1]}")

    def output(self) -> tuple[str, str]:
        """What the daemon printed so far: (stdout, stderr)."""
        texts = []
        for file in (self._out, self._err):
            file.seek(0)
            texts.append(file.read())
        return texts[0], texts[1]

    def request(self, socket: str, command: str, parameters: dict | None = None):
        with SocketClient(self.socket(socket), timeout=10) as client:
            return client.request(command, parameters)

    def counters(self, name: str) -> dict:
        """The counters one plugin shows in the running daemon's status."""
        return self.request("control", "status")["counters"][name]

    def terminate(self, timeout: float = 10) -> tuple[int, str, str, float]:
        """SIGTERM; returns (exit code, stdout, stderr, seconds taken)."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        seconds = time.monotonic() - began
        out, err = self.output()
        return self.proc.returncode, out, err, seconds

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class ApiDaemon(DaemonProcess):
    """A daemon with its API on 127.0.0.1:<free port>, HTTPS with its self-signed cert."""

    def __init__(self, home: Path, api: str = "", extra: str = "", env: dict | None = None):
        self.port = free_port()
        config = f"api:\n  host: 127.0.0.1\n  port: {self.port}\n{api}{extra}"
        super().__init__(home, env, config=config)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def certificate(self) -> Path:
        return self.home / "etc" / "api" / "server.crt"

    def client(self, token: str | None = None, **kwargs):
        """An httpx client that verifies the daemon's own certificate (HTTPS)."""
        import httpx  # a test dependency, not the host's

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        verify = ssl.create_default_context(cafile=str(self.certificate))
        return httpx.Client(base_url=self.url, verify=verify, headers=headers,
                            **{"timeout": 30, **kwargs})

    def login(self, user: str = "wazuh", password: str = "wazuh") -> str:
        with self.client() as client:
            reply = client.post("/security/user/authenticate", auth=(user, password))
        assert reply.status_code == 200, reply.text
        return reply.json()["data"]["token"]


def assert_problem(reply, status: int, code: int | None = None) -> dict:
    """The reply is a Wazuh-style problem (title, detail[, error]) with this status and code."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert {"title", "detail"} <= set(body)
    if code is not None:
        assert body["error"] == code, body
    return body


# -- Wazuh's response schemas ---------------------------------------------------------


def openapi_to_jsonschema(node):
    """OpenAPI 3.0 schema objects -> Draft 4 JSON Schema, recursively over the document.

    ``nullable: true`` admits ``null`` (as a type, or as an alternative when the
    schema has no ``type``, and in an ``enum``). OpenAPI-only keywords (``example``,
    ``discriminator``, ``x-*``...) are unknown to JSON Schema and ignored by it.
    """
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: openapi_to_jsonschema(value) for key, value in node.items()
           if key not in ("nullable", "example", "examples")}
    if node.get("nullable") is True and "$ref" not in node:
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "type" in out:
            kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*kinds, "null"]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


def pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class WazuhSchemas:
    """Wazuh's response schemas by (path, method, status, media type)."""

    @classmethod
    def load(cls) -> "WazuhSchemas | None":
        """Wazuh's spec from ``../shared``, or None when it is absent (tests then skip)."""
        import yaml

        path = wazuh_spec_path()
        return cls(yaml.safe_load(path.read_text())) if path.exists() else None

    def errors(self, path: str, method: str, status: int, body, media: str = "application/json"
               ) -> list[str] | None:
        """Why ``body`` does not fit Wazuh's schema ([] when it does), or None when Wazuh's
        spec declares no schema for that status and media type."""
        parts = self.response_pointer(path, method, status)
        validator = self.validator(parts, media) if parts else None
        if validator is None:
            return None
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in validator.iter_errors(body)]

    def __init__(self, spec: dict):
        self.spec = spec
        self.document = openapi_to_jsonschema(spec)
        resource = referencing.Resource.from_contents(
            self.document, default_specification=referencing.jsonschema.DRAFT4)
        self.registry = referencing.Registry().with_resource(WAZUH_URI, resource)

    def has(self, path: str, method: str) -> bool:
        return method in (self.spec["paths"].get(path) or {})

    def response_pointer(self, path: str, method: str, status: int) -> list[str] | None:
        """JSON-pointer parts of Wazuh's response object (a $ref'd response followed)."""
        responses = self.spec["paths"][path][method]["responses"]
        key = str(status) if str(status) in responses else (
            "default" if "default" in responses else None)
        if key is None:
            return None
        parts = ["paths", path, method, "responses", key]
        node = responses[key]
        while "$ref" in node:
            parts = [p.replace("~1", "/").replace("~0", "~") for p in node["$ref"][2:].split("/")]
            node = self._at(parts)
        return parts

    def _at(self, parts: list[str]):
        node = self.spec
        for part in parts:
            node = node[part]
        return node

    def validator(self, parts: list[str], media: str):
        response = self._at(parts)
        content = response.get("content") or {}
        if media not in content or "schema" not in content[media]:
            return None
        ref = WAZUH_URI + pointer(*parts, "content", media, "schema")
        return jsonschema.Draft4Validator({"$ref": ref}, registry=self.registry)
