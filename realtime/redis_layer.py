"""channels-redis's pub/sub layer, made to survive a Redis restart (settings.CHANNEL_LAYERS).

With channels-redis 4.3.0 and redis-py 8, a restart of Redis can leave the layer's receive loop
of a server process running with its subscriptions gone: nothing published to a group reaches
that process's sockets again until it restarts (tests/chat/test_multiprocess.py restarts a
Redis of its own between two Daphne processes and saw exactly that). Here each shard
connection reads the same way, but on any error, or when it finds itself unsubscribed while it
has subscriptions to hold, it drops the connection and subscribes everything again on a new
one, with a capped backoff; and `restore()` does that at once for this loop's layer (the hub
calls it when its own bus subscription comes back: the same Redis was away)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _close_redis, _wrap_close

logger = logging.getLogger("neighborbid.realtime")

RESUBSCRIBE_MIN_S = 0.1
RESUBSCRIBE_MAX_S = 2.0


class _ShardConnection(RedisSingleShardConnection):
    _redis: Any
    _pubsub: Any
    _subscribed_to: set[str]
    _lock: asyncio.Lock

    fresh_since = float("-inf")  # loop time of the last successful (re)subscription

    async def _do_receiving(self) -> None:
        backoff = RESUBSCRIBE_MIN_S
        lost = False
        while True:
            pubsub = self._pubsub
            try:
                if pubsub is not None and pubsub.subscribed:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                    self._receive_message(message)
                elif self._subscribed_to:
                    await self.resubscribe()
                else:
                    await asyncio.sleep(0.1)
                    continue
                if lost:
                    logger.info("channel layer subscription restored")
                    lost = False
                backoff = RESUBSCRIBE_MIN_S
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if pubsub is not None and pubsub is not self._pubsub:
                    continue  # restore() replaced the connection under us: read the new one
                if not lost:
                    logger.warning("channel layer subscription lost: %r", exc)
                    lost = True
                await self.drop_connection()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RESUBSCRIBE_MAX_S)

    async def drop_connection(self) -> None:
        async with self._lock:
            client, self._redis, self._pubsub = self._redis, None, None
        if client is not None:
            try:
                await asyncio.wait_for(_close_redis(client), 1.0)
            except Exception as exc:  # it was broken already
                logger.debug("closing the layer connection failed: %r", exc)

    async def resubscribe(self) -> None:
        async with self._lock:
            self._ensure_redis()
            self._ensure_receiver()
            if self._subscribed_to:
                await self._pubsub.subscribe(*self._subscribed_to)
            self.fresh_since = asyncio.get_running_loop().time()


class _LoopLayer(RedisPubSubLoopLayer):
    _shards: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shards = [_ShardConnection(shard.host, self) for shard in self._shards]


class PubSubChannelLayer(RedisPubSubChannelLayer):
    """RedisPubSubChannelLayer whose subscriptions survive a Redis restart."""

    def _get_layer(self) -> Any:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer


async def restore(*, lost_at: float) -> None:
    """Redis was away since `lost_at` (loop time): drop this loop's layer connections and
    subscribe again, unless a connection already subscribed again since."""
    channel_layer = get_channel_layer()
    if not isinstance(channel_layer, PubSubChannelLayer):
        return
    for shard in channel_layer._get_layer()._shards:
        if isinstance(shard, _ShardConnection) and shard._subscribed_to and shard.fresh_since < lost_at:
            try:
                await shard.drop_connection()
                await shard.resubscribe()
            except Exception as exc:  # the receive loop keeps trying
                logger.warning("channel layer re-subscription failed: %r", exc)
