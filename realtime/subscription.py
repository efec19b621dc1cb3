"""The hub's ear: one Redis pattern subscription per server process (or, without REDIS_URL,
the in-process bus), reconnected with backoff, and the routing of each auction message to its
feed (realtime.hub.Hub mixes this in). Personal and chat messages come through the Channels
layer (realtime.layer), not here.

When the subscription drops (Redis down or restarted) it reconnects and then reloads the
state of every locally watched auction from the database (Hub.refresh_all) and tells chat
sockets to resync, so sockets catch up without anyone restarting anything."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any

from django.conf import settings

from realtime import redis_layer
from realtime.config import realtime_setting

logger = logging.getLogger("neighborbid.realtime")


class BusSubscriber:
    """Mixed into realtime.hub.Hub, whose state (feeds, chat_users, auction_prefix, loop,
    connected) and handlers (_on_auction_event, refresh_all, _chat_resync_all) it uses."""

    loop: asyncio.AbstractEventLoop
    auction_prefix: str
    feeds: dict[int, Any]
    chat_users: dict[int, Any]
    connected: asyncio.Event
    _closed: bool
    _subscribes: int
    _refresh_task: Any
    _lost_at = float("-inf")  # loop time the subscription was last lost

    def _on_auction_event(self, auction_id: int, event: dict, text: str) -> None:
        raise NotImplementedError

    def _chat_resync_all(self) -> None:
        raise NotImplementedError

    async def refresh_all(self) -> None:
        raise NotImplementedError

    # --- incoming events -----------------------------------------------------------------

    def _local_listener(self, channel: str, data: str) -> None:
        """bus listener (no REDIS_URL): called on whatever thread committed."""
        try:
            self.loop.call_soon_threadsafe(self.on_message, channel, data)
        except RuntimeError:  # the loop is closed
            pass

    def on_message(self, channel, data) -> None:
        if isinstance(channel, bytes):
            channel = channel.decode()
        if channel.startswith(self.auction_prefix):
            try:
                auction_id = int(channel[len(self.auction_prefix) :])
            except ValueError:
                return
            if auction_id not in self.feeds:
                return  # nobody in this process watches it: drop before parsing
            event = self._decode(data)
            if event is not None:
                self._on_auction_event(auction_id, event, data if isinstance(data, str) else data.decode())

    async def _caught_up(self, *, lost_at: float | None) -> None:
        """After (re)subscribing: whatever was published while we were away is lost, on the bus
        and on the channel layer (the same Redis). Subscribe the layer again first, then tell
        the chat sockets to resync and reload every watched auction from the database."""
        if lost_at is not None:
            await redis_layer.restore(lost_at=lost_at)
        if self.chat_users:
            self._chat_resync_all()
        if self.feeds:
            await self.refresh_all()

    @staticmethod
    def _decode(data) -> dict | None:
        try:
            event = json.loads(data)
        except ValueError:
            logger.warning("realtime: undecodable bus message dropped")
            return None
        return event if isinstance(event, dict) else None

    # --- the Redis subscription ----------------------------------------------------------

    async def _subscribe_forever(self) -> None:
        from neighborbid.redisconn import async_client

        backoff = realtime_setting("RECONNECT_MIN_S", 0.1)
        backoff_max = realtime_setting("RECONNECT_MAX_S", 5.0)
        timeout = max(float(getattr(settings, "REDIS_SOCKET_TIMEOUT", 1.0)), 0.5)
        patterns = [self.auction_prefix + "*"]
        while not self._closed:
            client = None
            try:
                # A dedicated client: one connection, no read timeout (a subscriber waits by
                # design); liveness comes from our own PING below.
                client = async_client(
                    settings.REDIS_URL,
                    socket_connect_timeout=timeout,
                    socket_keepalive=True,
                    max_connections=2,
                )
                pubsub = client.pubsub()
                await asyncio.wait_for(pubsub.psubscribe(*patterns), timeout)
                confirmed = 0
                while confirmed < len(patterns):
                    message = await asyncio.wait_for(pubsub.get_message(timeout=timeout), timeout * 2)
                    if message is None:
                        raise ConnectionError("no psubscribe confirmation")
                    if message["type"] == "psubscribe":
                        confirmed += 1
                self._subscribes += 1
                if self._subscribes > 1:
                    logger.info("realtime: bus subscription restored")
                self.connected.set()
                backoff = realtime_setting("RECONNECT_MIN_S", 0.1)
                if self._subscribes > 1 or self.feeds or self.chat_users:
                    self._refresh_task = self.loop.create_task(
                        self._caught_up(lost_at=self._lost_at if self._subscribes > 1 else None)
                    )
                await self._pump(pubsub, timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connected.is_set():
                    self._lost_at = self.loop.time()
                if self.connected.is_set() or self._subscribes == 0:
                    logger.warning("realtime: bus subscription lost: %s", exc)
            finally:
                self.connected.clear()
                if client is not None:
                    try:
                        await asyncio.wait_for(client.aclose(), timeout)
                    except BaseException as exc:  # noqa: B036 - best effort, also on cancel
                        logger.debug("closing subscriber failed: %s", exc)
            if self._closed:
                break
            await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311 (reconnect jitter, not a secret)
            backoff = min(backoff * 2, backoff_max)

    async def _pump(self, pubsub, timeout: float) -> None:  # noqa: ASYNC109 (how long a ping may go unanswered)
        idle_ping = realtime_setting("PING_IDLE_S", 5.0)
        last_rx = self.loop.time()
        ping_sent: float | None = None
        while not self._closed:
            message = await pubsub.get_message(timeout=1.0)
            now = self.loop.time()
            if message is None:
                if ping_sent is not None and now - ping_sent > idle_ping + timeout:
                    raise ConnectionError("bus subscription did not answer a ping")
                if ping_sent is None and now - last_rx > idle_ping:
                    await asyncio.wait_for(pubsub.ping(), timeout)
                    ping_sent = now
                continue
            last_rx = now
            ping_sent = None
            if message["type"] == "pmessage":
                try:
                    self.on_message(message["channel"], message["data"])
                except Exception:
                    logger.exception("realtime: handling a bus message failed")
