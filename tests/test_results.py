import json

from hypothesis import given, settings
from hypothesis import strategies as st

from wazuhd.errors import WazuhError, WazuhResourceNotFound
from wazuhd.results import AffectedItemsResult, FailedError, WazuhResult, merge_values, paginate

MESSAGES = ("All agents were restarted", "Some agents were not restarted", "No agent was restarted")


def new_result(**kwargs) -> AffectedItemsResult:
    return AffectedItemsResult(*MESSAGES, **kwargs)


def test_empty_result_renders_none_message_without_error():
    assert new_result().render() == {
        "data": {"affected_items": [], "total_affected_items": 0, "total_failed_items": 0, "failed_items": []},
        "message": MESSAGES[2], "error": 0,
    }


def test_all_some_none_messages_and_error_codes():
    result = new_result()
    result.add_affected_items(["001", "002"])
    assert (result.message, result.error) == (MESSAGES[0], 0)
    result.add_failed_item("999", WazuhResourceNotFound(1701))
    assert (result.message, result.error) == (MESSAGES[1], 2)
    only_failed = new_result()
    only_failed.add_failed_item("999", WazuhResourceNotFound(1701))
    assert (only_failed.message, only_failed.error) == (MESSAGES[2], 1)


def test_render_matches_wazuh_spec_example():
    result = AffectedItemsResult("All selected agents were assigned to group2",
                                 "Some agents were not assigned to group2 and removed from the other groups",
                                 "No agents were assigned to group2")
    result.add_affected_items(["001", "002"])
    result.add_failed_item("999", WazuhResourceNotFound(1701))
    assert result.render() == {
        "data": {
            "affected_items": ["001", "002"],
            "total_affected_items": 2,
            "total_failed_items": 1,
            "failed_items": [{
                "error": {"code": 1701, "message": "Agent does not exist",
                          "remediation": "Please, use `GET /agents?select=id,name` to find all available agents"},
                "id": ["999"],
            }],
        },
        "message": "Some agents were not assigned to group2 and removed from the other groups",
        "error": 2,
    }


def test_failed_items_grouped_by_error_sorted_by_code_ids_numeric():
    result = new_result()
    for id_ in ["010", "9", "100"]:
        result.add_failed_item(id_, WazuhError(1707))
    result.add_failed_item("9", WazuhError(1707))          # same id twice counts once
    result.add_failed_item("003", WazuhResourceNotFound(1701))
    result.add_failed_item("web", WazuhError(1701, "different detail"))
    rendered = result.render()["data"]
    assert [(g["error"]["code"], g["id"]) for g in rendered["failed_items"]] == [
        (1701, ["003"]), (1701, ["web"]), (1707, ["9", "010", "100"])]
    assert rendered["total_failed_items"] == 5
    assert result.failed_items[FailedError.from_exception(WazuhError(1707))] == ["9", "010", "100"]


def test_non_numeric_ids_sort_as_text():
    result = new_result()
    for id_ in ["web", "db", "10"]:
        result.add_failed_item(id_, WazuhError(1710))
    assert result.render()["data"]["failed_items"][0]["id"] == ["10", "db", "web"]


def test_total_affected_items_can_report_the_whole_list():
    result = new_result()
    result.add_affected_items([{"id": "001"}])
    result.total_affected_items = 42
    assert result.render()["data"]["total_affected_items"] == 42


def test_merge_sorts_by_result_fields_unites_failures_and_adds_totals():
    left = new_result(sort_fields=["name"], sort_ascending=False)
    left.add_affected_items([{"id": "003", "name": "zeta"}, {"id": "001", "name": "alpha"}])
    left.add_failed_item("007", WazuhError(1707))
    right = new_result()
    right.add_affected_items([{"id": "002", "name": "Mid"}])
    right.add_failed_item("008", WazuhError(1707))
    right.add_failed_item("009", WazuhResourceNotFound(1701))
    merged = left | right
    assert [item["name"] for item in merged.affected_items] == ["zeta", "Mid", "alpha"]
    assert merged.total_affected_items == 3
    assert merged.total_failed_items == 3
    assert merged.error == 2 and merged.message == MESSAGES[1]
    groups = {g["error"]["code"]: g["id"] for g in merged.render()["data"]["failed_items"]}
    assert groups == {1707: ["007", "008"], 1701: ["009"]}
    assert left.total_affected_items == 2, "operands are not modified"


def test_merge_without_sort_fields_keeps_order_and_adds_explicit_totals():
    left, right = new_result(), new_result()
    left.add_affected_items(["b"])
    left.total_affected_items = 10
    right.add_affected_items(["a"])
    merged = left | right
    assert merged.affected_items == ["b", "a"]
    assert merged.total_affected_items == 11


def test_merge_extra_data_like_wazuh():
    left = new_result(extra={"nodes": ["master"], "count": 1, "status": "ok"})
    right = new_result(extra={"nodes": ["master", "worker1"], "count": 2, "status": "failed"})
    assert (left | right).render()["data"] | {} == {
        "affected_items": [], "total_affected_items": 0, "total_failed_items": 0, "failed_items": [],
        "nodes": ["master", "worker1"], "count": 3, "status": "ok|failed",
    }


def test_json_round_trip_keeps_everything():
    result = new_result(sort_fields=["id"], extra={"node": "worker1"})
    result.add_affected_items([{"id": "001"}])
    result.add_failed_item("002", WazuhError(1707, "details"))
    result.total_affected_items = 5
    wire = json.loads(json.dumps(result.to_json()))
    restored = AffectedItemsResult.from_json(wire)
    assert restored.render() == result.render()
    assert restored.sort_fields == ["id"]


def test_wazuh_result_merge_and_render():
    left = WazuhResult({"data": {"items": [1, 2], "total": 2}, "message": "ok"})
    right = WazuhResult({"data": {"items": [2, 3], "total": 1}, "message": "ok"})
    merged = left | right
    assert isinstance(merged, WazuhResult)
    assert merged.render() == {"data": {"items": [1, 2, 3], "total": 3}, "message": "ok", "error": 0}


def test_merge_values_scalars():
    assert merge_values("a", "a") == "a"
    assert merge_values(True, False) is False
    assert merge_values({"a": {"b": 1}}, {"a": {"b": 2, "c": 3}}) == {"a": {"b": 3, "c": 3}}


errors_pool = st.sampled_from([WazuhError(1707), WazuhResourceNotFound(1701), WazuhError(1701, "x"),
                               WazuhError(1710)])
partials = st.lists(st.tuples(
    st.lists(st.integers(0, 50), max_size=5),
    st.lists(st.tuples(st.integers(0, 50).map(str), errors_pool), max_size=5),
), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(partials)
def test_merging_partials_equals_building_one_result(parts):
    whole, merged = new_result(sort_fields=["v"]), None
    for affected, failed in parts:
        affected = sorted(affected)  # each partial arrives sorted, as a node's page does
        piece = new_result(sort_fields=["v"])
        piece.add_affected_items({"v": v} for v in affected)
        whole.add_affected_items({"v": v} for v in affected)
        for id_, error in failed:
            piece.add_failed_item(id_, error)
            whole.add_failed_item(id_, error)
        merged = piece if merged is None else merged | piece
    whole.affected_items.sort(key=lambda item: item["v"])
    assert merged.render() == whole.render()
    rendered = merged.render()
    assert rendered["data"]["total_failed_items"] == sum(len(g["id"]) for g in rendered["data"]["failed_items"])
    assert rendered["error"] == (0 if not rendered["data"]["total_failed_items"]
                                 else 2 if rendered["data"]["total_affected_items"] else 1)


def test_paginate_fills_a_page_and_the_total():
    rows = [{"id": f"00{i}", "name": name} for i, name in enumerate(["b", "a", "c"])]
    result = paginate(new_result(), rows, sort="name", limit=2)
    assert [item["id"] for item in result.affected_items] == ["001", "000"]
    assert result.render()["data"]["total_affected_items"] == 3
