"""The .ini runner as a command (the logic of `wazuhd ruleset test`)."""

import io

from wazuhd_analysis.inirunner import cli, parse_ini

DEC = '<decoder name="app"><program_name>^app$</program_name><regex>user=(\\S+)</regex><order>srcuser</order></decoder>'
RULES = """<group name="syslog,"><rule id="1" level="0" noalert="1"><category>syslog</category><description>t</description></rule></group>
<group name="app,">
<rule id="100700" level="0"><decoded_as>app</decoded_as><description>app</description></rule>
<rule id="100701" level="5"><if_sid>100700</if_sid><match>denied</match><description>denied</description></rule>
</group>"""


def setup(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "r").mkdir()
    (tmp_path / "d" / "a.xml").write_text(DEC)
    (tmp_path / "r" / "a.xml").write_text(RULES)


def test_cli_passes_and_fails_with_kinds(tmp_path):
    setup(tmp_path)
    ini = tmp_path / "app.ini"
    ini.write_text(
        "; comment\n"
        "[denied]\nlog 1 pass = Dec  1 10:00:00 h app: access denied user=x\nrule = 100701\nalert = 5\ndecoder = app\n\n"
        "[not denied]\nlog 1 fail = Dec  1 10:00:00 h app: access ok user=x\nrule = 100701\nalert = 5\ndecoder = app\n\n"
        "[wrong level]\nlog 1 pass = Dec  1 10:00:00 h app: denied\nrule = 100701\nalert = 7\ndecoder = app\n\n"
        "[undecoded]\nlog 1 pass = Dec  1 10:00:00 h other: denied\nrule = 100701\nalert = 5\ndecoder = app\n"
    )
    out = io.StringIO()
    code = cli(["--decoder-dir", str(tmp_path / "d"), "--rule-dir", str(tmp_path / "r"), str(ini)], out)
    text = out.getvalue()
    assert code == 1
    assert "app.ini: 2 passed, 2 failed" in text
    assert "another level" in text and "not decoded" in text
    ini.write_text("[denied]\nlog 1 pass = Dec  1 10:00:00 h app: access denied\nrule = 100701\nalert = 5\ndecoder = app\n")
    assert cli(["--decoder-dir", str(tmp_path / "d"), "--rule-dir", str(tmp_path / "r"), "-q", str(ini)], io.StringIO()) == 0


def test_cli_reports_a_broken_ruleset(tmp_path):
    setup(tmp_path)
    (tmp_path / "r" / "b.xml").write_text('<group name="x,"><rule id="100800" level="3">\n<match>x</match>\n</group>')
    out = io.StringIO()
    ini = tmp_path / "x.ini"
    ini.write_text("[x]\nlog 1 pass = x\nrule = 1\nalert = 0\ndecoder = x\n")
    assert cli(["--decoder-dir", str(tmp_path / "d"), "--rule-dir", str(tmp_path / "r"), str(ini)], out) == 2
    assert "b.xml:3" in out.getvalue()


def test_parse_ini_keeps_duplicates_in_order(tmp_path):
    ini = tmp_path / "t.ini"
    ini.write_text("[s]\nlog 1 pass = a\nlog 2 pass = b\nlog 1 pass = c\nrule = 1\nalert = 2\ndecoder = d\n")
    cases = parse_ini(str(ini))
    assert [(c.key, c.lines) for c in cases] == [("log 1 pass", ["a", "c"]), ("log 2 pass", ["b"])]


def test_dirs_may_be_globs(tmp_path):
    setup(tmp_path)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "x_decoders.xml").write_text(DEC.replace('name="app"', 'name="app2"').replace("^app$", "^app2$"))
    (mixed / "x_rules.xml").write_text('<group name="a2,"><rule id="100710" level="4"><decoded_as>app2</decoded_as>'
                                       "<description>app2</description></rule></group>")
    ini = tmp_path / "a2.ini"
    ini.write_text("[a2]\nlog 1 pass = Dec  1 10:00:00 h app2: hi\nrule = 100710\nalert = 4\ndecoder = app2\n")
    args = ["--decoder-dir", str(tmp_path / "d"), "--decoder-dir", str(mixed / "*_decoders.xml"),
            "--rule-dir", str(tmp_path / "r"), "--rule-dir", str(mixed / "*_rules.xml"), str(ini)]
    assert cli(args, io.StringIO()) == 0
