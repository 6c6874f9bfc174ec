"""The azure section: wrong values stop the start with the key path; sources get their names."""

from __future__ import annotations

import pytest

from wazuhd.config import ConfigError, validate
from wazuhd_azure import config
from wazuhd_azure.common import Watermark, parse_offset, parse_time, iso
from wazuhd_azure.storage import name_matches


def check(section: dict):
    return validate([config.SECTION], {"azure": section}, origin="wazuhd.yaml")["azure"]


@pytest.mark.parametrize("entry, where, says", [
    ({"container": "c", "time_offset": "2 days"}, "azure.storage[0].time_offset", "does not match"),
    ({"container": "c", "content_type": "xml"}, "azure.storage[0].content_type", "expected one of"),
    ({"container": "c", "only_logs_after": "31/01/2024"}, "azure.storage[0].only_logs_after",
     "does not match"),
    ({"container": "c", "acount_key": "k"}, "azure.storage[0]", "unknown key 'acount_key'"),
])
def test_wrong_values_name_the_key(entry, where, says):
    with pytest.raises(ConfigError) as caught:
        check({"storage": [entry]})
    assert where in str(caught.value) and says in str(caught.value)


def test_defaults_and_source_names():
    section = check({"storage": [{"container": "insights", "prefix": "y=2026/",
                                  "connection_string": "DefaultEndpointsProtocol=https;"
                                  "AccountName=acme;AccountKey=a2V5;EndpointSuffix=core.windows.net"}],
                     "log_analytics": [{"workspace": "w1", "query": "AzureActivity",
                                        "tenant_id": "t", "client_id": "c", "client_secret": "s"}],
                     "graph": [{"tenant_id": "t", "client_id": "c", "client_secret": "s",
                                "query": "auditLogs/signIns"},
                               {"tenant_id": "t", "client_id": "c", "client_secret": "s",
                                "resource": "security", "relationship": "incidents"},
                               {"tenant_id": "t", "client_id": "c", "client_secret": "s"}]})
    assert section["storage"][0]["content_type"] == "text"  # Wazuh's default
    assert section["graph"][0]["endpoint"] == "https://graph.microsoft.com"
    sources = config.build_sources(section)
    names = [source.name for source in sources]
    assert names[0] == "azure-storage:acme/insights/y=2026/"
    assert names[1].startswith("azure-log-analytics:w1:")
    # The Graph entry with neither query nor resource is left out; the others run,
    # and the two of one application and scope share one token.
    assert names[2:] == ["azure-graph:t:auditLogs/signIns", "ms-graph:t:security/incidents"]
    assert sources[2].tokens is sources[3].tokens
    assert sources[1].tokens is not sources[2].tokens  # another scope
    assert all(source.interval == 600 for source in sources)


def test_blob_name_filter():
    assert name_matches(".json", "a/b/PT1H.json") and not name_matches(".json", "a/b.txt")
    assert name_matches("PT1H*.json", "resourceId=/x/PT1H.json")
    assert name_matches("*", "anything") and name_matches("", "anything")


def test_times_and_watermark():
    assert parse_offset("2d") == 172800 and parse_offset("90") == 90
    seven = parse_time("2023-11-27T20:16:25.9499334Z")
    assert iso(seven) == "2023-11-27T20:16:25.949933Z"
    assert iso(parse_time("2018-05-25T15:43:16.52+02:00")) == "2018-05-25T13:43:16.520000Z"
    mark = Watermark()
    mark.advance("2024-01-01T00:00:00.000000Z", "a")
    mark.advance("2024-01-01T00:00:00.000000Z", "b")
    assert not mark.is_new("2024-01-01T00:00:00.000000Z", "a")
    assert mark.is_new("2024-01-01T00:00:00.000000Z", "c")
    assert not mark.is_new("2023-12-31T23:59:59.999999Z", "z")
    mark.advance("2024-01-02T00:00:00.000000Z", "c")
    assert Watermark.from_checkpoint(mark.as_checkpoint()) == mark
    assert mark.seen == {"c"}
