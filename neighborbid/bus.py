"""The event bus that carries committed events out of the database transaction.

With REDIS_URL: one Redis PUBLISH per event (a small JSON text, serialized once), sent by
this process's publisher thread in the order published (several in one pipeline when they
come faster than a round trip), so every server process that subscribed (see realtime) hears
it; the caller never waits for Redis, and this process's own listeners hear it at once.
Without REDIS_URL (the embedded default): an in-process bus, so
one dev server still works live.

Publishing never raises: money never depends on the bus. A lost event is recovered by the
clients' resync (every state message is complete).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from time import monotonic

from django.conf import settings

logger = logging.getLogger("neighborbid.bus")

Listener = Callable[[str, str], None]

_local_listeners: list[Listener] = []
_local_lock = threading.Lock()
_redis_client = None
_redis_client_url: str | None = None
_redis_lock = threading.Lock()


def channel_prefix() -> str:
    return getattr(settings, "BUS_PREFIX", "nb")


def encode(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def redis_client():
    """A process-wide sync Redis client with deliberate timeouts (made again if REDIS_URL
    changed: tests point it elsewhere, and the publisher thread may ask between two tests)."""
    global _redis_client, _redis_client_url
    url = settings.REDIS_URL
    client = _redis_client
    if client is None or _redis_client_url != url:
        from neighborbid.redisconn import sync_client

        with _redis_lock:
            if _redis_client is None or _redis_client_url != url:
                if _redis_client is not None:
                    _close_quietly(_redis_client)
                _redis_client = sync_client(
                    url,
                    socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
                    socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
                    health_check_interval=30,
                    max_connections=50,
                )
                _redis_client_url = url
            client = _redis_client
    return client


def _close_quietly(client) -> None:
    try:
        client.close()
    except Exception as exc:  # best effort
        logger.debug("closing redis client failed: %s", exc)


def reset_redis_client() -> None:
    global _redis_client
    with _redis_lock:
        if _redis_client is not None:
            _close_quietly(_redis_client)
        _redis_client = None


def add_local_listener(listener: Listener) -> None:
    with _local_lock:
        _local_listeners.append(listener)


def remove_local_listener(listener: Listener) -> None:
    with _local_lock:
        if listener in _local_listeners:
            _local_listeners.remove(listener)


def publish(channel: str, message: dict) -> bool:
    """Publish one event: delivered to this process's listeners at once and, with REDIS_URL,
    handed to this process's publisher thread for Redis. Never waits for Redis (a money
    thread that published a bid's state answers the bidder at once; with Redis slow or gone a
    bid costs no timeout). Returns False when the event could not be handed over."""
    data = encode(message)
    _deliver_locally([channel], data)
    if settings.REDIS_URL:
        return _publisher().put(channel, data)
    return True


def flush(timeout: float = 2.0) -> bool:
    """Wait (bounded) until every event handed over so far has been sent to Redis or given
    up; False on timeout. At exit, and for tests that need the order of two processes."""
    publisher = _the_publisher
    return publisher.flush(timeout) if publisher is not None and publisher.pid == os.getpid() else True


class _Publisher:
    """This process's one thread that sends the bus's events to Redis: in the order they were
    published, several in one pipeline when they come faster than a round trip. Bounded:
    past MAX_PENDING waiting events the oldest is dropped (and counted), since every state is
    complete and the newest one counts; a failed send is logged and dropped, as a failed
    PUBLISH always was (clients resync)."""

    MAX_PENDING = 10_000
    BATCH = 500

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.dropped = 0
        self._pending: deque[tuple[str, str]] = deque()
        self._cond = threading.Condition()
        self._busy = False
        threading.Thread(target=self._run, name="bus-publisher", daemon=True).start()

    def put(self, channel: str, data: str) -> bool:
        with self._cond:
            full = len(self._pending) >= self.MAX_PENDING
            if full:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append((channel, data))
            self._cond.notify()
        if full and self.dropped % 1000 == 1:
            logger.warning("bus publisher behind: dropped the oldest event (%d so far)", self.dropped)
        return True

    def flush(self, timeout: float) -> bool:
        deadline = monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                remaining = deadline - monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._busy = False
                    self._cond.notify_all()  # flush() waiters
                    self._cond.wait()
                self._busy = True
                batch = [self._pending.popleft() for _ in range(min(self.BATCH, len(self._pending)))]
            self._send(batch)

    @staticmethod
    def _send(batch: list[tuple[str, str]]) -> None:
        try:
            client = redis_client()
            if len(batch) == 1:
                client.publish(*batch[0])
            else:
                pipe = client.pipeline(transaction=False)
                for channel, data in batch:
                    pipe.publish(channel, data)
                pipe.execute()
        except Exception as exc:
            logger.warning("bus publish failed events=%d channel=%s error=%s", len(batch), batch[0][0], exc)


_the_publisher: _Publisher | None = None


def _publisher() -> _Publisher:
    """The publisher of this process (started on first use, again after a fork)."""
    global _the_publisher
    publisher = _the_publisher
    if publisher is None or publisher.pid != os.getpid():
        with _redis_lock:
            publisher = _the_publisher
            if publisher is None or publisher.pid != os.getpid():
                publisher = _the_publisher = _Publisher()
                atexit.register(flush)
    return publisher


def _deliver_locally(channels: list[str], data: str) -> None:
    with _local_lock:
        listeners = list(_local_listeners)
    for channel in channels:
        for listener in listeners:
            try:
                listener(channel, data)
            except Exception:  # a broken listener never breaks the caller
                logger.exception("bus local listener failed channel=%s", channel)
