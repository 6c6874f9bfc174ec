"""The importer and the query layer against the real ATT&CK bundle (no daemon).

One import per module (a few seconds); the bundle is the packaged enterprise-attack.json.
"""

from __future__ import annotations

import collections
import json
import logging
import sqlite3
import subprocess
import sys

import pytest

from wazuhd.errors import WazuhError
from wazuhd.query import Query
from wazuhd_mitre import core, importer, sources

pytestmark = pytest.mark.skipif(not sources.BUNDLE.exists(), reason=f"no packaged ATT&CK bundle at {sources.BUNDLE} "
                                                                 "(reinstall wazuhd-mitre)")

CREDENTIAL_ACCESS = "Credential Access"


@pytest.fixture(scope="module")
def bundle():
    return json.loads(sources.BUNDLE.read_bytes())


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("mitre") / "mitre.db"
    result = sources.import_file(path, sources.BUNDLE)
    assert result["imported"] is True
    return path


@pytest.fixture
def conn(db_path):
    conn = sqlite3.connect(db_path)
    yield conn
    conn.close()


def page(conn, kind: str, ids=None, **params):
    return core.list_items(conn, core.KINDS[kind], Query.from_params(**params), ids)


def test_counts_by_type_equal_the_bundles_own(conn, bundle):
    types = collections.Counter(o["type"] for o in bundle["objects"])
    expected = {"techniques": types["attack-pattern"], "tactics": types["x-mitre-tactic"],
                "groups": types["intrusion-set"], "software": types["malware"] + types["tool"],
                "mitigations": types["course-of-action"]}
    for kind, count in expected.items():
        assert page(conn, kind, limit=1).total == count, kind
    relationships = collections.Counter(o.get("relationship_type") for o in bundle["objects"]
                                        if o["type"] == "relationship")
    counts = importer.counts(conn)
    assert counts["mitigate"] == relationships["mitigates"]
    assert counts["use"] == relationships["uses"]
    subtechniques = sum(1 for o in bundle["objects"] if o.get("x_mitre_is_subtechnique"))
    assert page(conn, "techniques", q="subtechnique_of!=null", limit=1).total == relationships["subtechnique-of"]
    assert subtechniques >= relationships["subtechnique-of"]  # a revoked sub-technique has no parent link
    with_url = sum(1 for o in bundle["objects"] if o["type"] in importer.TYPES and o["type"] != "campaign"
                   for r in o.get("external_references", []) if r.get("url"))
    assert page(conn, "references", limit=1).total == with_url


def test_metadata_names_version_and_source(conn, bundle):
    meta = {row["key"]: row["value"] for row in core.metadata_items(conn)}
    collection = next(o for o in bundle["objects"] if o["type"] == "x-mitre-collection")
    assert meta["mitre_version"] == collection["x_mitre_version"]
    assert meta["domain"] == "enterprise-attack" and meta["origin"] == "cli"
    assert meta["source_sha256"] == importer.file_sha256(sources.BUNDLE)


def test_revoked_and_deprecated_markers(conn, bundle):
    revoked = {r["source_ref"] for r in bundle["objects"] if r.get("relationship_type") == "revoked-by"}
    deprecated = {o["id"] for o in bundle["objects"] if o.get("x_mitre_deprecated")
                  and o["type"] == "attack-pattern"}
    techniques = page(conn, "techniques", limit=None, select="revoked_by,deprecated").items
    assert {t["id"] for t in techniques if t.get("revoked_by")} == {i for i in revoked if i.startswith("attack-pattern")}
    assert {t["id"] for t in techniques if t["deprecated"]} == deprecated


def test_t1110_brute_force(conn):
    [t1110] = page(conn, "techniques", ["T1110"]).items
    assert t1110["name"] == "Brute Force" and t1110["external_id"] == "T1110"
    assert t1110["url"] == "https://attack.mitre.org/techniques/T1110" and t1110["source"] == "mitre-attack"
    assert t1110["created_time"].endswith("Z") and "." in t1110["created_time"]
    tactics = page(conn, "tactics", t1110["tactics"]).items
    assert [t["name"] for t in tactics] == [CREDENTIAL_ACCESS]
    assert tactics[0]["external_id"] == "TA0006" and t1110["id"] in tactics[0]["techniques"]
    assert t1110["mitigations"] and t1110["groups"] and t1110["software"]
    assert all(ref["url"] and "source" in ref for ref in t1110["references"])
    subs = page(conn, "techniques", q=f"subtechnique_of={t1110['id']}", sort="external_id",
                select="external_id,name").items
    assert [s["external_id"] for s in subs] == ["T1110.001", "T1110.002", "T1110.003", "T1110.004"]
    assert [s["name"] for s in subs] == ["Password Guessing", "Password Cracking", "Password Spraying",
                                         "Credential Stuffing"]


def test_g0016_apt29_and_s0002_mimikatz(conn):
    [apt29] = page(conn, "groups", ["G0016"]).items
    assert apt29["name"] == "APT29" and apt29["id"].startswith("intrusion-set--")
    [mimikatz] = page(conn, "software", ["S0002"]).items
    assert mimikatz["name"] == "Mimikatz" and mimikatz["id"].startswith("tool--")
    assert mimikatz["id"] in apt29["software"] and apt29["id"] in mimikatz["groups"]
    assert set(apt29["techniques"]) & set(mimikatz["techniques"])
    # The same objects by STIX id, and the reverse relations agree.
    assert page(conn, "groups", [apt29["id"]]).items == [apt29]
    mitigation = page(conn, "mitigations", ["M1032"]).items[0]
    [mfa_t1110] = page(conn, "techniques", ["T1110"], select="mitigations").items
    assert mitigation["id"] in mfa_t1110["mitigations"]


def test_query_parameters(conn):
    assert page(conn, "techniques", search="brute force", limit=1).total >= 1
    names = [t["name"] for t in page(conn, "tactics", sort="-name", select="name").items]
    assert names == sorted(names, key=str.lower, reverse=True)
    first, second = (page(conn, "techniques", offset=o, limit=5, select="external_id").items for o in (0, 5))
    assert len(first) == len(second) == 5 and not {t["id"] for t in first} & {t["id"] for t in second}
    distinct = page(conn, "software", select="deprecated", distinct=True).items
    assert sorted(d["deprecated"] for d in distinct) == [0, 1]
    assert page(conn, "techniques", q="created_time<2018-01-01;deprecated=0", limit=1).total > 0
    with pytest.raises(WazuhError) as error:
        page(conn, "techniques", q="nope=1")
    assert error.value.code == 1408
    with pytest.raises(WazuhError) as error:
        page(conn, "techniques", select="nope")
    assert error.value.code == 1724


def test_sql_and_memory_paths_agree(conn):
    """A condition on a related list forces the in-memory path; an always-true one must not
    change the rows the SQL path returns (search, sort, offset, limit, select)."""
    always = "(tactics!=null,tactics=null)"
    for kind, params in [("techniques", {"search": "password", "sort": "-name", "offset": 2, "limit": 7}),
                         ("techniques", {"q": "external_id~T1110", "select": "name,external_id"}),
                         ("groups", {"search": "russia", "sort": "external_id", "select": "name"}),
                         ("software", {"q": "name~cat", "sort": "-created_time", "limit": 5})]:
        sql = page(conn, kind, **params)
        relation = core.KINDS[kind].relations[0].name
        q = params.get("q")
        extra = always.replace("tactics", relation)
        memory = page(conn, kind, **{**params, "q": f"{q};{extra}" if q else extra})
        assert (memory.total, memory.items) == (sql.total, sql.items), (kind, params)


def test_a_related_list_can_be_filtered(conn):
    [tactic] = page(conn, "tactics", ["TA0006"], select="techniques").items
    found = page(conn, "techniques", q=f"tactics={tactic['id']}", limit=None, select="external_id")
    assert found.total == len(tactic["techniques"])


def test_enrichment_of_an_alert(conn, caplog):
    enricher = core.Enricher(core.technique_map(conn))
    alert = {"rule": {"id": "190110", "mitre": {"id": ["T1110", "T1110.001", "T9999"]}}}
    with caplog.at_level(logging.WARNING, logger="wazuhd.mitre"):
        enricher.enrich(alert)
        enricher.enrich({"rule": {"mitre": {"id": ["T9999"]}}})
    assert alert["rule"]["mitre"] == {"id": ["T1110", "T1110.001", "T9999"],
                                      "tactic": [CREDENTIAL_ACCESS],
                                      "technique": ["Brute Force", "Password Guessing"]}
    warnings = [r.getMessage() for r in caplog.records if "T9999" in r.getMessage()]
    assert warnings == ["Mitre Technique ID 'T9999' not found in database."]  # logged once
    untouched = {"rule": {"id": "1"}}
    enricher.enrich(untouched)
    assert untouched == {"rule": {"id": "1"}}


def test_a_truncated_or_non_stix_file_is_refused_and_the_data_stays(db_path, tmp_path):
    before = importer.counts(sqlite3.connect(db_path))
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(sources.BUNDLE.read_bytes()[:3_000_000])
    not_stix = tmp_path / "other.json"
    not_stix.write_text(json.dumps({"type": "bundle", "objects": [{"type": "indicator", "id": "indicator--1"}]}))
    for path, words in [(truncated, "truncated"), (not_stix, "no ATT&CK")]:
        with pytest.raises(importer.BundleError, match=words):
            sources.import_file(db_path, path)
        assert importer.counts(sqlite3.connect(db_path)) == before
    # The CLI says so and exits 1.
    home = db_path.parent / "home"
    done = subprocess.run([sys.executable, "-m", "wazuhd", "mitre", "import", str(truncated), "--home", str(home)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "refused" in done.stderr and "truncated" in done.stderr


def test_same_file_is_not_imported_twice(db_path):
    again = sources.import_file(db_path, sources.BUNDLE)
    assert again["imported"] is False


def test_cli_show(db_path):
    home = db_path.parent / "clihome"
    (home / "queue" / "db").mkdir(parents=True)
    (home / "queue" / "db" / "mitre.db").write_bytes(db_path.read_bytes())
    done = subprocess.run([sys.executable, "-m", "wazuhd", "mitre", "show", "T1110", "--home", str(home)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("T1110 Brute Force\n")
    assert "TA0006 Credential Access" in out and "M1032 Multi-factor Authentication" in out
    assert "T1110.004 Credential Stuffing" in out and "G0007 APT28" in out
    missing = subprocess.run([sys.executable, "-m", "wazuhd", "mitre", "show", "T0000", "--home", str(home)],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "T0000" in missing.stderr


@pytest.mark.skipif(not sources.PREBUILT.exists(), reason="no prebuilt ATT&CK database")
def test_daemon_start_copies_once_and_respects_a_cli_import(tmp_path, db_path):
    path = tmp_path / "mitre.db"
    first = sources.ensure_current(path)
    assert first["imported"] is True and first["metadata"]["origin"] == "package"
    assert first["counts"] == sources.provenance()["counts"]
    assert sources.ensure_current(path)["imported"] is False  # same packaged hash: nothing to do
    small = tmp_path / "small.json"
    bundle = json.loads(sources.BUNDLE.read_bytes())
    small.write_text(json.dumps({"type": "bundle", "objects": [o for o in bundle["objects"]
                                                               if o["type"] in ("x-mitre-tactic", "attack-pattern")][:100]}))
    assert sources.import_file(path, small)["imported"] is True
    pinned = sources.ensure_current(path)
    assert pinned["imported"] is False and "pinned" in pinned["reason"]
    assert sources.import_default(path)["metadata"]["origin"] == "package"


def test_related_lists_from_the_per_import_index_equal_the_sql_ones(conn):
    cache = core.ItemCache()
    for kind in ("techniques", "groups", "software", "mitigations", "tactics"):
        query = Query.from_params(limit=None)
        assert core.list_items(conn, core.KINDS[kind], query, cache=cache).items == \
            core.list_items(conn, core.KINDS[kind], query).items, kind
