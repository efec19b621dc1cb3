"""The Channels layer: per-user and per-room traffic (issue 17 #3).

`CHANNEL_LAYERS` (neighborbid/settings.py) is channels-redis's `RedisPubSubChannelLayer` with
REDIS_URL, and Channels' `InMemoryChannelLayer` without it (the embedded default: one process).
Through it go the small, personal messages: notifications (the wallet and bell badges), the
"re-check your session" signal of a logout, password change or suspension, chat messages and
read marks, and the moderator's closing of a room. The hot auction states go through the hub
(realtime.hub: one Redis subscription per process, coalesced, one frame for all sockets) unless
`REALTIME["FANOUT"] = "channels"`, which sends them through the group `auction.<id>` too (the
benchmark's comparison, docs/benchmarks.md).

Groups (names are ASCII, well under Channels' 100 characters):
    user.<user_id>        every signed-in socket of that user (auction and chat)
    chat.room.<room_id>   both participants' chat sockets of that room
    auction.<auction_id>  every socket of that auction, only with FANOUT = "channels"

A message is `{"type": "<handler>", "event": {...}}`; the event is what the bus carried before
(a dict with its own `type`). Sending never raises: a lost personal message is recovered by the
page's own polling and the chat's resync by `seq`, exactly as a lost bus message was.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from realtime.config import realtime_setting

logger = logging.getLogger("neighborbid.realtime")

USER_EVENT = "user.event"  # handled by LiveConsumer.user_event
ROOM_EVENT = "room.event"  # handled by ChatConsumer.room_event
AUCTION_EVENT = "auction.event"  # handled by AuctionConsumer.auction_event (FANOUT = "channels")

# The loop of this process's server (the last one a socket joined a group on): senders on other
# threads (a money thread, a sync view, the embedded worker) hand their message to it and go on.
_home_loop: asyncio.AbstractEventLoop | None = None


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def room_group(room_id: int) -> str:
    return f"chat.room.{room_id}"


def auction_group(auction_id: int) -> str:
    return f"auction.{auction_id}"


def fanout_mode() -> str:
    """How auction states reach the sockets: "hub" (the default) or "channels"."""
    mode = realtime_setting("FANOUT", "hub")
    return mode if mode in ("hub", "channels") else "hub"


def remember_home_loop() -> None:
    """Called on the server's loop when a socket joins a group."""
    global _home_loop
    _home_loop = asyncio.get_running_loop()


def _log_failure(future: Any) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        logger.warning("channel layer send failed: %r", exc)


async def _group_send(channel_layer: Any, group: str, message: dict[str, Any]) -> None:
    """group_send, tried once more on a broken connection: after Redis restarts, the first
    PUBLISH on a pooled connection fails although Redis is back (seen in
    tests/chat/test_multiprocess.py). A second copy is harmless (chat frames are numbered; a
    notification is shown once per id); a lost one would wait for the next poll."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        await channel_layer.group_send(group, message)
    except (RedisConnectionError, OSError):
        await channel_layer.group_send(group, message)


def group_send(group: str, message: dict[str, Any]) -> bool:
    """Send one message to a group from any thread; never raises, never waits for Redis when a
    server loop runs in this process. Returns False when it could not even be handed over."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None:  # on a loop already (a consumer's own call): a task on it
        running.create_task(_group_send(layer, group, message)).add_done_callback(_log_failure)
        return True
    home = _home_loop
    if home is not None and home.is_running() and not home.is_closed():
        try:
            asyncio.run_coroutine_threadsafe(_group_send(layer, group, message), home).add_done_callback(_log_failure)
            return True
        except RuntimeError:  # the loop closed in between
            pass
    if isinstance(layer, InMemoryChannelLayer):
        return False  # nobody in this process listens: no socket ever joined a group here
    # A process (or a moment) with no server loop: the worker, an HTTP-only server before any
    # socket joined, a command, a benchmark. Hand the message to this process's sender loop and
    # go on (async_to_sync here cost a new thread and loop per message: 16 % of a bid's time in
    # bench/service_bids.py); what is still in flight at exit is waited for, briefly.
    try:
        future = asyncio.run_coroutine_threadsafe(_group_send(layer, group, message), _sender_loop())
    except RuntimeError as exc:  # the interpreter is shutting down
        logger.warning("channel layer send failed group=%s error=%r", group, exc)
        return False
    _in_flight.add(future)
    future.add_done_callback(_in_flight.discard)
    future.add_done_callback(_log_failure)
    return True


_sender: asyncio.AbstractEventLoop | None = None
_sender_lock = threading.Lock()
_in_flight: set[concurrent.futures.Future[None]] = set()


def _sender_loop() -> asyncio.AbstractEventLoop:
    """This process's own loop for group sends from threads when no server loop runs: one
    daemon thread, started on first use (again after a fork)."""
    global _sender, _sender_pid
    with _sender_lock:
        loop = _sender
        if loop is None or loop.is_closed() or _sender_pid != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-layer-sender", daemon=True).start()
            _sender, _sender_pid = loop, os.getpid()
            atexit.register(_drain, timeout=2.0)
        return loop


_sender_pid = 0


def _drain(*, timeout: float) -> None:
    """At exit: let the sends still in flight finish (bounded), so a command's last message
    is not dropped with the daemon thread."""
    pending = list(_in_flight)
    if pending:
        concurrent.futures.wait(pending, timeout=timeout)


def send_event(groups: list[str], event: dict[str, Any], *, handler: str) -> None:
    """One event to several groups (the on-commit callback of realtime.events)."""
    message = {"type": handler, "event": event}
    for group in groups:
        group_send(group, message)


def redis_channel(group: str) -> str:
    """The Redis pub/sub channel that carries a group's messages (RedisPubSubChannelLayer:
    `<prefix>__group__<group>`; the tests listen there to see what left)."""
    from django.conf import settings

    config: Any = settings.CHANNEL_LAYERS["default"].get("CONFIG") or {}
    prefix = config.get("prefix", "asgi")
    return f"{prefix}__group__{group}"
