"""Syslog header pre-decoding: the formats Wazuh accepts."""

import pytest

from wazuhd_analysis.event import Event, predecode

MSG = "Invalid user blimey from 18.18.18.18 port 48928"


@pytest.mark.parametrize(
    "line,ts,host,prog,log",
    [
        (f"Dec 29 10:00:01 linux-agent sshd[29205]: {MSG}", "Dec 29 10:00:01", "linux-agent", "sshd", MSG),
        (f"Dec  9 10:00:01 linux-agent sshd[29205]: {MSG}", "Dec  9 10:00:01", "linux-agent", "sshd", MSG),
        (f"<34>Dec  9 10:00:01 linux-agent sshd[29205]: {MSG}", None, None, None,
         f"<34>Dec  9 10:00:01 linux-agent sshd[29205]: {MSG}"),
        (f"Dec 9 10:00:01 h sshd[1]: {MSG}", None, None, None, f"Dec 9 10:00:01 h sshd[1]: {MSG}"),
        (f"2015 Dec 29 10:00:01 linux-agent sshd[29205]: {MSG}", "2015 Dec 29 10:00:01", None, "sshd", MSG),
        (f"2009-05-22T09:36:46.214994-07:00 linux-agent sshd[29205]: {MSG}",
         "2009-05-22T09:36:46.214994-07:00", None, "sshd", MSG),
        (f"2015-04-16 21:51:02,805 linux-agent sshd[29205]: {MSG}", "2015-04-16 21:51:02,805", None, "sshd", MSG),
        (f"2021-04-21 10:16:09.404756-0700 linux-agent sshd[29205]: {MSG}",
         "2021-04-21 10:16:09.404756-0700", None, "sshd", MSG),
        (f"01/28-09:13:16.240702 linux-agent sshd[29205]: {MSG}", "01/28-09:13:16.240702", None, None,
         f"linux-agent sshd[29205]: {MSG}"),
        (f"01/28/1979-09:13:16.240702 x: {MSG}", "01/28/1979-09:13:16.240702", None, None, f"x: {MSG}"),
        ("[Fri Feb 11 18:06:35 2004] [warn] hello", "Fri Feb 11 18:06:35 2004", None, None, "[warn] hello"),
        (f"Jan 22 18:34:00 filterlog: {MSG}", "Jan 22 18:34:00", None, "filterlog", MSG),
        ("Jan  3 13:45:36 192.168.5.1 id=firewall sn=X", "Jan  3 13:45:36", "192.168.5.1", None, "id=firewall sn=X"),
        ("Dec 19 17:20:08 ubuntu test_osregex_3[12345]:test_action x", "Dec 19 17:20:08", "ubuntu",
         "test_osregex_3", "test_action x"),
        ("Aug 31 08:11:00 2017 : homer : HOST=h : TTY=pts/1", "Aug 31 08:11:00", "2017", "",
         "homer : HOST=h : TTY=pts/1"),
        ("Dec  1 11:27:21 h su(pam_unix)[14592]: session closed", "Dec  1 11:27:21", "h", "su(pam_unix)",
         "session closed"),
        ("Dec  1 11:27:21 h sshd[99] no colon here", "Dec  1 11:27:21", "h", "sshd", "no colon here"),
        ("Dec  1 11:27:21 h sshd[99]: [ID 800047 auth.info] Accepted", "Dec  1 11:27:21", "h", "sshd", "Accepted"),
        ("Dec  1 11:27:21 h key=val: x", "Dec  1 11:27:21", "h", None, "key=val: x"),
        # not headers: the log stays whole
        ("2021/10/05 10:33:18 INFO: testing 1.2.3.4", None, None, None, "2021/10/05 10:33:18 INFO: testing 1.2.3.4"),
        ("2014-06-10T07:55:20Z 2037 TID-tm504 ERROR: x", None, None, None, "2014-06-10T07:55:20Z 2037 TID-tm504 ERROR: x"),
        ("sshd[1]: hello", None, None, None, "sshd[1]: hello"),
        ('{"a": 1}', None, None, None, '{"a": 1}'),
    ],
)
def test_header_formats(line, ts, host, prog, log):
    ev = Event(line)
    predecode(ev)
    assert (ev.pre_timestamp, ev.hostname, ev.program_name, ev.log) == (ts, host, prog, log)


def test_xferlog_stamp_is_reported_but_not_stripped():
    line = "Wed Jul 27 18:32:27 2016 [pid 2] CONNECT: Client \"10.11.12.13\""
    ev = Event(line)
    predecode(ev)
    assert ev.pre_timestamp == "Wed Jul 27 18:32:27 2016" and ev.log == line and ev.program_name is None


def test_percent_and_colon_tokens_are_not_program_names():
    ev = Event("Sep  1 10:25:29 10.10.10.1 %IPS-4-SIGNATURE: Sig:3051")
    predecode(ev)
    assert ev.program_name is None and ev.log == "%IPS-4-SIGNATURE: Sig:3051"
    ev = Event("Aug  9 14:35:19 host.com 08/09/2013:21:35:19 GMT x PPE-0 : SNMP")
    predecode(ev)
    assert ev.program_name is None and ev.log.startswith("08/09/2013:21:35:19")
