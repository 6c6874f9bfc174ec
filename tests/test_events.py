"""Wazuh's queue message format, ``<queue>:<location>:<message>`` (wazuhd.events)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wazuhd.events import Event, EventFormatError, parse_event


def fields(event: Event) -> tuple[str, str, str]:
    return event.queue, event.location, event.message


# -- well-formed messages --------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    # An agent's syslog line: the message is full of ':' (time, program).
    ("1:[001] (web01) 10.0.0.1->/var/log/auth.log:Nov 26 10:00:01 web01 sshd[42]: "
     "Failed password for root from 10.0.0.9 port 22 ssh2",
     ("1", "[001] (web01) 10.0.0.1->/var/log/auth.log",
      "Nov 26 10:00:01 web01 sshd[42]: Failed password for root from 10.0.0.9 port 22 ssh2")),
    # ':' in the location is escaped as '|:'.
    ("1:C|:\\Windows\\Logs|:app.log:boot: ok", ("1", "C:\\Windows\\Logs:app.log", "boot: ok")),
    ("2:10.0.0.1|:514:<13>Nov 26 10:00:01 host app: hi", ("2", "10.0.0.1:514",
                                                         "<13>Nov 26 10:00:01 host app: hi")),
    # A '|' not followed by ':' is an ordinary character.
    ("3:a|b:c", ("3", "a|b", "c")),
    # '||:' is a '|' followed by an escaped ':'.
    ("8:a||:b:m", ("8", "a|:b", "m")),
    # The message may be empty or consist of colons only.
    ("1:loc:", ("1", "loc", "")),
    ("1:loc::::", ("1", "loc", ":::")),
    # The queue id is any single character, ':' included.
    ("::loc:m", (":", "loc", "m")),
    ("é:loc:m", ("é", "loc", "m")),
    # A location that is only an escaped colon.
    ("1:|::m", ("1", ":", "m")),
])
def test_parse_well_formed(raw, expected):
    assert fields(parse_event(raw)) == expected
    assert fields(parse_event(raw.encode())) == expected


def test_parse_bytes_with_invalid_utf8_replaces_them():
    event = parse_event(b"1:loc:caf\xe9 \xff")
    assert fields(event) == ("1", "loc", "caf\ufffd \ufffd")


def test_parse_sets_received_time():
    event = parse_event("1:loc:m")
    assert isinstance(event.received, float) and event.received > 0


# -- malformed messages ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "", b"", "1", "1:", b"1:", "1::", "1::message",       # empty location
    "1:location",                                           # no ':' after the location
    "1:loc|:only|:escaped",                                 # every ':' after the location escaped
    "12:loc:msg", "loc:msg", " 1:loc:msg",                  # queue id is not one character
    ":", "::", ":::",
    b"\xff\xfe:loc:msg",                                    # two replacement chars as the queue id
    "\n", "\x00:\x00",
])
def test_parse_garbage_raises_event_format_error(raw):
    with pytest.raises(EventFormatError):
        parse_event(raw)


def test_event_format_error_is_a_value_error():
    assert issubclass(EventFormatError, ValueError)


def test_error_message_says_what_is_wrong():
    with pytest.raises(EventFormatError, match="empty location"):
        parse_event("1::m")
    with pytest.raises(EventFormatError, match="no ':' after the location"):
        parse_event("1:loc")
    with pytest.raises(EventFormatError, match="queue id"):
        parse_event("xy")


# -- to_wire -----------------------------------------------------------------------------------


def test_to_wire_escapes_colons_in_the_location_only():
    assert Event("1", "C:\\x:y", "a:b").to_wire() == b"1:C|:\\x|:y:a:b"


def test_to_wire_is_utf8():
    assert Event("1", "lé", "ü").to_wire() == "1:lé:ü".encode()


queues = st.characters(exclude_categories=("Cs",))          # one character, never a surrogate
texts = st.text(st.characters(exclude_categories=("Cs",)))
# A location ending in '|' cannot be told apart from an escaped separator (to_wire refuses it).
locations = texts.filter(lambda s: s and not s.endswith("|"))
# Bias towards the characters that matter to the escaping.
tricky = st.text(st.sampled_from("|:a"), min_size=1).filter(lambda s: not s.endswith("|"))


@settings(max_examples=300, deadline=None)
@given(queue=queues, location=st.one_of(locations, tricky), message=st.one_of(texts, tricky))
def test_to_wire_round_trip(queue, location, message):
    event = Event(queue, location, message)
    wire = event.to_wire()
    assert isinstance(wire, bytes)
    assert fields(parse_event(wire)) == (queue, location, message)
    assert fields(parse_event(wire.decode())) == (queue, location, message)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=64), texts,
                 st.text(st.sampled_from("1|:ab\xff"), max_size=12)))
def test_parse_anything_is_an_event_or_event_format_error(raw):
    """Whatever arrives: an Event, or EventFormatError; never another exception. A parsed
    event re-encodes to a wire form that parses to the same event."""
    try:
        event = parse_event(raw)
    except EventFormatError:
        return
    assert len(event.queue) == 1 and event.location
    assert fields(parse_event(event.to_wire())) == fields(event)


@pytest.mark.parametrize("location", ["a|", "|", "C:\\dir|"])
def test_to_wire_location_ending_in_pipe_round_trips_or_is_refused(location):
    event = Event("1", location, "msg: x")
    try:
        wire = event.to_wire()
    except EventFormatError:
        return
    assert fields(parse_event(wire)) == ("1", location, "msg: x")
