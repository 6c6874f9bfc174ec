"""Wazuh's own ruleset regression suite against the engine.

Loads ../shared/wazuh-ruleset (relative to the repository root) with its
testing/ruleset extras, runs every case of testing/tests/*.ini (the GeoIP ones
aside) as TESTING.md describes, prints per-file results and asserts a pass
rate of at least 98%.
"""

import io
import os
from pathlib import Path

import pytest

from wazuhd.testing import shared_dir
from wazuhd_analysis.inirunner import parse_ini, run_files
from wazuhd_analysis.suite import load_suite_ruleset, suite_ini_files

RULESET = str(shared_dir() / "wazuh-ruleset") if (shared_dir() / "wazuh-ruleset" / "rules").is_dir() else None
pytestmark = pytest.mark.skipif(
    RULESET is None, reason=f"Wazuh ruleset not found at {shared_dir() / 'wazuh-ruleset'}"
)


@pytest.fixture(scope="module")
def suite_ruleset(tmp_path_factory):
    return load_suite_ruleset(RULESET, str(tmp_path_factory.mktemp("suite")))


def test_rule_60000_edit_is_in_a_copy_only(suite_ruleset):
    original = Path(RULESET, "rules", "0575-win-base_rules.xml").read_text()
    assert "<decoded_as>windows_eventchannel</decoded_as>" in original
    assert suite_ruleset.rules.rules[60000].decoded_as == "json"


def test_wazuh_ini_suite(suite_ruleset, capsys):
    files = suite_ini_files(RULESET)
    assert files, "no .ini files found"
    out = io.StringIO()
    code, results = run_files(suite_ruleset, files, out)
    report = out.getvalue()
    with capsys.disabled():
        print("\n" + report)
    total = len(results)
    passed = sum(r.ok for r in results)
    expected_total = sum(len(parse_ini(f)) for f in files)
    assert total == expected_total
    assert total > 0
    rate = passed / total
    assert rate >= 0.98, f"pass rate {rate:.2%} ({passed}/{total})\n{report}"
    assert code == (0 if passed == total else 1)


def test_multiline_case_goes_through_one_session(suite_ruleset, tmp_path):
    """A repeated key is one case whose lines share correlation state: the
    frequency rule fires only on the last of three identical lines."""
    ini = tmp_path / "t.ini"
    line = ("Dec 25 20:45:02 MyHost test_same_fields[12345]: User 'admin' logged "
            "from '192.168.1.100' 5 this is the same_fields test")
    ini.write_text(
        "[three lines]\n" + "".join(f"log 1 pass = {line}\n" for _ in range(3))
        + "rule = 999206\nalert = 7\ndecoder = test_same\n"
        "[one line]\n" f"log 1 pass = {line}\n" "rule = 999206\nalert = 7\ndecoder = test_same\n"
    )
    cases = parse_ini(str(ini))
    assert [len(c.lines) for c in cases] == [3, 1]
    out = io.StringIO()
    code, results = run_files(suite_ruleset, [str(ini)], out)
    assert [r.ok for r in results] == [True, False]
    assert results[1].kind == "another rule"
    assert code == 1
    assert "t.ini: 1 passed, 1 failed" in out.getvalue()


def test_eventchannel_events_reach_windows_rules_unpatched(suite_ruleset):
    """With the ruleset as shipped (rule 60000 decoded_as windows_eventchannel),
    events given in the eventchannel log format take the same rule path as the
    JSON form does through the suite's patched rule 60000."""
    import glob

    from wazuhd_analysis.engine import Engine, Ruleset

    shipped = Ruleset.load(
        decoder_dirs=[os.path.join(RULESET, "decoders")],
        rule_dirs=[os.path.join(RULESET, "rules")],
        list_files=[p for p in glob.glob(os.path.join(RULESET, "lists", "**", "*"), recursive=True)
                    if os.path.isfile(p)],
    )
    cases = [c for f in suite_ini_files(RULESET) for c in parse_ini(f)
             if len(c.lines) == 1 and c.expect_pass and c.lines[0].startswith('{"win"')
             and c.rule][:10]
    if not cases:
        pytest.skip("no Windows JSON cases in this copy of the suite")
    for c in cases:
        a = Engine(shipped).process(c.lines[0], log_format="eventchannel")
        b = Engine(suite_ruleset).process(c.lines[0])
        assert a.decoder_name == "windows_eventchannel"
        assert a.rule is not None and a.rule.id == b.rule.id == c.rule


def test_accumulate_joins_fields_of_one_ldap_connection(suite_ruleset):
    from wazuhd_analysis.engine import Engine

    eng = Engine(suite_ruleset)
    h = "Oct  2 19:51:22 example slapd[30864]: conn=1068 "
    assert eng.process(h + "fd=19 ACCEPT from IP=192.168.0.2:59800 (IP=0.0.0.0:636)").rule.id == "2508"
    bind = eng.process(h + 'op=0 BIND dn="uid=bob,ou=People,dc=example,dc=com" method=128')
    assert bind.event.fields["srcip"] == "192.168.0.2" and bind.event.fields["dstuser"] == "bob"
    res = eng.process(h + "op=0 RESULT tag=97 err=49 text=")
    assert res.rule.id == "2509"
    assert res.alert["data"]["srcip"] == "192.168.0.2" and res.alert["data"]["dstuser"] == "bob"
    other = eng.process("Oct  2 19:51:22 example slapd[30864]: conn=7 op=0 RESULT tag=97 err=49 text=")
    assert "srcip" not in other.event.fields


def test_rule_trace_agrees_with_the_fast_path(suite_ruleset):
    """Rule debugging (logtest -v) walks the tree without shortcuts; it must
    reach the same verdict as the dispatching fast path."""
    from wazuhd_analysis.engine import Engine, format_rule_trace

    lines = [c.lines[0] for f in suite_ini_files(RULESET) for c in parse_ini(f) if len(c.lines) == 1]
    assert lines
    for line in lines[::7]:
        trace = []
        traced = Engine(suite_ruleset).process(line, trace=trace)
        fast = Engine(suite_ruleset).process(line)
        assert (traced.rule.id if traced.rule else None) == (fast.rule.id if fast.rule else None), line
        if traced.rule is not None:
            assert trace[-1][1] == "matched" or any(t[1] == "matched" and t[2] is traced.rule for t in trace)
    text = format_rule_trace(trace)
    assert text.startswith("**Rule debugging:") and "Trying rule: " in text


def test_time_rules_look_at_the_time_of_analysis(suite_ruleset):
    """Wazuh's <time> rules judge when the event is analysed: the suite pins business
    hours; the same su login analysed at 22:00 is a login outside them (rule 17101)."""
    import time
    from wazuhd_analysis.engine import Engine
    from wazuhd_analysis.inirunner import SUITE_CLOCK
    line = "Apr 22 17:51:51 enigma su: dcid to root on /dev/ttyp1"
    night = time.mktime((2024, 1, 10, 22, 0, 0, 0, 0, -1))
    assert Engine(suite_ruleset).process(line, now=SUITE_CLOCK).rule.id == "5305"
    assert Engine(suite_ruleset).process(line, now=night).rule.id == "17101"
