"""Events and logtest through the API, API-agnostic.

``ingest_events`` is Wazuh's ``POST /events``: each event goes into the analysis channel
(the one every input feeds, with its backpressure) as queue ``1``, location
``API-Webhook``, exactly as Wazuh's API writes ``1:API-Webhook:<event>`` to analysisd's
queue. The endpoint is limited to 30 requests per minute (``analysis.api.
events_max_request_per_minute``; error 6005 beyond) and 100 events per request (the spec).

``run_logtest`` / ``end_logtest_session`` are the API door of logtest (the socket and the
CLI are the others): the same :class:`LogtestSessions`, Wazuh's envelope
``{"error": 0, "data": {"token", "messages", "output", "alert", "codemsg"}}``.
"""

from __future__ import annotations

import time
from collections import deque

from wazuhd.errors import WazuhError, WazuhTooManyRequests
from wazuhd.events import Event
from wazuhd.rbac import expose_resources
from wazuhd.results import AffectedItemsResult, WazuhResult

EVENT_QUEUE, EVENT_LOCATION = "1", "API-Webhook"
MAX_EVENT_BYTES = 65535  # Wazuh's analysisd queue message limit


class RateLimit:
    """At most ``per_minute`` calls in any sliding minute (0: unlimited)."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.calls: deque[float] = deque()

    def check(self, code: int = 6005) -> None:
        if not self.per_minute:
            return
        now = time.monotonic()
        while self.calls and now - self.calls[0] >= 60:
            self.calls.popleft()
        if len(self.calls) >= self.per_minute:
            wait = 60 - (now - self.calls[0])
            raise WazuhTooManyRequests(code, extra_remediation=f"Retry in {wait:.0f} s")
        self.calls.append(now)


@expose_resources(actions=["event:ingest"], resources=["*:*:*"])
async def ingest_events(rbac, *, ctx, events: list, limit: RateLimit | None = None,
                        counters: dict | None = None) -> AffectedItemsResult:
    """Send ``events`` (strings) into the analysis channel; each is an affected item."""
    if limit is not None:
        limit.check()
    result = AffectedItemsResult(all_msg="All events were forwarded to analisysd",
                                 some_msg="Some events were forwarded to analisysd",
                                 none_msg="No events were forwarded to analisysd")
    try:
        sender = ctx.event_sender()
    except RuntimeError as exc:
        raise WazuhError(1010, str(exc)) from None
    async with sender:
        for event in events:
            if not isinstance(event, str) or not event:
                result.add_failed_item(str(event), WazuhError(1012, "an event must be a non-empty string"))
                continue
            if len(event.encode()) > MAX_EVENT_BYTES:
                result.add_failed_item(event[:64], WazuhError(1012, f"longer than {MAX_EVENT_BYTES} bytes"))
                continue
            await sender.send(Event(EVENT_QUEUE, EVENT_LOCATION, event))
            result.affected_items.append(event)
    if counters is not None:
        counters["events"] = counters.get("events", 0) + len(result.affected_items)
        counters["requests"] = counters.get("requests", 0) + 1
    return result


@expose_resources(actions=["logtest:run"], resources=["*:*:*"])
async def run_logtest(rbac, *, sessions, event: str, log_format: str, location: str,
                      token: str | None = None) -> WazuhResult:
    """``PUT /logtest``: one event in a session (a new one without a valid token)."""
    data = sessions.process(event=event, log_format=log_format, location=location, token=token or None)
    return WazuhResult({"data": data})


@expose_resources(actions=["logtest:run"], resources=["*:*:*"])
async def end_logtest_session(rbac, *, sessions, token: str) -> WazuhResult:
    """``DELETE /logtest/sessions/{token}``: 200 whether or not the session existed."""
    if not token:
        raise WazuhError(7001)
    try:
        data = sessions.remove(token)
    except WazuhError:
        data = {"messages": [f"ERROR: (7004): No session found for token '{token}'"], "codemsg": -1}
    return WazuhResult({"data": data})
