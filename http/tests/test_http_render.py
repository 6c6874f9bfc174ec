"""Rendering handler results: envelopes, pre-encoded JSON, other media types."""

from wazuhd.results import AffectedItemsResult
from wazuhd.routes import ApiResponse
from wazuhd_http.app import render


async def test_pre_encoded_json_is_sent_as_it_is():
    response = render(ApiResponse(b'{"data":{"n":1},"error":0}'), pretty=True)
    assert response.content_type == "application/json"
    assert await response.get_data() == b'{"data":{"n":1},"error":0}'


async def test_results_render_to_wazuhs_envelope_and_pretty_indents():
    result = AffectedItemsResult(all_msg="All done", none_msg="Nothing done")
    result.add_affected_items([{"id": 1}])
    compact = await render(result, pretty=False).get_data()
    pretty = await render(result, pretty=True).get_data()
    assert compact.startswith(b'{"data": {"affected_items": [{"id": 1}]')
    assert b'\n    "data": {' in pretty


async def test_other_media_types_pass_through():
    response = render(ApiResponse("<agent_config/>", content_type="application/xml"), False)
    assert response.content_type == "application/xml"
    assert await response.get_data() == b"<agent_config/>"
