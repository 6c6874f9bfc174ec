"""Shared test parts of the azure plugin: a real Azurite process, a local HTTPS server
speaking the token, Log Analytics and Graph APIs, and running a source once."""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import trio

from wazuhd.collect import CollectError, FileCheckpoints, SourceStats, StdoutSink, run_once
from wazuhd.testing import free_port, wait_for

# -- Azurite -------------------------------------------------------------------------------

DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
           "KBHBeksoGMGw==")
REPO = Path(__file__).resolve().parents[3]


def azurite_binary() -> str | None:
    """Where ``make install`` puts Azurite (the venv), else PATH."""
    for root in (REPO / ".venv", Path(sys.prefix)):
        candidate = root / "azurite" / "node_modules" / ".bin" / "azurite-blob"
        if candidate.exists():
            return str(candidate)
    return shutil.which("azurite-blob")


class Azurite:
    def __init__(self, binary: str, location: Path):
        self.port = free_port()
        self.location = location
        self.proc = subprocess.Popen(
            [binary, "--silent", "--skipApiVersionCheck", "--disableTelemetry",
             "--location", str(location), "--blobHost", "127.0.0.1", "--blobPort", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def listening():
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        if not wait_for(listening, timeout=30):
            self.stop()
            raise RuntimeError(f"Azurite did not listen on {self.port}: {self.proc.stderr.read()}")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{DEV_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
                f"BlobEndpoint={self.endpoint};")

    def container(self, name: str):
        from azure.storage.blob import ContainerClient
        client = ContainerClient.from_connection_string(self.connection_string, name)
        if not client.exists():
            client.create_container()
        return client

    def upload(self, container: str, blobs: dict[str, bytes], threads: int = 10) -> None:
        """Upload many blobs at once (Azurite answers several requests in parallel)."""
        client = self.container(container)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda item: client.upload_blob(item[0], item[1], overwrite=True),
                          blobs.items()))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    binary = azurite_binary()
    if binary is None:
        pytest.skip("Azurite not installed (azurite-blob not in .venv/azurite nor on PATH; "
                    "`make install` installs it with npm)")
    server = Azurite(binary, tmp_path_factory.mktemp("azurite"))
    yield server
    server.stop()


def storage_entry(azurite: Azurite, container: str, **extra) -> dict:
    """A container of Azurite's dev account, read as Azure diagnostic logs (json_file)
    unless ``extra`` says otherwise."""
    return {"container": container, "account_name": DEV_ACCOUNT, "account_key": DEV_KEY,
            "endpoint": azurite.endpoint, "content_type": "json_file", **extra}


# -- running a source ---------------------------------------------------------------------


def run_source(source, state: Path) -> tuple[list[str], SourceStats, Exception | None]:
    """Run ``source`` once with checkpoints in ``state``: the lines it emitted, its
    counters, and the failure that ended the run (None when it finished)."""
    stream = io.StringIO()
    stats = SourceStats()
    failure = None

    async def main():
        await run_once(source, StdoutSink(stream), FileCheckpoints(state), stats)

    try:
        trio.run(main)
    except CollectError as exc:
        failure = exc
    return stream.getvalue().splitlines(), stats, failure


def wazuhd(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "wazuhd", *args],
                            env={**os.environ, **(env or {})}, text=True, **kwargs)


# -- a local HTTPS server speaking Microsoft's APIs ----------------------------------------


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


TENANT, CLIENT_ID, SECRET = "contoso.onmicrosoft.com", "app-1234", "s3cr3t-Value~xyz"
PAGE_SIZE = 50
_DATETIME = re.compile(r"TimeGenerated (>=|<) datetime\(([^)]+)\)")
_GRAPH_FILTER = re.compile(r"(\w+) (ge|lt) (\S+)")


def graph_time(moment: dt.datetime) -> str:
    """How Graph writes times: seven fraction digits."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def instant(text: str) -> dt.datetime:
    """A time as the services compare them (not as strings)."""
    return dt.datetime.fromisoformat(text)


class MicrosoftApis:
    """What the tests control: tables per workspace, Graph collections, tokens and faults."""

    def __init__(self):
        self.tables: dict[str, dict[str, list[dict]]] = {}   # workspace -> table -> rows
        self.collections: dict[str, list[dict]] = {}         # "v1.0/auditLogs/signIns" -> records
        self.time_fields: dict[str, str] = {}
        self.throttle: list[str] = []       # parts of request paths to answer 429 once each
        self.failures: dict[str, int] = {}  # part of a request path -> how many 500s first
        self.tokens: set[str] = set()
        self.issued = 0
        self.token_requests: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.queries: list[str] = []
        self.next_link_origin: str | None = None
        self.lock = threading.Lock()

    def revoke_tokens(self):
        with self.lock:
            self.tokens.clear()


def _handler(apis: MicrosoftApis, origin: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status: int, body: dict, headers: dict | None = None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def faulted(self) -> bool:
            """Answer a fault planned for this request (matched as a part of its path)."""
            with apis.lock:
                throttled = next((part for part in apis.throttle if part in self.path), None)
                failing = next((part for part, n in apis.failures.items()
                                if n and part in self.path), None)
                if throttled:
                    apis.throttle.remove(throttled)
                    self.answer(429, {"error": {"code": "TooManyRequests",
                                                "message": "Too many requests"}},
                                {"Retry-After": "1"})
                    return True
                if failing:
                    apis.failures[failing] -= 1
                    self.answer(500, {"error": {"code": "InternalServerError",
                                                "message": "Something broke"}})
                    return True
            return False

        def authorized(self) -> bool:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in apis.tokens:
                self.answer(401, {"error": {"code": "InvalidAuthenticationToken",
                                            "message": "Access token has expired or is not yet valid."}})
                return False
            return True

        def do_POST(self):
            path = urlsplit(self.path).path
            apis.requests.append(("POST", self.path))
            body = self.body()  # read before any answer, or the next request on the connection breaks
            if path == f"/{TENANT}/oauth2/v2.0/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                apis.token_requests.append(form)
                if (form.get("grant_type") != "client_credentials"
                        or form.get("client_id") != CLIENT_ID or form.get("client_secret") != SECRET):
                    return self.answer(401, {"error": "invalid_client", "error_description":
                                             "AADSTS7000215: Invalid client secret provided."})
                with apis.lock:
                    apis.issued += 1
                    token = f"token-{apis.issued}"
                    apis.tokens.add(token)
                return self.answer(200, {"token_type": "Bearer", "expires_in": 3599,
                                         "access_token": token})
            match = re.fullmatch(r"/v1/workspaces/([^/]+)/query", path)
            if not match:
                return self.answer(404, {"error": {"code": "PathNotFound", "message": path}})
            if self.faulted() or not self.authorized():
                return
            query = json.loads(body)["query"]
            apis.queries.append(query)
            table = query.split("|")[0].strip()
            rows = apis.tables.get(match[1], {}).get(table)
            if rows is None:
                return self.answer(400, {"error": {"code": "BadArgumentError",
                                                   "message": f"'{table}' is not a table"}})
            for operator, bound in _DATETIME.findall(query):
                rows = [r for r in rows if (instant(r["TimeGenerated"]) >= instant(bound)
                                            if operator == ">="
                                            else instant(r["TimeGenerated"]) < instant(bound))]
            rows = sorted(rows, key=lambda r: instant(r["TimeGenerated"]))
            columns = list(dict.fromkeys(key for row in rows for key in row)) or ["TimeGenerated"]
            self.answer(200, {"tables": [{"name": "PrimaryResult",
                                          "columns": [{"name": c, "type": "string"} for c in columns],
                                          "rows": [[r.get(c) for c in columns] for r in rows]}]})

        def do_GET(self):
            parts = urlsplit(self.path)
            path = parts.path.lstrip("/")
            apis.requests.append(("GET", self.path))
            if path not in apis.collections:
                return self.answer(404, {"error": {"code": "ResourceNotFound", "message": path}})
            if self.faulted() or not self.authorized():
                return
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            records = apis.collections[path]
            field = apis.time_fields[path]
            for name, operator, bound in _GRAPH_FILTER.findall(params.get("$filter", "")):
                assert name == field, f"filtered on {name}, expected {field}"
                records = [r for r in records if (instant(r[field]) >= instant(bound)
                                                  if operator == "ge"
                                                  else instant(r[field]) < instant(bound))]
            skip = int(params.get("$skiptoken", 0))
            body = {"@odata.context": f"{origin}/{path}/$metadata",
                    "value": records[skip:skip + PAGE_SIZE]}
            if skip + PAGE_SIZE < len(records):
                query = f"$skiptoken={skip + PAGE_SIZE}&$filter={params.get('$filter', '')}"
                body["@odata.nextLink"] = f"{apis.next_link_origin or origin}/{path}?{query}"
            self.answer(200, body)

    return Handler


@pytest.fixture(scope="module")
def microsoft(tmp_path_factory):
    """(apis, origin, ca_file): a thread-run HTTPS server on a free port."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = make_certificate(directory)
    apis = MicrosoftApis()
    port = free_port()
    origin = f"https://127.0.0.1:{port}"
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(apis, origin))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield apis, origin, str(cert)
    server.shutdown()
    server.server_close()


def app_entry(origin: str, ca_file: str, **extra) -> dict:
    return {"tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret": SECRET,
            "authority": origin, "endpoint": origin, "ca_file": ca_file, "ingestion_delay": 0,
            "max_retry_wait": 2, **extra}


def ago(**delta) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(**delta)


def unique(prefix: str) -> str:
    return f"{prefix}{time.monotonic_ns()}"
