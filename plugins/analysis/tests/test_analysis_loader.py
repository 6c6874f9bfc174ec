"""Ruleset loading: lenient XML, errors with file/line/id, options."""

import pytest

from wazuhd_analysis.engine import Engine, Ruleset
from wazuhd_analysis.errors import RulesetError
from wazuhd_analysis.xmlparse import XMLSyntaxError, parse_xml

TEMPLATES = """
<group name="syslog,">
  <rule id="1" level="0" noalert="1"><category>syslog</category><description>t</description></rule>
</group>
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def load(tmp_path, decoders, rules, lists=None):
    d = tmp_path / "decoders"
    r = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    r.mkdir(exist_ok=True)
    (d / "0100-test_decoders.xml").write_text(decoders)
    (r / "0010-templates.xml").write_text(TEMPLATES)
    (r / "0100-test_rules.xml").write_text(rules)
    return Ruleset.load(decoder_dirs=[str(d)], rule_dirs=[str(r)], list_files=lists or [])


def test_lenient_xml_multiple_roots_ampersand_and_escaped_lt():
    roots = parse_xml('<a>x & y</a>\n<!-- c -- d -->\n<b><c>\\<log>\\.+\\</log></c></b>')
    assert [n.tag for n in roots] == ["a", "b"]
    assert roots[0].text == "x & y"
    assert roots[1].children[0].text == "\\<log>\\.+\\</log>"
    assert roots[1].line == 3


def test_malformed_xml_names_file_and_line(tmp_path):
    bad = '<decoder name="x">\n  <prematch>^x</prematch>\n\n  <regex>(\\d+)</rgx>\n</decoder>\n'
    with pytest.raises(RulesetError) as ei:
        load(tmp_path, bad, "")
    err = ei.value
    assert err.file.endswith("0100-test_decoders.xml")
    assert err.line == 4
    assert "0100-test_decoders.xml:4" in str(err)
    with pytest.raises(XMLSyntaxError) as e2:
        parse_xml("<a>\n<b>\n</a>", "f.xml")
    assert e2.value.line == 3


def test_bad_rule_option_names_rule_id_and_line(tmp_path):
    dec = '<decoder name="t"><program_name>^t$</program_name></decoder>'
    rules = '<group name="g,">\n<rule id="100200" level="3">\n  <decoded_as>t</decoded_as>\n  <bogus>1</bogus>\n</rule>\n</group>'
    with pytest.raises(RulesetError) as ei:
        load(tmp_path, dec, rules)
    assert ei.value.rule_id == "100200" and ei.value.line == 4
    assert "rule 100200" in str(ei.value)


def test_bad_decoder_regex_names_decoder(tmp_path):
    dec = '<decoder name="t">\n<program_name>^t$</program_name>\n<regex type="pcre2">(</regex>\n</decoder>'
    with pytest.raises(RulesetError) as ei:
        load(tmp_path, dec, "")
    assert ei.value.decoder == "t" and ei.value.line == 3


def test_failed_reload_keeps_old_ruleset(tmp_path):
    dec = '<decoder name="t"><program_name>^t$</program_name></decoder>'
    rules = '<group name="g,"><rule id="100200" level="3"><decoded_as>t</decoded_as><description>d</description></rule></group>'
    good = load(tmp_path, dec, rules)
    try:
        load(tmp_path, dec, rules + "<rule id=")
        current = None
    except RulesetError:
        current = good
    assert current is good
    res = Engine(current).process("Dec  1 10:00:00 host t: hello")
    assert res.rule.id == "100200"


def test_decoder_children_siblings_offsets_and_alert(tmp_path):
    dec = """
<decoder name="app">
  <program_name>^app$</program_name>
</decoder>
<decoder name="app-login">
  <parent>app</parent>
  <prematch>^login </prematch>
  <regex offset="after_prematch">^user=(\\S+) </regex>
  <order>srcuser</order>
</decoder>
<decoder name="app-login">
  <parent>app</parent>
  <regex offset="after_regex">^src=(\\S+)</regex>
  <order>srcip</order>
</decoder>
<decoder name="app-other">
  <parent>app</parent>
  <use_own_name>true</use_own_name>
  <regex>^(\\w+) (\\w+)</regex>
  <order>action, app.detail</order>
</decoder>
"""
    rules = """
<var name="BAD">login|logout</var>
<group name="app,">
  <rule id="100300" level="0"><decoded_as>app</decoded_as><description>app</description></rule>
  <rule id="100301" level="5">
    <if_sid>100300</if_sid>
    <match>$BAD</match>
    <srcip>10.0.0.0/8</srcip>
    <description>login by $(srcuser) from $(srcip)</description>
    <mitre><id>T1078</id></mitre>
    <group>authentication_success,pci_dss_10.2.5,gdpr_IV_32.2,</group>
  </rule>
  <rule id="100302" level="4">
    <decoded_as>app-other</decoded_as>
    <field name="app.detail">^now$</field>
    <description>other</description>
    <options>no_full_log</options>
  </rule>
</group>
"""
    rs = load(tmp_path, dec, rules)
    eng = Engine(rs, manager_name="mgr")
    res = eng.process("Dec  1 10:00:00 host app[12]: login user=alice src=10.1.2.3", "/var/log/app.log")
    assert res.decoder_name == "app"
    assert res.event.fields == {"srcuser": "alice", "srcip": "10.1.2.3"}
    a = res.alert
    assert a["rule"]["id"] == "100301" and a["rule"]["level"] == 5
    assert a["rule"]["description"] == "login by alice from 10.1.2.3"
    assert a["rule"]["groups"] == ["app", "authentication_success"]
    assert a["rule"]["pci_dss"] == ["10.2.5"] and a["rule"]["gdpr"] == ["IV_32.2"]
    assert a["rule"]["mitre"] == {"id": ["T1078"]}
    assert a["rule"]["firedtimes"] == 1 and a["rule"]["mail"] is False
    assert a["predecoder"] == {"program_name": "app", "timestamp": "Dec  1 10:00:00", "hostname": "host"}
    assert a["decoder"] == {"name": "app", "parent": "app"}
    assert a["data"] == {"srcuser": "alice", "srcip": "10.1.2.3"}
    assert a["location"] == "/var/log/app.log" and a["manager"] == {"name": "mgr"}
    assert a["full_log"].startswith("Dec  1")
    # outside 10/8: no alert from 100301
    res = eng.process("Dec  1 10:00:00 host app[12]: login user=bob src=192.168.0.1")
    assert res.rule.id == "100300" and res.alert is None
    res = eng.process("Dec  1 10:00:00 host app: run now")
    assert res.decoder_name == "app-other"
    assert res.event.fields == {"action": "run", "app.detail": "now"}
    assert res.rule.id == "100302" and "full_log" not in res.alert
    assert res.alert["data"] == {"action": "run", "app": {"detail": "now"}}


def test_lists_resolve_by_path_suffix_and_lookup(tmp_path):
    lst = tmp_path / "etc" / "lists" / "bad-users"
    lst.parent.mkdir(parents=True)
    lst.write_text('mallory:evil\n"odd:name":x\ntrent:\n')
    dec = '<decoder name="t"><program_name>^t$</program_name><regex>user=(\\S+)</regex><order>srcuser</order></decoder>'
    rules = """<group name="g,">
<rule id="100400" level="0"><decoded_as>t</decoded_as><description>t</description></rule>
<rule id="100401" level="6"><if_sid>100400</if_sid>
  <list field="srcuser" lookup="match_key_value" check_value="^evil$">etc/lists/bad-users</list>
  <description>evil user</description></rule>
<rule id="100402" level="5"><if_sid>100400</if_sid>
  <list field="srcuser" lookup="match_key">etc/lists/bad-users</list>
  <description>listed user</description></rule>
</group>"""
    rs = load(tmp_path, dec, rules, [str(lst)])
    eng = Engine(rs)
    assert eng.process("Dec  1 10:00:00 h t: user=mallory").rule.id == "100401"
    assert eng.process("Dec  1 10:00:00 h t: user=trent").rule.id == "100402"
    assert eng.process("Dec  1 10:00:00 h t: user=odd:name").rule.id == "100402"
    assert eng.process("Dec  1 10:00:00 h t: user=alice").rule.id == "100400"


def test_exclusions_and_overwrite(tmp_path):
    dec = '<decoder name="t"><program_name>^t$</program_name></decoder>'
    rules = """<group name="g,">
<rule id="100500" level="3"><decoded_as>t</decoded_as><description>orig</description></rule>
</group>"""
    rs = load(tmp_path, dec, rules)
    (tmp_path / "rules" / "0200-local.xml").write_text(
        '<group name="local,"><rule id="100500" level="9" overwrite="yes"><decoded_as>t</decoded_as>'
        "<description>mine</description></rule></group>")
    rs = Ruleset.load(decoder_dirs=[str(tmp_path / "decoders")], rule_dirs=[str(tmp_path / "rules")])
    res = Engine(rs).process("Dec  1 10:00:00 h t: x")
    assert (res.rule.level, res.alert["rule"]["description"]) == (9, "mine")
    rs = Ruleset.load(decoder_dirs=[str(tmp_path / "decoders")], rule_dirs=[str(tmp_path / "rules")],
                      rule_exclude=["0200-local.xml"])
    assert Engine(rs).process("Dec  1 10:00:00 h t: x").rule.level == 3
    rs = Ruleset.load(decoder_dirs=[str(tmp_path / "decoders")], rule_dirs=[str(tmp_path / "rules")],
                      decoder_exclude=["0100-test_decoders.xml"])
    assert Engine(rs).process("Dec  1 10:00:00 h t: x").decoder_name == ""
