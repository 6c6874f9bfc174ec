"""Correlation: frequency/timeframe, same_/different_, if_matched_group, ignore, memory bound."""

from wazuhd_analysis import engine as engine_mod
from wazuhd_analysis.engine import Engine, Ruleset

DEC = """
<decoder name="auth">
  <program_name>^auth$</program_name>
  <regex>^(\\w+) user=(\\S+) src=(\\S+)</regex>
  <order>action, srcuser, srcip</order>
</decoder>
"""
RULES = """
<group name="syslog,">
  <rule id="1" level="0" noalert="1"><category>syslog</category><description>t</description></rule>
</group>
<group name="auth,">
  <rule id="100600" level="0"><decoded_as>auth</decoded_as><description>auth</description></rule>
  <rule id="100601" level="3"><if_sid>100600</if_sid><action>fail</action>
    <description>failure</description><group>authentication_failed,</group></rule>
  <rule id="100602" level="10" frequency="3" timeframe="60">
    <if_matched_sid>100601</if_matched_sid>
    <same_source_ip />
    <description>brute force from $(srcip)</description>
  </rule>
  <rule id="100603" level="8" timeframe="60">
    <if_sid>100600</if_sid>
    <action>ok</action>
    <if_matched_group>authentication_failed</if_matched_group>
    <different_srcuser />
    <description>success after another user's failure</description>
  </rule>
  <rule id="100604" level="4" ignore="30"><if_sid>100600</if_sid><action>noisy</action>
    <description>noisy</description></rule>
</group>
"""


def make(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "r").mkdir()
    (tmp_path / "d" / "a.xml").write_text(DEC)
    (tmp_path / "r" / "a.xml").write_text(RULES)
    return Ruleset.load(decoder_dirs=[str(tmp_path / "d")], rule_dirs=[str(tmp_path / "r")])


def send(eng, msg, t):
    return eng.process(f"Dec  1 10:00:00 h auth: {msg}", now=t)


def test_frequency_same_source_ip_and_timeframe(tmp_path):
    eng = Engine(make(tmp_path))
    t = 1000.0
    assert send(eng, "fail user=a src=1.1.1.1", t).rule.id == "100601"
    assert send(eng, "fail user=a src=2.2.2.2", t + 1).rule.id == "100601"
    assert send(eng, "fail user=a src=1.1.1.1", t + 2).rule.id == "100601"
    r = send(eng, "fail user=a src=1.1.1.1", t + 3)  # third from 1.1.1.1
    assert r.rule.id == "100602"
    assert r.alert["rule"]["description"] == "brute force from 1.1.1.1"
    assert r.alert["rule"]["frequency"] == 3
    # outside the timeframe the old events no longer count
    eng2 = Engine(eng.ruleset)
    send(eng2, "fail user=a src=1.1.1.1", t)
    send(eng2, "fail user=a src=1.1.1.1", t + 1)
    assert send(eng2, "fail user=a src=1.1.1.1", t + 100).rule.id == "100601"


def test_if_matched_group_with_different_user(tmp_path):
    eng = Engine(make(tmp_path))
    assert send(eng, "ok user=a src=1.1.1.1", 10).rule.id == "100600"
    send(eng, "fail user=a src=1.1.1.1", 11)
    assert send(eng, "ok user=a src=1.1.1.1", 12).rule.id == "100600"  # same user
    assert send(eng, "ok user=b src=1.1.1.1", 13).rule.id == "100603"


def test_ignore_silences_a_rule_for_a_while(tmp_path):
    eng = Engine(make(tmp_path))
    assert send(eng, "noisy user=a src=1.1.1.1", 100).rule.id == "100604"
    assert send(eng, "noisy user=a src=1.1.1.1", 110).rule.id == "100600"
    assert send(eng, "noisy user=a src=1.1.1.1", 131).rule.id == "100604"
    assert eng.firedtimes[100604] == 2


def test_different_field_needs_another_value(tmp_path):
    rules = RULES.replace("</group>\n", """  <rule id="100605" level="9" frequency="2" timeframe="60">
    <if_matched_sid>100601</if_matched_sid>
    <same_srcuser />
    <different_srcip />
    <description>same user failing from two addresses</description>
  </rule>
</group>
""", 1)
    (tmp_path / "d").mkdir()
    (tmp_path / "r").mkdir()
    (tmp_path / "d" / "a.xml").write_text(DEC)
    (tmp_path / "r" / "a.xml").write_text(rules)
    rs = Ruleset.load(decoder_dirs=[str(tmp_path / "d")], rule_dirs=[str(tmp_path / "r")])
    eng = Engine(rs)
    assert send(eng, "fail user=a src=1.1.1.1", 1).rule.id == "100601"
    assert send(eng, "fail user=a src=1.1.1.1", 2).rule.id == "100601"
    assert send(eng, "fail user=b src=2.2.2.2", 3).rule.id == "100601"
    assert send(eng, "fail user=a src=3.3.3.3", 4).rule.id == "100605"


def test_sessions_do_not_share_state(tmp_path):
    rs = make(tmp_path)
    a, b = Engine(rs), Engine(rs)
    for i in range(2):
        send(a, "fail user=a src=1.1.1.1", 50 + i)
    assert send(b, "fail user=a src=1.1.1.1", 52).rule.id == "100601"
    assert send(a, "fail user=a src=1.1.1.1", 52).rule.id == "100602"


def test_correlation_memory_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_mod, "MAX_REMEMBERED", 16)
    eng = Engine(make(tmp_path))
    for i in range(200):
        send(eng, f"fail user=u{i} src=10.0.0.{i % 250}", 1000 + i * 0.01)
    assert len(eng.by_sid[100601]) == 16
    assert all(len(q) <= 16 for q in eng.by_group.values())
    # the same_* index keeps at most MAX_KEYS value tuples, each bounded too
    monkeypatch.setattr(engine_mod, "MAX_KEYS", 8)
    eng = Engine(eng.ruleset)
    for i in range(100):
        send(eng, f"fail user=u src=10.0.1.{i}", 2000 + i * 0.01)
    idx = eng.same_idx[100602]
    assert len(idx) == 8
    assert all(len(q) <= 16 for groups in idx.values() for q in groups.values())


def test_action_compares_whole_value(tmp_path):
    eng = Engine(make(tmp_path))
    assert send(eng, "failed user=a src=1.1.1.1", 1).rule.id == "100600"
    assert send(eng, "fail user=a src=1.1.1.1", 2).rule.id == "100601"


def test_agent_location_sets_agent_fields(tmp_path):
    eng = Engine(make(tmp_path))
    r = eng.process("Dec  1 10:00:00 h auth: fail user=a src=1.1.1.1",
                    "[003] (web01) 10.0.0.5->/var/log/auth.log", now=5)
    assert r.alert["agent"] == {"id": "003", "name": "web01", "ip": "10.0.0.5"}
    assert r.alert["location"] == "/var/log/auth.log"
    assert r.should_log


def test_correlated_alert_carries_previous_output(tmp_path):
    eng = Engine(make(tmp_path))
    send(eng, "fail user=a src=1.1.1.1", 1)
    send(eng, "fail user=b src=1.1.1.1", 2)
    r = send(eng, "fail user=c src=1.1.1.1", 3)
    assert r.rule.id == "100602"
    prev = r.alert["previous_output"].splitlines()
    assert [p.rsplit("user=", 1)[1].split()[0] for p in prev] == ["b", "a"]


def test_oversized_events_are_cut_and_counted(tmp_path):
    eng = Engine(make(tmp_path), max_event_size=100)
    r = eng.process("Dec  1 10:00:00 h auth: fail user=a src=1.1.1.1 " + "x" * 500, now=1)
    assert len(r.event.full_log) == 100 and r.rule.id == "100601"
    assert eng.counters["truncated"] == 1 and eng.counters["events"] == 1


def test_same_user_compares_the_destination_user(tmp_path):
    rules = RULES.replace("</group>\n", """  <rule id="100606" level="9" timeframe="60">
    <if_matched_sid>100601</if_matched_sid>
    <same_user />
    <description>same destination user</description>
  </rule>
</group>
""", 1)
    dec = DEC.replace("<order>action, srcuser, srcip</order>", "<order>action, user, srcip</order>")
    (tmp_path / "d").mkdir()
    (tmp_path / "r").mkdir()
    (tmp_path / "d" / "a.xml").write_text(dec)
    (tmp_path / "r" / "a.xml").write_text(rules)
    eng = Engine(Ruleset.load(decoder_dirs=[str(tmp_path / "d")], rule_dirs=[str(tmp_path / "r")]))
    assert send(eng, "fail user=a src=1.1.1.1", 1).rule.id == "100601"
    assert send(eng, "fail user=b src=1.1.1.1", 2).rule.id == "100601"
    r = send(eng, "fail user=a src=2.2.2.2", 3)
    assert r.rule.id == "100606" and r.event.fields["dstuser"] == "a"
