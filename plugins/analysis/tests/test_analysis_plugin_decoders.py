"""Plugin decoders: JSON (null fields, arrays, offsets), SonicWall, PF."""

from wazuhd_analysis.engine import Engine, Ruleset

TEMPLATES = ('<group name="syslog,"><rule id="1" level="0" noalert="1"><category>syslog</category>'
             "<description>t</description></rule></group>")


def load(tmp_path, decoders, rules=""):
    (tmp_path / "d").mkdir()
    (tmp_path / "r").mkdir()
    (tmp_path / "d" / "a.xml").write_text(decoders)
    (tmp_path / "r" / "0.xml").write_text(TEMPLATES)
    (tmp_path / "r" / "a.xml").write_text(rules)
    return Ruleset.load(decoder_dirs=[str(tmp_path / "d")], rule_dirs=[str(tmp_path / "r")])


def test_json_fields_nulls_arrays_and_alert_data(tmp_path):
    rs = load(tmp_path, """
<decoder name="json"><prematch>^{\\s*"</prematch><plugin_decoder>JSON_Decoder</plugin_decoder></decoder>
<decoder name="json-discard"><prematch>^DISCARD </prematch>
  <plugin_decoder offset="after_prematch">JSON_Decoder</plugin_decoder>
  <json_null_field>discard</json_null_field></decoder>
""", """<group name="j,">
<rule id="100900" level="3"><decoded_as>json</decoded_as><field name="a.b">^x$</field>
  <field name="tags">^one,two$</field><field name="n">^null$</field><field name="num">^1.5$</field>
  <description>json $(a.b)</description></rule>
</group>""")
    eng = Engine(rs)
    r = eng.process('{"a": {"b": "x"}, "tags": ["one", "two"], "n": null, "num": 1.5, '
                    '"objs": [{"k": 1}], "ok": true}')
    f = r.event.fields
    assert f["a.b"] == "x" and f["tags"] == "one,two" and f["n"] == "null" and f["ok"] == "true"
    assert f["objs"] == '[{"k":1}]'
    assert r.rule.id == "100900" and r.alert["rule"]["description"] == "json x"
    assert r.alert["data"]["a"] == {"b": "x"} and r.alert["data"]["tags"] == ["one", "two"]
    r = eng.process('DISCARD {"n": null, "v": 2}')
    assert r.decoder_name == "json-discard" and r.event.fields == {"v": "2"}
    r = eng.process('{"broken": ')
    assert r.decoder_name == "json" and r.event.fields == {}


def test_sonicwall_plugin(tmp_path):
    rs = load(tmp_path, """
<decoder name="sonicwall">
  <plugin_decoder>SonicWall_Decoder</plugin_decoder>
  <prematch>^\\s*id=\\w+\\s+sn=\\w+\\s+time="\\.+"\\s+fw=\\S+ </prematch>
</decoder>""")
    r = Engine(rs).process('id=firewall sn=00301E0526B1 time="2004-04-01 10:39:35" fw=67.32.44.2 pri=5 '
                           'c=64 m=36 msg="TCP connection dropped" n=2686 src=67.101.200.27:4507:WAN '
                           'dst=67.32.44.2:445:LAN proto=tcp/445 rule=0')
    f = r.event.fields
    assert (f["srcip"], f["srcport"], f["dstip"], f["dstport"]) == ("67.101.200.27", "4507", "67.32.44.2", "445")
    assert f["protocol"] == "tcp" and f["status"] == "5" and f["id"] == "36"


def test_pf_plugin(tmp_path):
    rs = load(tmp_path, """
<decoder name="pf"><type>firewall</type><program_name>^pf$</program_name>
  <plugin_decoder>PF_Decoder</plugin_decoder></decoder>""")
    r = Engine(rs).process("Mar 30 15:33:26 enigma pf: Mar 30 15:32:33.483712 rule 2/(match) pass in on xl0: "
                           "140.211.166.3.6667 > 192.168.2.10.16290: P 7408:7677(269) ack 1773 win 2520")
    f = r.event.fields
    assert r.decoder_name == "pf" and r.event.dtype == "firewall"
    assert (f["action"], f["srcip"], f["srcport"], f["dstip"], f["dstport"]) == (
        "pass", "140.211.166.3", "6667", "192.168.2.10", "16290")


def test_hostile_json_does_not_break_the_engine(tmp_path):
    rs = load(tmp_path, '<decoder name="json"><prematch>^{\\s*"</prematch>'
                        "<plugin_decoder>JSON_Decoder</plugin_decoder></decoder>")
    eng = Engine(rs)
    r = eng.process('{"a":' * 20000 + "1" + "}" * 20000)
    assert r.decoder_name == "json" and r.event.fields == {}
    assert eng.process('{"ok": 1}').event.fields == {"ok": "1"}
