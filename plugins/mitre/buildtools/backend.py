"""PEP 517 backend of wazuhd-mitre: setuptools, plus the ATT&CK data fetched at build time.

The data package is PyPI's ``mitre-mcp-server`` 0.1.2, which ships MITRE's own
``enterprise-attack.json`` (ATT&CK v18.1, STIX 2.1, 50.7 MB). It cannot be a normal dependency:
it requires Python >= 3.12 (wazuhd runs on 3.11) and pulls in an MCP server, pydantic, stix2 and
mitreattack-python, none of which wazuhd uses. So, before building the (editable) wheel, this
backend asks pip - the ordinary client, the same registry - for that one wheel without its
dependencies, checks it against a pinned sha256, extracts only ``enterprise-attack.json`` into
``wazuhd_mitre/data/`` and prebuilds ``attack.db`` from it with the plugin's own importer (so a
daemon's first start copies tables instead of parsing 50 MB of JSON). Nothing is vendored in git.

``WAZUHD_MITRE_WHEEL=/path/to/mitre_mcp_server-0.1.2-py3-none-any.whl`` builds offline from a
local copy of the same wheel.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (get_requires_for_build_editable, get_requires_for_build_sdist,  # noqa: F401
                                   get_requires_for_build_wheel, prepare_metadata_for_build_editable,
                                   prepare_metadata_for_build_wheel)

PACKAGE, VERSION = "mitre-mcp-server", "0.1.2"
WHEEL = "mitre_mcp_server-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "861cd86398eccfb67c18eb40dcabdee032f20b9c04a22418b41701ef0350ebd6"
MEMBER = "mitre_mcp_server/data/v18.1/enterprise-attack.json"

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "wazuhd_mitre" / "data"
BUNDLE, PREBUILT, PROVENANCE = DATA / "enterprise-attack.json", DATA / "attack.db", DATA / "provenance.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _current() -> bool:
    try:
        provenance = json.loads(PROVENANCE.read_text())
    except (OSError, ValueError):
        return False
    return (provenance.get("wheel_sha256") == WHEEL_SHA256 and BUNDLE.exists() and PREBUILT.exists()
            and provenance.get("bundle_sha256") == _sha256(BUNDLE))


def _fetch_wheel(directory: Path) -> Path:
    local = os.environ.get("WAZUHD_MITRE_WHEEL")
    if local:
        return Path(local)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--ignore-requires-python",
               "--only-binary=:all:", "--disable-pip-version-check", "-q", "-d", str(directory),
               f"{PACKAGE}=={VERSION}"]
    done = subprocess.run(command, capture_output=True, text=True)
    wheel = directory / WHEEL
    if done.returncode != 0 or not wheel.exists():
        raise RuntimeError(f"wazuhd-mitre: could not download {PACKAGE}=={VERSION} (the ATT&CK data) "
                           f"with pip:\n{done.stdout}{done.stderr}\nSet WAZUHD_MITRE_WHEEL to a local "
                           f"copy of {WHEEL} to build offline.")
    return wheel


def ensure_data() -> None:
    if _current():
        return
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _fetch_wheel(Path(tmp))
        digest = _sha256(wheel)
        if digest != WHEEL_SHA256:
            raise RuntimeError(f"wazuhd-mitre: {wheel} has sha256 {digest}, expected {WHEEL_SHA256}")
        partial = BUNDLE.with_suffix(".part")
        with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as src, open(partial, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        partial.replace(BUNDLE)
    sys.path.insert(0, str(ROOT / "wazuhd_mitre"))
    try:
        import importer  # the plugin's stdlib-only importer, loaded from the source tree
    finally:
        sys.path.pop(0)
    result = importer.build_database(BUNDLE, PREBUILT, origin="package",
                                     source=f"PyPI {PACKAGE} {VERSION} ({MEMBER})")
    PROVENANCE.write_text(json.dumps({
        "package": PACKAGE, "version": VERSION, "wheel": WHEEL, "wheel_sha256": WHEEL_SHA256,
        "member": MEMBER, "bundle_sha256": _sha256(BUNDLE),
        "attack_version": result["metadata"]["mitre_version"], "counts": result["counts"],
    }, indent=2) + "\n")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    ensure_data()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    ensure_data()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    return _setuptools.build_sdist(sdist_directory, config_settings)
