"""The event bus that carries committed events out of the database transaction.

With REDIS_URL: one Redis PUBLISH per event and channel (a small JSON text, serialized once;
several channels go in one pipeline), so every server process that subscribed (see
realtime) hears it. Without REDIS_URL (the embedded default): an in-process bus, so
one dev server still works live.

Publishing never raises: money never depends on the bus. A lost event is recovered by the
clients' resync (every state message is complete).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from django.conf import settings

logger = logging.getLogger("neighborbid.bus")

Listener = Callable[[str, str], None]

_local_listeners: list[Listener] = []
_local_lock = threading.Lock()
_redis_client = None
_redis_lock = threading.Lock()


def channel_prefix() -> str:
    return getattr(settings, "BUS_PREFIX", "nb")


def encode(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def redis_client():
    """A process-wide sync Redis client with deliberate timeouts."""
    global _redis_client
    if _redis_client is None:
        from neighborbid.redisconn import sync_client

        with _redis_lock:
            if _redis_client is None:
                _redis_client = sync_client(
                    settings.REDIS_URL,
                    socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
                    socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
                    health_check_interval=30,
                    max_connections=50,
                )
    return _redis_client


def reset_redis_client() -> None:
    global _redis_client
    with _redis_lock:
        if _redis_client is not None:
            try:
                _redis_client.close()
            except Exception as exc:  # best effort
                logger.debug("closing redis client failed: %s", exc)
        _redis_client = None


def add_local_listener(listener: Listener) -> None:
    with _local_lock:
        _local_listeners.append(listener)


def remove_local_listener(listener: Listener) -> None:
    with _local_lock:
        if listener in _local_listeners:
            _local_listeners.remove(listener)


def publish(channel: str, message: dict) -> bool:
    """Publish one event. Returns False (and logs) when the transport failed."""
    data = encode(message)
    if settings.REDIS_URL:
        try:
            redis_client().publish(channel, data)
        except Exception as exc:
            logger.warning("bus publish failed channel=%s error=%s", channel, exc)
            return False
    _deliver_locally([channel], data)
    return True


def publish_many(channels: list[str], message: dict) -> bool:
    """Publish one event to several channels: encoded once, one Redis round trip (a
    pipeline, not a transaction). Returns False (and logs) when the transport failed."""
    data = encode(message)
    if settings.REDIS_URL and channels:
        try:
            pipe = redis_client().pipeline(transaction=False)
            for channel in channels:
                pipe.publish(channel, data)
            pipe.execute()
        except Exception as exc:
            logger.warning("bus publish failed channels=%s error=%s", channels, exc)
            return False
    _deliver_locally(channels, data)
    return True


def _deliver_locally(channels: list[str], data: str) -> None:
    with _local_lock:
        listeners = list(_local_listeners)
    for channel in channels:
        for listener in listeners:
            try:
                listener(channel, data)
            except Exception:  # a broken listener never breaks the caller
                logger.exception("bus local listener failed channel=%s", channel)
