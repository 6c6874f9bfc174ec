"""Load Wazuh's ruleset and its regression suite as Wazuh's own runner does.

Used by the tests and the benchmark: the full ruleset plus
``testing/ruleset/*.xml``, with rule 60000 of ``0575-win-base_rules.xml``
edited in a temporary copy (``<decoded_as>json</decoded_as>`` instead of its
``<decoded_as>``/``<category>``) so JSON Windows events reach the Windows rules.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile

from .engine import Ruleset

__all__ = ["find_wazuh_ruleset", "load_suite_ruleset", "suite_ini_files", "patch_rule_60000"]


def find_wazuh_ruleset(repo_root: str) -> str | None:
    """``<repo>/../shared/wazuh-ruleset`` when it exists."""
    p = os.path.normpath(os.path.join(repo_root, "..", "shared", "wazuh-ruleset"))
    return p if os.path.isdir(os.path.join(p, "rules")) else None


def patch_rule_60000(text: str) -> str:
    m = re.search(r'<rule\s+id="60000".*?</rule>', text, re.S)
    if m is None:
        return text
    block = m.group(0)
    new = re.sub(r"\s*<decoded_as>.*?</decoded_as>", "", block)
    new = re.sub(r"<category>.*?</category>", "<decoded_as>json</decoded_as>", new)
    if "<decoded_as>json</decoded_as>" not in new:
        new = new.replace("</rule>", "  <decoded_as>json</decoded_as>\n  </rule>")
    return text.replace(block, new)


def load_suite_ruleset(ruleset_dir: str, workdir: str | None = None) -> Ruleset:
    """Load decoders, rules (with rule 60000 patched in a temporary copy),
    lists and the suite's extra test decoders/rules."""
    tmp = workdir or tempfile.mkdtemp(prefix="wazuhd-suite-")
    rules_dir = os.path.join(tmp, "rules")
    if os.path.isdir(rules_dir):
        shutil.rmtree(rules_dir)
    shutil.copytree(os.path.join(ruleset_dir, "rules"), rules_dir)
    win = os.path.join(rules_dir, "0575-win-base_rules.xml")
    if os.path.exists(win):
        with open(win, encoding="utf-8") as fh:
            text = fh.read()
        with open(win, "w", encoding="utf-8") as fh:
            fh.write(patch_rule_60000(text))
    lists = sorted(
        p for p in glob.glob(os.path.join(ruleset_dir, "lists", "**", "*"), recursive=True)
        if os.path.isfile(p) and not p.endswith(".cdb")
    )
    testing = os.path.join(ruleset_dir, "testing", "ruleset")
    try:
        return Ruleset.load(
            decoder_dirs=[os.path.join(ruleset_dir, "decoders")],
            rule_dirs=[rules_dir],
            list_files=lists,
            decoder_files=sorted(glob.glob(os.path.join(testing, "*_decoders.xml"))),
            rule_files=sorted(glob.glob(os.path.join(testing, "*_rules.xml"))),
        )
    finally:
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)


def suite_ini_files(ruleset_dir: str) -> list[str]:
    """The suite's .ini files, without the GeoIP ones."""
    return [
        f for f in sorted(glob.glob(os.path.join(ruleset_dir, "testing", "tests", "*.ini")))
        if not f.endswith("geoip.ini")
    ]
