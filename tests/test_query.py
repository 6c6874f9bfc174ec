import sqlite3
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wazuhd.errors import WazuhError
from wazuhd.query import (
    DEFAULT_LIMIT,
    OPERATORS,
    And,
    Condition,
    Field,
    Or,
    Query,
    Schema,
    Search,
    SortKey,
    apply,
    parse_q,
    parse_select,
    parse_sort,
    render_q,
    run_sql,
    to_sql,
)

NOW = 1_700_000_000.0
DAY = 86400


def codes_of(fn, *args, **kwargs) -> int:
    with pytest.raises(WazuhError) as info:
        fn(*args, **kwargs)
    return info.value.code


# -- parsing ------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "tree"), [
    ("status=active", Condition("status", "=", "active")),
    ("os.name~ubuntu", Condition("os.name", "~", "ubuntu")),
    ("a=1;b!=2,c<3", Or((And((Condition("a", "=", "1"), Condition("b", "!=", "2"))), Condition("c", "<", "3")))),
    ("a=1;(b=2,c>3)", And((Condition("a", "=", "1"), Or((Condition("b", "=", "2"), Condition("c", ">", "3")))))),
    ("((a=1))", Condition("a", "=", "1")),
    ("(a=1;b=2);c=3", And((Condition("a", "=", "1"), Condition("b", "=", "2"), Condition("c", "=", "3")))),
    ("name=null", Condition("name", "=", None)),
    ('name="null"', Condition("name", "=", "null")),
    ("os.name=Microsoft Windows (x64)", Condition("os.name", "=", "Microsoft Windows (x64)")),
    ("(os.name=Windows (x64))", Condition("os.name", "=", "Windows (x64)")),
    ("groups=[web,db];id>1", And((Condition("groups", "=", "[web,db]"), Condition("id", ">", "1")))),
    ("name=[lone,id=1", Or((Condition("name", "=", "[lone"), Condition("id", "=", "1")))),
    ("version=Wazuh v4.14.0", Condition("version", "=", "Wazuh v4.14.0")),
    ("path=C:\\Windows\\x", Condition("path", "=", "C:\\Windows\\x")),
    ("a!==b", Condition("a", "!=", "=b")),
    ('name="a;b,(c)\\"d\\\\"', Condition("name", "=", 'a;b,(c)"d\\')),
    ('name=""', Condition("name", "=", "")),
])
def test_parse(text, tree):
    assert parse_q(text) == tree


@pytest.mark.parametrize(("text", "code", "words"), [
    ("", 1407, "empty query"),
    ("status", 1407, "expected an operator after field 'status' at position 6"),
    ("=active", 1407, "expected a field name at position 0"),
    ("status=", 1407, "missing value for field 'status' at position 7"),
    ("a=1;", 1407, "expected a field name at the end"),
    ("a=1,,b=2", 1407, "expected a field name at position 4"),
    ("(a=1", 1407, "'(' at position 0 is never closed"),
    ("a=1)", 1407, "unexpected ')' at position 3"),
    ("a=x (y", 1407, "'(' in the value at position 2 is never closed"),
    ("a=b|c", 1407, "character '|' at position 3"),
    ('a="open', 1407, "quoted value opened at position 2 is never closed"),
    ('a="x"y', 1407, "unexpected 'y' after the quoted value at position 5"),
    ("a..b=1", 1407, "expected an operator after field 'a' at position 1"),
    ("a==1", 1409, "Used operator: == (position 1)"),
    ("a<>1", 1409, "Used operator: <>"),
    ("a=~1", 1409, "Used operator: =~"),
    ("a~~1", 1409, "Used operator: ~~"),
])
def test_invalid_expressions_name_the_problem(text, code, words):
    with pytest.raises(WazuhError) as info:
        parse_q(text)
    assert info.value.code == code
    assert words in info.value.message


def test_render_quotes_only_when_needed():
    assert render_q(parse_q("a=1;(b=x y,c!=null)")) == "a=1;(b=x y,c!=null)"
    assert render_q(Condition("a", "=", "x;y")) == 'a="x;y"'
    assert render_q(Condition("a", "=", "=x")) == 'a="=x"'
    assert render_q(Condition("a", "=", "null")) == 'a="null"'
    assert render_q(Or((And((Condition("a", "=", "1"), Condition("b", "=", "2"))), Condition("c", "=", "3")))) \
        == "a=1;b=2,c=3"


field_names = st.from_regex(r"\A[a-zA-Z_é0-9]{1,4}(\.[a-zA-Z_0-9]{1,3}){0,2}\Z")
values = st.none() | st.text(st.characters(blacklist_categories=("Cs",)), max_size=8) | st.sampled_from(
    ["null", "x (y)", "[a,b]", "a b", '"q"', "=x", "", " ", "\\", "1.5", "a;b"])
conditions_st = st.builds(Condition, field_names, st.sampled_from(OPERATORS), values)


def canonical(kind, items):
    flat = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else [item])
    return kind(tuple(flat))


trees = st.recursive(conditions_st, lambda children: (
    st.lists(children, min_size=2, max_size=3).map(lambda xs: canonical(And, xs))
    | st.lists(children, min_size=2, max_size=3).map(lambda xs: canonical(Or, xs))), max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(trees)
def test_round_trip_of_generated_expressions(tree):
    assert parse_q(render_q(tree)) == tree


grammar_text = st.text(st.sampled_from(list('ab.1 =!<>~;,()[]"\\null|é\n')) | st.characters(), max_size=30)


@settings(max_examples=600, deadline=None)
@given(grammar_text)
def test_arbitrary_text_parses_or_raises_only_catalogued_errors(text):
    try:
        tree = parse_q(text)
    except WazuhError as exc:
        assert exc.code in (1407, 1409)
        assert exc.http_status == 400
    else:
        assert parse_q(render_q(tree)) == tree


# -- parameters ---------------------------------------------------------------------------
def test_parse_sort_signs():
    assert parse_sort("+a,-b.c") == (SortKey("a"), SortKey("b.c", False))
    assert parse_sort("-name,id") == (SortKey("name", False), SortKey("id", False)), "Wazuh: one sign for all"
    assert parse_sort("name, -id ,+os.name") == (SortKey("name"), SortKey("id", False), SortKey("os.name"))
    assert codes_of(parse_sort, "a,,b") == 1403
    assert codes_of(parse_sort, "a;drop") == 1403


def test_parse_select():
    assert parse_select("id,os.name") == ("id", "os.name")
    assert parse_select(["id,name", "name"]) == ("id", "name")
    assert codes_of(parse_select, "name;1=1") == 1724


@pytest.mark.parametrize(("params", "code"), [
    ({"limit": 0}, 1406), ({"limit": -1}, 1401), ({"limit": 100_001}, 1405), ({"limit": "x"}, 1401),
    ({"limit": True}, 1401), ({"offset": -1}, 1400), ({"offset": "a"}, 1400),
])
def test_pagination_errors(params, code):
    assert codes_of(Query.from_params, **params) == code


def test_defaults():
    query = Query.from_params()
    assert (query.offset, query.limit, query.q, query.search) == (0, DEFAULT_LIMIT, None, None)
    assert Query.from_params(limit=100_000, search="-x").search == Search("x", True)


# -- in-memory semantics --------------------------------------------------------------------
AGENTS = [
    {"id": "000", "name": "wazuh-master", "status": "active", "os": {"name": "Ubuntu", "major": "22"},
     "group": None, "lastKeepAlive": "2023-11-14T22:13:20Z", "node": 1},
    {"id": "001", "name": "Web-01", "status": "active", "os": {"name": "ubuntu", "major": "9"},
     "group": ["default", "web"], "lastKeepAlive": "2023-11-10T00:00:00Z", "node": 2},
    {"id": "002", "name": "db_01", "status": "disconnected", "os": {"name": "CentOS", "major": "18"},
     "group": ["db"], "lastKeepAlive": None, "node": 10},
    {"id": "003", "name": "win", "status": "never_connected", "os": {"name": "Microsoft Windows (x64)"},
     "node": 3},
]
AGENT_SCHEMA = Schema([Field("id"), Field("name"), Field("status"), Field("os.name"), Field("os.major"),
                       Field("group"), Field("lastKeepAlive", type="date"), Field("node", type="integer")])


def ids(q=None, schema=AGENT_SCHEMA, **params):
    page = apply(AGENTS, Query.from_params(q=q, **params), schema, now=NOW)
    return [item["id"] for item in page.items]


@pytest.mark.parametrize(("q", "expected"), [
    ("os.name=ubuntu", ["000", "001"]),                  # case-insensitive equality
    ("name~WEB", ["001"]),                                # case-insensitive contains
    ("os.major>10", ["000", "001", "002"]),              # text compares character by character
    ("node>2", ["002", "003"]),                          # numbers compare as numbers
    ("node<abc", ["000", "001", "002", "003"]),          # a number against text compares as text
    ("node~0", ["002"]),
    ("group=web", ["001"]),                               # any element of a list
    ("group!=web", ["001", "002"]),                       # missing/null never match a comparison
    ("group=null", ["000", "003"]),
    ("group!=null", ["001", "002"]),
    ("os.major=null", ["003"]),
    ("status=active;os.name=ubuntu,status=never_connected", ["000", "001", "003"]),
    ("status=active;(os.major=9,os.major=18)", ["001"]),
    ("os.name=Microsoft Windows (x64)", ["003"]),
    ("name=db_01", ["002"]),
    ("name~_", ["002"]),                                  # '_' is not a wildcard
    ("lastKeepAlive<1d", ["000"]),                       # seen within the last day
    ("lastKeepAlive>1d", ["001"]),                       # not seen for more than a day
    ("lastKeepAlive>2023-11-12", ["000"]),
    ("lastKeepAlive=2023-11-10 00:00:00", ["001"]),
    ("lastKeepAlive<2023-11-14T22:13:20.5Z", ["000", "001"]),
])
def test_q_semantics(q, expected):
    assert ids(q) == expected


@pytest.mark.parametrize(("q", "code"), [
    ("ip=1.2.3.4", 1408), ("os=ubuntu", 1408), ("lastKeepAlive~2023", 1409), ("lastKeepAlive<yesterday", 1412),
    ("lastKeepAlive>2023-13-45", 1412),
])
def test_q_field_errors(q, code):
    assert codes_of(ids, q) == code


def test_undeclared_fields_filter_anything():
    assert ids("os.name=centos", schema=None) == ["002"]
    assert ids("missing=1", schema=None) == []


def test_search_and_negation():
    assert ids(search="UBUNTU") == ["000", "001"]
    assert ids(search="-ubuntu") == ["002", "003"]
    assert ids(search="2023-11-10") == ["001"]         # dates searched in their ISO form
    assert ids(search="web", schema=None) == ["001"]


def test_sort_nested_mixed_directions_and_nulls():
    assert ids(sort="-os.name") == ["001", "000", "003", "002"]   # NOCASE, then exact text
    assert ids(sort="+os.major") == ["003", "002", "000", "001"]  # missing first, then as text
    assert ids(sort="-node") == ["002", "003", "001", "000"]
    assert ids(sort="-status,+name") == ["003", "002", "000", "001"]
    assert ids(sort="-status,-name") == ["003", "002", "001", "000"]
    assert codes_of(ids, sort="ip") == 1403
    assert codes_of(ids, sort="ip", schema=None) == 1403


def test_select_nested_keeps_id():
    page = apply(AGENTS, Query.from_params(select="os.name,name", limit=2), AGENT_SCHEMA)
    assert page.items == [{"id": "000", "os": {"name": "Ubuntu"}, "name": "wazuh-master"},
                          {"id": "001", "os": {"name": "ubuntu"}, "name": "Web-01"}]
    assert page.total == 4
    whole_os = apply(AGENTS, Query.from_params(select="os"), AGENT_SCHEMA).items[3]
    assert whole_os == {"id": "003", "os": {"name": "Microsoft Windows (x64)"}}
    assert codes_of(apply, AGENTS, Query.from_params(select="ip"), AGENT_SCHEMA) == 1724
    assert codes_of(apply, AGENTS, Query.from_params(select="ip"), None) == 1724


def test_distinct_values():
    page = apply(AGENTS, Query.from_params(select="status", distinct=True), AGENT_SCHEMA)
    assert page.items == [{"status": "active"}, {"status": "disconnected"}, {"status": "never_connected"}]
    assert page.total == 3
    assert codes_of(apply, AGENTS, Query.from_params(select="status", sort="name", distinct=True),
                    AGENT_SCHEMA) == 1403


def test_offset_and_limit():
    page = apply(AGENTS, Query.from_params(offset=1, limit=2), AGENT_SCHEMA)
    assert [a["id"] for a in page.items] == ["001", "002"] and page.total == 4
    assert apply(AGENTS, Query.from_params(offset=10), AGENT_SCHEMA).items == []


# -- SQL pushdown ---------------------------------------------------------------------------
def agent_db() -> tuple[sqlite3.Connection, Schema]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE agent (id TEXT PRIMARY KEY, name TEXT, status TEXT, os_name TEXT, "
                 "os_major TEXT, last_keepalive INTEGER, node INTEGER)")
    for agent in AGENTS:
        seen = agent.get("lastKeepAlive")
        epoch = datetime.fromisoformat(seen.replace("Z", "+00:00")).timestamp() if seen else None
        conn.execute("INSERT INTO agent VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (agent["id"], agent["name"], agent["status"], agent["os"]["name"],
                      agent["os"].get("major"), epoch, agent["node"]))
    schema = Schema([Field("id", "id"), Field("name", "name"), Field("status", "status"),
                     Field("os.name", "os_name"), Field("os.major", "os_major"),
                     Field("lastKeepAlive", "last_keepalive", "date"), Field("node", "node", "integer")],
                    table="agent")
    return conn, schema


def test_sql_uses_bound_parameters_only():
    conn, schema = agent_db()
    hostile = "x') OR 1=1; DROP TABLE agent; --"
    statement = to_sql(Query.from_params(q=f'name="{hostile}"', search=hostile), schema, now=NOW)
    assert hostile not in statement.sql and "DROP" not in statement.sql
    assert hostile in statement.params
    assert run_sql(conn, Query.from_params(q=f'name="{hostile}"'), schema).items == []
    assert conn.execute("SELECT COUNT(*) FROM agent").fetchone()[0] == 4


def test_sql_rejects_unknown_fields_with_wazuh_codes():
    conn, schema = agent_db()
    assert codes_of(run_sql, conn, Query.from_params(q="group=web"), schema) == 1408
    assert codes_of(run_sql, conn, Query.from_params(sort="group"), schema) == 1403
    assert codes_of(run_sql, conn, Query.from_params(select="group"), schema) == 1724


def test_sql_page_total_nesting_and_extra_where():
    conn, schema = agent_db()
    query = Query.from_params(q="status!=disconnected", select="os.name", sort="-name", limit=2)
    page = run_sql(conn, query, schema, where="id != ?", where_params=["000"], now=NOW)
    assert page.total == 2
    assert page.items == [{"id": "003", "os": {"name": "Microsoft Windows (x64)"}},
                          {"id": "001", "os": {"name": "ubuntu"}}]


@pytest.mark.parametrize("q", [case[0] for case in test_q_semantics.pytestmark[0].args[1]
                               if not case[0].startswith("group")])
def test_sql_matches_memory_on_agent_examples(q):
    conn, schema = agent_db()
    page = run_sql(conn, Query.from_params(q=q, select="id"), schema, now=NOW)
    assert [item["id"] for item in page.items] == ids(q)


# -- property: both evaluators return the same rows -----------------------------------------
PROPERTY_FIELDS = [Field("id", "id", "integer"), Field("name", "name"), Field("os.name", "os_name"),
                   Field("os.major", "os_major"), Field("count", "count", "integer"),
                   Field("enabled", "enabled", "boolean"), Field("ratio", "ratio", "real"),
                   Field("seen", "seen", "date")]
PROPERTY_SCHEMA = Schema(PROPERTY_FIELDS, table="item")
texts = st.sampled_from(["a", "A", "ab", "Ab", "b", "10", "9", "18", "x_y", "%", "é", "É", " a", "", "true"]) \
    | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=4)
rows_st = st.lists(st.fixed_dictionaries({
    "name": st.none() | texts, "os_name": st.none() | texts, "os_major": st.none() | texts,
    "count": st.none() | st.integers(-20, 20), "enabled": st.none() | st.booleans(),
    "ratio": st.none() | st.sampled_from([0.0, 0.5, -1.25, 2.0, 1e20, 0.1, 100.0]),
    "seen": st.none() | st.integers(int(NOW) - 5 * DAY, int(NOW) + DAY),
}), max_size=12)
query_values = st.none() | texts | st.sampled_from(
    ["1", "-3", "2.0", "0.5", "1e20", "1d", "3600", "2023-11-14", "2023-11-13 10:00:00", "2023-11-14T00:00:00Z",
     "abc", "1.0e+20", "tru"]) | st.integers(-25, 25).map(str)
q_conditions = st.builds(Condition, st.sampled_from([f.name for f in PROPERTY_FIELDS]),
                         st.sampled_from(OPERATORS), query_values)
q_trees = st.recursive(q_conditions, lambda children: (
    st.lists(children, min_size=2, max_size=3).map(lambda xs: canonical(And, xs))
    | st.lists(children, min_size=2, max_size=3).map(lambda xs: canonical(Or, xs))), max_leaves=5)
sort_st = st.lists(st.builds(SortKey, st.sampled_from([f.name for f in PROPERTY_FIELDS]), st.booleans()),
                   max_size=3, unique_by=lambda key: key.field).map(tuple)
select_st = st.none() | st.lists(st.sampled_from(["name", "os", "os.major", "count", "enabled", "ratio", "seen"]),
                                 min_size=1, max_size=3, unique=True).map(tuple)
queries = st.builds(Query, offset=st.integers(0, 4), limit=st.none() | st.integers(1, 6), sort=sort_st,
                    search=st.none() | st.builds(Search, texts.filter(bool), st.booleans()), select=select_st,
                    q=st.none() | q_trees, distinct=st.booleans())


def as_memory_row(index: int, row: dict) -> dict:
    return {"id": index, "name": row["name"], "os": {"name": row["os_name"], "major": row["os_major"]},
            "count": row["count"], "enabled": row["enabled"], "ratio": row["ratio"], "seen": row["seen"]}


def normalized(items: list) -> list:
    """SQLite hands booleans back as 0/1."""
    return [{k: normalized([v])[0] if isinstance(v, dict) else int(v) if isinstance(v, bool) else v
             for k, v in item.items()} for item in items]


def outcome(fn):
    try:
        page = fn()
    except WazuhError as exc:
        return ("error", exc.code)
    return (normalized(page.items), page.total)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows_st, queries)
def test_sql_pushdown_returns_the_same_rows_as_memory(rows, query):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, os_name TEXT, os_major TEXT, "
                 "count INTEGER, enabled INTEGER, ratio REAL, seen INTEGER)")
    conn.executemany("INSERT INTO item VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [(i, r["name"], r["os_name"], r["os_major"], r["count"], r["enabled"], r["ratio"], r["seen"])
                      for i, r in enumerate(rows)])
    memory_rows = [as_memory_row(i, r) for i, r in enumerate(rows)]
    in_memory = outcome(lambda: apply(memory_rows, query, PROPERTY_SCHEMA, now=NOW))
    pushed_down = outcome(lambda: run_sql(conn, query, PROPERTY_SCHEMA, now=NOW))
    assert pushed_down == in_memory, render_q(query.q) if query.q else None


def test_memory_dates_accept_datetimes_and_iso_text():
    rows = [{"id": 1, "seen": datetime(2023, 11, 14, tzinfo=timezone.utc)}, {"id": 2, "seen": "2023-11-01"},
            {"id": 3, "seen": "garbage"}]
    schema = Schema([Field("id", type="integer"), Field("seen", type="date")])
    page = apply(rows, Query.from_params(q="seen>2023-11-10", sort="-seen"), schema, now=NOW)
    assert [r["id"] for r in page.items] == [1]
    assert [r["id"] for r in apply(rows, Query.from_params(sort="seen"), schema).items] == [3, 2, 1]


def test_booleans_stored_as_numbers_compare_as_true_false():
    rows = [{"id": 1, "enabled": 1}, {"id": 2, "enabled": False}, {"id": 3, "enabled": None}]
    schema = Schema([Field("id", type="integer"), Field("enabled", type="boolean")])
    assert [r["id"] for r in apply(rows, Query.from_params(q="enabled=TRUE"), schema).items] == [1]
    assert [r["id"] for r in apply(rows, Query.from_params(search="fals"), schema).items] == [2]


def test_validation_does_not_depend_on_what_the_filter_left():
    query = Query.from_params(q="name=nobody", sort="ip")
    assert codes_of(apply, AGENTS, query, None) == 1403
