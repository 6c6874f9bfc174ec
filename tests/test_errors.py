import re
from pathlib import Path

import pytest

from wazuhd import errors
from wazuhd.errors import (
    ErrorCode,
    WazuhError,
    WazuhException,
    WazuhInternalError,
    WazuhNotAcceptable,
    WazuhPermissionError,
    WazuhResourceNotFound,
    WazuhTooManyRequests,
    error_for,
    get_code,
    register_codes,
)

SPEC = Path("/work/shared/wazuh-api/spec.yaml")


@pytest.fixture
def isolated_catalog(monkeypatch):
    """Plugins' registrations in a test must not leak into the others."""
    monkeypatch.setattr(errors, "_CATALOG", dict(errors._CATALOG))


@pytest.mark.parametrize(("code", "message", "status"), [
    (1000, "Wazuh Internal Error", 500),
    (1407, "Query does not match expected format", 400),
    (1408, "Field does not exist.", 400),
    (1409, "Invalid query operator", 400),
    (1701, "Agent does not exist", 404),
    (1707, "Cannot send request, agent is not active", 400),
    (1710, "The group does not exist", 404),
    (4000, "Permission denied", 403),
    (6000, "Limit of login attempts reached. The current IP has been blocked due to a high number of "
           "login attempts", 403),
    (6001, "Maximum number of requests per minute reached", 429),
    (6002, "The body type is not the one specified in the content-type", 406),
])
def test_catalog_uses_wazuh_codes_and_statuses(code, message, status):
    entry = get_code(code)
    assert (entry.message, entry.http_status) == (message, status)


@pytest.mark.skipif(not SPEC.exists(), reason="reference spec not available")
def test_messages_quoted_in_wazuh_spec_examples_match_ours():
    text = SPEC.read_text()
    pairs = re.findall(r"code: (\d{4})\n\s+message: \"?([^\"\n]+)\"?\n", text)
    assert pairs, "the spec has code/message examples"
    for code, message in pairs:
        assert get_code(int(code)).message == message.strip()


def test_every_entry_is_consistent():
    for code, entry in errors.codes().items():
        assert entry.code == code
        assert entry.http_status == errors.KIND_STATUS[entry.kind]
        assert entry.message


def test_exception_message_remediation_and_problem_object():
    exc = WazuhError(1407, "bad thing", extra_remediation="do this")
    assert exc.message == "Query does not match expected format: bad thing"
    assert exc.remediation.endswith(": do this")
    assert exc.http_status == 400
    assert str(exc) == "Error 1407 - Query does not match expected format: bad thing"
    assert exc.to_dict() == {"title": "Bad Request", "detail": exc.message,
                             "remediation": exc.remediation, "error": 1407}


def test_problem_object_omits_missing_remediation():
    assert WazuhError(1410).to_dict() == {"title": "Bad Request",
                                          "detail": "Selecting more than one field in distinct mode",
                                          "error": 1410}


def test_extra_message_mapping_fills_placeholders():
    exc = WazuhInternalError(1017, {"node_name": "master", "not_ready_daemons": "analysisd"})
    assert exc.message == 'Some Wazuh daemons are not ready yet in node "master" (analysisd)'


@pytest.mark.parametrize(("cls", "status", "title"), [
    (WazuhError, 400, "Bad Request"),
    (WazuhPermissionError, 403, "Permission Denied"),
    (WazuhResourceNotFound, 404, "Resource Not Found"),
    (WazuhNotAcceptable, 406, "Not Acceptable"),
    (WazuhTooManyRequests, 429, "Too Many Requests"),
    (WazuhInternalError, 500, "Wazuh Internal Error"),
])
def test_class_decides_status_and_title(cls, status, title):
    exc = cls(1000)
    assert (exc.http_status, exc.to_dict()["title"]) == (status, title)


def test_base_exception_takes_status_from_catalog():
    assert WazuhException(1701).http_status == 404
    assert WazuhException(6001).http_status == 429


@pytest.mark.parametrize(("code", "cls"), [
    (1701, WazuhResourceNotFound), (4000, WazuhPermissionError), (6001, WazuhTooManyRequests),
    (6002, WazuhNotAcceptable), (1000, WazuhInternalError), (1407, WazuhError),
])
def test_error_for_picks_the_catalogued_class(code, cls):
    assert type(error_for(code, "x")) is cls


def test_equality_and_hash_follow_what_the_client_sees():
    assert WazuhError(1701) == WazuhError(1701)
    assert WazuhError(1701, "a") != WazuhError(1701, "b")
    assert len({WazuhError(1701), WazuhError(1701)}) == 1


def test_unknown_code_is_a_clear_error():
    with pytest.raises(LookupError, match="99999 is not catalogued"):
        WazuhError(99999)


def test_register_codes_accepts_entries_dicts_and_messages(isolated_catalog):
    register_codes({
        90001: ErrorCode(90001, "First", kind="not_found"),
        90002: {"message": "Second", "remediation": "Fix it", "kind": "internal"},
        90003: "Third",
    })
    assert WazuhException(90001).http_status == 404
    assert error_for(90002).to_dict() == {"title": "Wazuh Internal Error", "detail": "Second",
                                          "remediation": "Fix it", "error": 90002}
    assert get_code(90003).kind == "error"


def test_register_codes_refuses_duplicates_atomically(isolated_catalog):
    with pytest.raises(ValueError, match="1701 is already registered"):
        register_codes({90010: "New", 1701: "Clash"})
    with pytest.raises(LookupError):
        get_code(90010)


@pytest.mark.parametrize("spec", [
    {"message": "x", "kind": "weird"},
    {"message": "x", "colour": "red"},
    {"message": "x", "kind": "internal", "http_status": 400},
    ErrorCode(90021, "number differs from the key"),
])
def test_register_codes_rejects_malformed_entries(isolated_catalog, spec):
    with pytest.raises(ValueError):
        register_codes({90020: spec})
