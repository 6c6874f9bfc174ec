"""Pub/Sub subscriptions: a streaming pull inside the daemon, a synchronous pull standalone.

Either way a message is acknowledged only after :meth:`Run.emit` returned,
i.e. once its event is in the analysis channel, on the daemon's queue socket
or on stdout: a crash redelivers it, never loses it (at-least-once).

Inside the daemon, ``num_threads`` streaming pulls run on the subscription,
each with flow control (at most ``max_messages`` delivered and not yet
acknowledged). Their callbacks run in the client's threads and hand the
messages to trio (a batch per wake-up) through one bounded channel; a trio
task takes them in batches, emits, then acknowledges the batch. When the
stream fails for good (the subscription is deleted, the credentials are
refused), ``collect`` raises and :func:`wazuhd.collect.schedule` starts it
again with backoff; passing errors (deadline exceeded, unavailable) the
client retries itself.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import trio

from wazuhd.collect import CollectError, Run, Source
from wazuhd_gcp import auth, records

log = logging.getLogger("wazuhd.gcp")

SCOPES = ["https://www.googleapis.com/auth/pubsub"]
#: Most messages emitted (and then acknowledged) at once.
BATCH = 1000
#: Largest synchronous pull the service allows.
MAX_PULL = 1000
#: Seconds a synchronous pull may wait for messages before it counts as empty.
PULL_WAIT = 2.0
#: Seconds a streamed message is leased for at a time (the client extends the lease while
#: it is held). Short, so that what was in flight when the daemon stopped is redelivered
#: within seconds rather than the client's default minute.
LEASE = 10
#: Seconds to wait for the streams to close when stopping.
CLOSE_WAIT = 3.0


class PubSubSource(Source):
    """One subscription, pulled by streaming inside the daemon."""

    location = records.LOCATION
    #: Seconds a lookup or an acknowledgement may take.
    rpc_timeout = 30.0

    def __init__(self, *, project_id: str, subscription_name: str,
                 credentials_file: str | None = None, max_messages: int = 100,
                 num_threads: int = 1, pull_on_start: bool = True, interval: float = 60.0):
        self.project_id = project_id
        self.subscription_name = subscription_name
        self.credentials_file = credentials_file
        self.max_messages = max_messages
        self.num_threads = num_threads
        self.pull_on_start = pull_on_start
        self.interval = interval
        self.name = f"gcp-pubsub:{project_id}/{subscription_name}"
        self.path = f"projects/{project_id}/subscriptions/{subscription_name}"
        self._started = False

    # -- shared ------------------------------------------------------------------

    def client(self):
        """A subscriber client: the key file's credentials, else anonymous on an
        emulator, else Application Default Credentials."""
        from google.cloud import pubsub_v1

        try:
            if self.credentials_file:
                credentials = auth.service_account(self.credentials_file, SCOPES)
                return pubsub_v1.SubscriberClient(credentials=credentials)
            return pubsub_v1.SubscriberClient()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a named error
            raise auth.explain(exc, f"subscription {self.path}") from None

    async def open(self):
        """A client and a first look at the subscription, so that a missing one or
        refused credentials fail now, with a clear message. A key allowed to consume but
        not to read the subscription's settings (Pub/Sub Subscriber) goes on unchecked."""
        from google.api_core import exceptions as api

        subscriber = await trio.to_thread.run_sync(self.client)
        try:
            await trio.to_thread.run_sync(lambda: subscriber.get_subscription(
                subscription=self.path, timeout=self.rpc_timeout))
        except api.PermissionDenied:
            log.debug("%s: may not read the subscription's settings; pulling anyway", self.name)
        except BaseException as exc:
            subscriber.close()
            if isinstance(exc, Exception):
                raise auth.explain(exc, f"subscription {self.path}") from None
            raise
        return subscriber

    async def emit_and_ack(self, run: Run, messages: list, ack) -> None:
        """Emit a batch's events, then acknowledge it (``ack(messages)``)."""
        events, malformed = [], []
        for message in messages:
            record, is_json = records.pubsub_event(
                message.data, message.attributes, message.message_id,
                _timestamp(message.publish_time))
            events.append(record)
            if not is_json:
                malformed.append(message.message_id)
        await run.emit(events)
        await ack(messages)
        run.count("acknowledged", len(messages))
        if malformed:
            run.count("malformed", len(malformed))
            log.warning("%s: %d message(s) without a JSON object payload (first: %s) sent as "
                        "text with their attributes", self.name, len(malformed), malformed[0])

    # -- inside the daemon: streaming ----------------------------------------------

    async def collect(self, run: Run) -> None:
        if not self._started and not self.pull_on_start:
            await trio.sleep(self.interval)
        self._started = True
        subscriber = await self.open()
        try:
            await self._stream(run, subscriber)
        finally:
            subscriber.close()

    async def _stream(self, run: Run, subscriber) -> None:
        from google.cloud import pubsub_v1
        from google.cloud.pubsub_v1.subscriber.scheduler import ThreadScheduler

        send, receive = trio.open_memory_channel(self.max_messages * self.num_threads)
        token = trio.lowlevel.current_trio_token()
        ended = trio.Event()
        hand_over = _Handoff(send, token, run)

        def on_done(_future) -> None:
            try:
                token.run_sync_soon(ended.set)
            except trio.RunFinishedError:
                pass

        flow = pubsub_v1.types.FlowControl(max_messages=self.max_messages,
                                           max_duration_per_lease_extension=LEASE)
        executors = [ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{self.name}-{n}")
                     for n in range(self.num_threads)]
        futures = []
        try:
            for executor in executors:
                future = subscriber.subscribe(self.path, hand_over, flow_control=flow,
                                              scheduler=ThreadScheduler(executor))
                future.add_done_callback(on_done)
                futures.append(future)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._forward, run, receive)
                    await ended.wait()
                    nursery.cancel_scope.cancel()
            except BaseExceptionGroup as group:
                raise _single(group) from None
            failure = next((f.exception() for f in futures if f.done() and f.exception()), None)
            if failure is not None:
                raise auth.explain(failure, f"subscription {self.path}") from None
            raise CollectError(f"subscription {self.path}: the stream ended")
        finally:
            with trio.CancelScope(shield=True):
                hand_over.close()
                _nack_all(receive)
                receive.close()
                with trio.move_on_after(CLOSE_WAIT):
                    await trio.to_thread.run_sync(_close, futures, executors,
                                                  abandon_on_cancel=True)

    async def _forward(self, run: Run, receive: trio.MemoryReceiveChannel) -> None:
        async def ack(messages):
            for message in messages:
                message.ack()

        while True:
            batch = [await receive.receive()]
            while len(batch) < BATCH:
                try:
                    batch.append(receive.receive_nowait())
                except trio.WouldBlock:
                    break
            await self.emit_and_ack(run, batch, ack)


class _Handoff:
    """The streams' callback: messages from the client's threads into trio's channel, one
    wake-up of trio per batch rather than a round trip per message.

    Flow control holds at most ``max_messages`` per stream delivered and not yet
    acknowledged, so the channel (that many per stream) does not fill; were it full, the
    surplus is nacked (redelivered at once), never dropped. So is what arrives once the
    stream is stopping.
    """

    def __init__(self, send: trio.MemorySendChannel, token, run: Run):
        self.send = send
        self.token = token
        self.run = run
        self.lock = threading.Lock()
        self.pending: list = []
        self.scheduled = False
        self.closed = False

    def __call__(self, message) -> None:
        with self.lock:
            if self.closed:
                message.nack()
                return
            self.pending.append(message)
            if self.scheduled:
                return
            self.scheduled = True
        try:
            self.token.run_sync_soon(self._flush)
        except trio.RunFinishedError:
            self.close()

    def _flush(self) -> None:
        """In trio's thread: what the callbacks gathered, into the channel."""
        with self.lock:
            batch, self.pending, self.scheduled = self.pending, [], False
        for message in batch:
            try:
                self.send.send_nowait(message)
            except trio.WouldBlock:
                message.nack()
                self.run.count("requeued")
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                message.nack()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            batch, self.pending = self.pending, []
        for message in batch:
            message.nack()


class PubSubPullSource(PubSubSource):
    """The standalone run: synchronous pulls of at most ``max_messages`` in all, each
    batch acknowledged as soon as its events are written; it returns when a pull
    comes back empty or the maximum is reached. ``num_threads`` pulls run at once."""

    async def collect(self, run: Run) -> None:
        subscriber = await self.open()
        remaining = self.max_messages
        exhausted = False

        async def acknowledge(messages):
            ack_ids = [message.ack_id for message in messages]
            await trio.to_thread.run_sync(lambda: subscriber.acknowledge(
                subscription=self.path, ack_ids=ack_ids, timeout=self.rpc_timeout))

        async def puller():
            nonlocal remaining, exhausted
            while remaining > 0 and not exhausted:
                wanted = min(remaining, MAX_PULL)
                remaining -= wanted
                received = await trio.to_thread.run_sync(self._pull, subscriber, wanted)
                remaining += wanted - len(received)
                if not received:
                    exhausted = True
                    return
                await self.emit_and_ack(run, [_Pulled(item) for item in received], acknowledge)

        try:
            async with trio.open_nursery() as nursery:
                for _ in range(self.num_threads):
                    nursery.start_soon(puller)
        except Exception as exc:
            raise auth.explain(_single(exc), f"subscription {self.path}") from None
        finally:
            subscriber.close()

    def _pull(self, subscriber, wanted: int) -> list:
        from google.api_core import exceptions as api

        try:
            response = subscriber.pull(subscription=self.path, max_messages=wanted,
                                       timeout=PULL_WAIT)
        except api.DeadlineExceeded:
            return []  # nothing arrived while it waited: the same as an empty pull
        return list(response.received_messages)


class _Pulled:
    """A synchronously pulled message, shaped like a streamed one."""

    __slots__ = ("ack_id", "data", "attributes", "message_id", "publish_time")

    def __init__(self, received):
        message = received.message
        self.ack_id = received.ack_id
        self.data = message.data
        self.attributes = message.attributes
        self.message_id = message.message_id
        self.publish_time = message.publish_time


def _timestamp(value) -> str | None:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else None


def _nack_all(receive: trio.MemoryReceiveChannel) -> None:
    """Messages taken from the stream but not emitted go back at once."""
    while True:
        try:
            receive.receive_nowait().nack()
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            return


def _close(futures, executors) -> None:
    for future in futures:
        future.cancel()
    for future in futures:
        try:
            future.result(timeout=CLOSE_WAIT)
        except Exception:  # noqa: BLE001 - closing: its failure was already reported
            pass
    for executor in executors:
        executor.shutdown(wait=False, cancel_futures=True)


def _single(exc: BaseException) -> BaseException:
    """The one exception inside trio's exception group, if there is only one."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
