"""OS_Regex / OS_Match / PCRE2 semantics."""

import pytest

from hypothesis import given, strategies as st

from wazuhd_analysis.osregex import OSMatch, OSRegex, PatternError, PCRE2Regex, compile_pattern


@pytest.mark.parametrize(
    "pattern,text,expected",
    [
        (r"\w+", "a-b@c_d", True),
        (r"^\w+$", "a-b@c_d", True),
        (r"^\w+$", "a.b", False),
        (r"^\d+$", "123", True),
        (r"^\d+$", "12a", False),
        (r"^\s$", " ", True),
        (r"^\s$", "\t", False),  # \s is a space only
        (r"^\t$", "\t", True),
        (r"^\p+$", "()*+,-.:;<=>?[]!\"'#$%&|{}", True),
        (r"^\p$", "a", False),
        (r"^\W$", "!", True),
        (r"^\W$", "a", False),
        (r"^\D$", "x", True),
        (r"^\S+$", "abc", True),
        (r"^\S+$", "a c", False),
        (r"^\.+$", "anything at all", True),
        (r"^a.c$", "a.c", True),  # a bare dot is a literal dot
        (r"^a.c$", "abc", False),
        (r"^\$\(\)\\\|\<$", "$()\\|<", True),
        (r"ERROR", "an error here", True),  # case-insensitive
        (r"^foo|^bar", "bar baz", True),
        (r"^foo|^bar", "baz bar", False),
        (r"end$", "the end", True),
        (r"end$", "the end.", False),
    ],
)
def test_osregex_classes_and_anchors(pattern, text, expected):
    assert OSRegex(pattern).search(text) is expected


def test_osregex_captures_and_end_offset():
    r = OSRegex(r"^(\S+) from (\d+.\d+.\d+.\d+) port (\d+)")
    end, groups = r.execute("root from 10.0.0.1 port 22 ssh2")
    assert groups == ("root", "10.0.0.1", "22")
    assert end == len("root from 10.0.0.1 port 22")


def test_osregex_alternatives_keep_their_own_captures():
    r = OSRegex(r"user=(\w+)|name=(\w+)")
    assert r.execute("x name=bob")[1] == ("bob",)
    # the first alternative wins when both could match
    assert r.execute("name=bob user=al")[1] == ("al",)


def test_osregex_repetition_is_lazy_before_more_pattern():
    r = OSRegex(r'forwardedfor=(\.*)\s')
    assert r.execute("forwardedfor=1.2.3.4 srcip=5 x")[1] == ("1.2.3.4",)
    r2 = OSRegex(r"^(\.+)$")
    assert r2.execute("all of it")[1] == ("all of it",)


def test_osregex_unbalanced_parenthesis_is_an_error():
    with pytest.raises(PatternError):
        OSRegex(r"(\d+")


def test_osmatch():
    m = OSMatch("^Accepted|failed password$")
    assert m.search("accepted publickey")
    assert m.search("user: FAILED PASSWORD")
    assert not m.search("x accepted")
    assert not m.search("failed password for root")
    assert OSMatch("a.b").search("xa.by") and not OSMatch("a.b").search("axb")
    neg = OSMatch("!format=json")
    assert neg.search("format=xml") and not neg.search("format=json")


def test_pcre2_is_case_sensitive_and_captures():
    p = PCRE2Regex(r"(?<user>\w+)@(\d+\.\d+\.\d+\.\d+)")
    assert p.execute("x ROOT@1.2.3.4")[1] == ("ROOT", "1.2.3.4")
    assert not PCRE2Regex("abc").search("ABC")
    assert PCRE2Regex("(?i)abc").search("ABC")
    with pytest.raises(PatternError):
        PCRE2Regex("(unclosed")


def test_compile_pattern_defaults_and_types():
    assert isinstance(compile_pattern("x", None, "osmatch"), OSMatch)
    assert isinstance(compile_pattern("x", "osregex", "osmatch"), OSRegex)
    assert isinstance(compile_pattern("x", "PCRE2", "osmatch"), PCRE2Regex)
    with pytest.raises(PatternError):
        compile_pattern("x", "glob", "osmatch")


@given(st.text(alphabet="abcXYZ019 -@_.:", max_size=30))
def test_literal_osmatch_agrees_with_substring_search(text):
    needle = "a-1"
    assert OSMatch(needle).search(text) == (needle in text.lower())


@given(st.from_regex(r"[a-z0-9@_-]{1,12}", fullmatch=True))
def test_w_plus_matches_every_word(word):
    assert OSRegex(r"^\w+$").search(word)
    assert not OSRegex(r"^\w+$").search(word + " ")


# The speed-ups in the translation (possessive repeats where the next element
# cannot start with a character of the class) must not change any result:
# compare with a plain lazy translation on random texts.
import re

from wazuhd_analysis import osregex as _osr

_SAMPLE_PATTERNS = [
    r"^(\S+) (\S+) (\d+.\d+.\d+.\d+):(\d+)",
    r"user (\w+) from (\S+) port (\d+)",
    r'forwardedfor="(\.*)"|forwardedfor=(\.*)\s|forwardedfor=(\.*)$',
    r"\p*\w+\s+\d*\s\d+:\d+:\d+:\s+%",
    r"^\d+-\d+-\d+T\d+:\d+:\d+.\d+\p\d+ (\w) (\S+)\s+[(\w+)] (\.+)",
    r"src=(\S+):(\d*):(\S*) dst=(\S+)",
    r"(\w+)@(\S+)\s*\t(\d+)\p",
    r"^(\.*)$",
    r"a(\W+)b(\D*)c(\s*)d",
]


def _lazy_reference(alt):
    anchored, toks = _osr._tokenize(alt)
    out = [r"\A"] if anchored else []
    for j, t in enumerate(toks):
        if t[0] == "lit":
            out.append(re.escape(t[1]))
        elif t[0] == "open":
            out.append("(")
        elif t[0] == "close":
            out.append(")")
        elif t[0] == "end":
            out.append(r"\Z")
        else:
            out.append(_osr._CLASSES[t[1]])
            if t[2]:
                rest = [x for x in toks[j + 1:] if x[0] != "close"]
                out.append(t[2] if not rest or rest == [("end",)] else t[2] + "?")
    return re.compile("".join(out), re.I | re.A)


@given(st.text(alphabet="ab cd01:.-@_%[]\t\"=/T+x", max_size=60))
def test_possessive_shortcuts_keep_lazy_results(text):
    for pattern in _SAMPLE_PATTERNS:
        refs = [_lazy_reference(a) for a in _osr._split_alternatives(pattern)]
        want = None
        for rx in refs:
            m = rx.search(text)
            if m:
                want = (m.end(), m.groups())
                break
        assert OSRegex(pattern).execute(text) == want, pattern
