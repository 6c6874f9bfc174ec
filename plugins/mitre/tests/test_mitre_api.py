"""The /mitre API on a real daemon (HTTPS, JWT, RBAC), validated against Wazuh's own response
schemas (``../shared/wazuh-api/spec.yaml``), plus alert enrichment and a CLI import while the
daemon runs. One daemon for the module; its first start copies the packaged ATT&CK tables."""

from __future__ import annotations

import copy
import json
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jsonschema
import pytest
import referencing
import referencing.jsonschema
import yaml

from wazuhd.sockets import send_event
from wazuhd.testing import DaemonProcess, free_port
from wazuhd_mitre import sources

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
WAZUH_SPEC = SHARED / "wazuh-api" / "spec.yaml"
FAILED = "Nov 26 16:21:11 web01 sshd[311]: Failed password for root from 203.0.113.9 port 2222 ssh2"
PASSWORD = "Mitre!Passw0rd1"

pytestmark = pytest.mark.skipif(not sources.PREBUILT.exists(), reason="no packaged ATT&CK data (reinstall wazuhd-mitre)")


class MitreDaemon(DaemonProcess):
    """A daemon with its API on a free loopback port (HTTPS, its own self-signed certificate)."""

    def __init__(self, home: Path):
        self.port = free_port()
        super().__init__(home, config=f"api:\n  host: 127.0.0.1\n  port: {self.port}\n"
                                      "  access:\n    max_request_per_minute: 0\n"
                                      "mitre:\n  reload_interval: 0.3\n")

    def client(self, token: str | None = None) -> httpx.Client:
        verify = ssl.create_default_context(cafile=str(self.home / "etc" / "api" / "server.crt"))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"https://127.0.0.1:{self.port}", verify=verify, headers=headers,
                            timeout=30)

    def login(self, user: str = "wazuh", password: str = "wazuh") -> str:
        with self.client() as client:
            reply = client.post("/security/user/authenticate", auth=(user, password))
        assert reply.status_code == 200, reply.text
        return reply.json()["data"]["token"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    daemon = MitreDaemon(tmp_path_factory.mktemp("mitre-api") / "home").start()
    yield daemon
    daemon.terminate()


@pytest.fixture(scope="module")
def admin(daemon):
    return daemon.client(daemon.login())


def get(client, path, **params):
    return client.get(path, params=params)


# -- Wazuh's response schemas -------------------------------------------------------------


def openapi_to_jsonschema(node):
    """OpenAPI 3.0 schema objects -> JSON Schema: ``nullable`` admits null; examples dropped."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_to_jsonschema(v) for k, v in node.items() if k not in ("nullable", "example", "examples")}
    if node.get("nullable") is True and "$ref" not in node:
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "type" in out:
            out["type"] = [*(out["type"] if isinstance(out["type"], list) else [out["type"]]), "null"]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


class Wazuh:
    URI = "urn:wazuh-spec"

    def __init__(self, spec: dict):
        self.spec = spec
        resource = referencing.Resource.from_contents(openapi_to_jsonschema(spec),
                                                      default_specification=referencing.jsonschema.DRAFT4)
        self.registry = referencing.Registry().with_resource(self.URI, resource)

    def _at(self, parts):
        node = self.spec
        for part in parts:
            node = node[part]
        return node

    def response(self, path: str, status: int) -> list[str]:
        responses = self.spec["paths"][path]["get"]["responses"]
        assert str(status) in responses, f"Wazuh declares no {status} for GET {path}"
        parts, node = ["paths", path, "get", "responses", str(status)], responses[str(status)]
        while "$ref" in node:
            parts = [p.replace("~1", "/").replace("~0", "~") for p in node["$ref"][2:].split("/")]
            node = self._at(parts)
        return parts

    def validate(self, path: str, reply: httpx.Response) -> None:
        parts = self.response(path, reply.status_code)
        media = reply.headers["content-type"].split(";")[0].strip()
        media = "application/json" if media == "application/problem+json" else media
        assert media in self._at(parts)["content"], f"{path} {reply.status_code}: {media} not declared"
        pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in [*parts, "content", media, "schema"])
        validator = jsonschema.Draft4Validator({"$ref": f"{self.URI}#/{pointer}"}, registry=self.registry)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(reply.json())]
        assert not errors, f"GET {path} -> {reply.status_code} does not validate: {errors[:5]}"

    def example_item(self, path: str) -> dict:
        content = self._at(self.response(path, 200))["content"]["application/json"]
        return content["example"]["data"]["affected_items"][0]


@pytest.fixture(scope="module")
def wazuh():
    if not WAZUH_SPEC.exists():
        pytest.skip(f"Wazuh's spec is absent ({WAZUH_SPEC})")
    return Wazuh(yaml.safe_load(WAZUH_SPEC.read_text()))


ENDPOINTS = {
    "/mitre/metadata": {},
    "/mitre/techniques": {"technique_ids": "T1110,attack-pattern--09c4c11e-4fa1-4f8c-8dad-3cf8e69ad119"},
    "/mitre/tactics": {"tactic_ids": "TA0006"},
    "/mitre/groups": {"group_ids": "G0016"},
    "/mitre/software": {"software_ids": "S0002"},
    "/mitre/mitigations": {"mitigation_ids": "M1032"},
    "/mitre/references": {"reference_ids": "attack-pattern--a93494bb-4b80-4ea1-8695-3236a49916fd"},
}
#: Wazuh omits null fields; these are null for some objects of ATT&CK v18.
NULLABLE = {"mitre_detection", "revoked_by", "subtechnique_of", "description", "external_id"}


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_every_endpoint_validates_against_wazuhs_schema(admin, wazuh, path):
    full = get(admin, path)
    assert full.status_code == 200, full.text
    wazuh.validate(path, full)
    body = full.json()
    assert body["error"] == 0 and body["data"]["total_affected_items"] > 0
    if path != "/mitre/metadata":
        # Our items carry every field of Wazuh's example item (Wazuh omits nulls too).
        example = set(wazuh.example_item(path))
        for item in body["data"]["affected_items"][:50]:
            assert example - set(item) <= NULLABLE, (path, example - set(item))
        filtered = get(admin, path, **ENDPOINTS[path])
        assert filtered.status_code == 200
        wazuh.validate(path, filtered)
        assert filtered.json()["data"]["total_affected_items"] >= 1
    bad = get(admin, path, q="no_such_field=1") if path != "/mitre/metadata" else get(admin, path, pretty="perhaps")
    assert bad.status_code == 400, bad.text
    wazuh.validate(path, bad)


def test_without_a_token_401_and_without_the_role_403(daemon, admin, wazuh):
    with daemon.client() as anonymous:
        reply = anonymous.get("/mitre/techniques")
    assert reply.status_code == 401
    wazuh.validate("/mitre/techniques", reply)
    created = admin.post("/security/users", json={"username": "mitre_nobody", "password": PASSWORD})
    assert created.status_code == 200, created.text
    with daemon.client(daemon.login("mitre_nobody", PASSWORD)) as nobody:
        denied = nobody.get("/mitre/techniques")
    assert denied.status_code == 403 and denied.json()["error"] == 4000
    wazuh.validate("/mitre/techniques", denied)
    # The default readonly role (Wazuh's mitre_read policy) may read.
    roles = admin.get("/security/roles", params={"search": "readonly", "select": "name"}).json()
    readonly = next(r["id"] for r in roles["data"]["affected_items"] if r["name"] == "readonly")
    user_id = created.json()["data"]["affected_items"][0]["id"]
    assert admin.post(f"/security/users/{user_id}/roles", params={"role_ids": readonly}).status_code == 200
    time.sleep(1.1)  # a role change revokes tokens issued in the same second
    with daemon.client(daemon.login("mitre_nobody", PASSWORD)) as reader:
        allowed = reader.get("/mitre/groups", params={"group_ids": "G0016", "select": "name"})
    assert allowed.status_code == 200, allowed.text
    assert [g["name"] for g in allowed.json()["data"]["affected_items"]] == ["APT29"]


def test_known_objects_through_the_api(admin):
    [t1110] = get(admin, "/mitre/techniques", technique_ids="T1110").json()["data"]["affected_items"]
    tactics = get(admin, "/mitre/tactics", tactic_ids=",".join(t1110["tactics"]), select="name").json()
    assert [t["name"] for t in tactics["data"]["affected_items"]] == ["Credential Access"]
    subs = get(admin, "/mitre/techniques", q=f"subtechnique_of={t1110['id']}", select="external_id",
               sort="external_id").json()["data"]["affected_items"]
    assert [s["external_id"] for s in subs] == [f"T1110.00{i}" for i in range(1, 5)]
    mimikatz = get(admin, "/mitre/software", q="external_id=S0002").json()["data"]["affected_items"][0]
    apt29 = get(admin, "/mitre/groups", q="name=APT29").json()["data"]["affected_items"][0]
    assert mimikatz["name"] == "Mimikatz" and mimikatz["id"] in apt29["software"]
    paged = get(admin, "/mitre/techniques", limit=3, offset=3, sort="-external_id", select="external_id").json()
    assert len(paged["data"]["affected_items"]) == 3 and paged["data"]["total_affected_items"] > 800
    bad = get(admin, "/mitre/techniques", select="nope")
    assert bad.status_code == 400 and bad.json()["error"] == 1724


def alerts(home: Path) -> list[dict]:
    path = home / "logs" / "alerts" / "alerts.json"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := predicate()):
            return value
        time.sleep(0.05)
    return None


def mitre_counters(daemon) -> dict:
    return daemon.counters("mitre")


def test_alert_enrichment_in_the_daemon(daemon, admin):
    assert get(admin, "/mitre/metadata").status_code == 200  # the data is in
    for _ in range(8):
        send_event(daemon.socket("queue"), "1", "/var/log/auth.log", FAILED)
    [alert] = wait_for(lambda: [a for a in alerts(daemon.home) if a["rule"]["id"] == "190110"])
    # rule 190110 of the starter ruleset says <mitre><id>T1110</id></mitre>
    assert alert["rule"]["mitre"] == {"id": ["T1110"], "tactic": ["Credential Access"], "technique": ["Brute Force"]}
    assert mitre_counters(daemon)["techniques"] > 800


def test_cli_import_while_the_daemon_runs(daemon, admin, tmp_path):
    bundle = json.loads(sources.BUNDLE.read_bytes())
    keep = {"x-mitre-tactic", "x-mitre-collection"}
    objects = [copy.deepcopy(o) for o in bundle["objects"] if o["type"] in keep or any(
        r.get("external_id") == "T1110" for r in o.get("external_references", []))]
    for obj in objects:
        if obj["type"] == "attack-pattern":
            obj["name"] = "Brute Force (site copy)"
    mine = tmp_path / "site-attack.json"
    mine.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects}))
    cli = [sys.executable, "-m", "wazuhd", "mitre", "import"]
    done = subprocess.run([*cli, str(mine), "--home", str(daemon.home)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "running daemon" in done.stdout
    meta = {i["key"]: i["value"] for i in get(admin, "/mitre/metadata").json()["data"]["affected_items"]}
    assert meta["origin"] == "cli" and meta["source"] == str(mine)
    assert get(admin, "/mitre/techniques", limit=1).json()["data"]["total_affected_items"] == 1
    # The enrichment table follows within reload_interval (rule 190110 ignores repeats for 60 s,
    # so the daemon's counter shows it rather than a second alert).
    assert wait_for(lambda: mitre_counters(daemon)["techniques"] == 1)
    # A truncated file is refused; the site's data stays.
    broken = tmp_path / "broken.json"
    broken.write_text(mine.read_text()[:500])
    refused = subprocess.run([*cli, str(broken), "--home", str(daemon.home)], capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 1 and "refused" in refused.stderr
    assert get(admin, "/mitre/techniques", limit=1).json()["data"]["total_affected_items"] == 1
    back = subprocess.run([*cli, "--default", "--home", str(daemon.home)], capture_output=True, text=True, timeout=60)
    assert back.returncode == 0, back.stderr
    assert get(admin, "/mitre/techniques", limit=1).json()["data"]["total_affected_items"] > 800
    assert wait_for(lambda: mitre_counters(daemon)["techniques"] > 800)
