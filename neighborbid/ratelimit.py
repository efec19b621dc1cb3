"""Token-bucket rate limits, kept in Redis (shared by every server process), with an
in-process fallback when no REDIS_URL is set (the embedded dev default).

`rate_limit_check(key=..., rate=..., burst=...)` raises RateLimited when the bucket is empty.
If Redis is unreachable the check fails open (and logs): a rate limit protects capacity, not
money, and a Redis outage must not stop bids from committing.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

from django.conf import settings

from neighborbid.errors import RateLimited

logger = logging.getLogger("neighborbid.ratelimit")

# KEYS[1] bucket key; ARGV: rate (tokens/s), burst, cost, now (s, float). Returns 1 allowed / 0 refused.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= cost then tokens = tokens - cost; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return allowed
"""  # noqa: S105 (a Lua script, not a password: "TOKEN" in the name)

_local: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()
_script = None
# One async client per event loop, forgotten with its loop (a client is bound to the loop
# that created it; keying by id(loop) could hand a dead loop's client to a new loop).
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _key(key: str) -> str:
    return f"{getattr(settings, 'BUS_PREFIX', 'nb')}:rl:{key}"


def _local_hit(key: str, rate: float, burst: int, cost: int, now: float) -> bool:
    with _local_lock:
        tokens, ts = _local.get(key, (float(burst), now))
        tokens = min(burst, tokens + max(0.0, now - ts) * rate)
        allowed = tokens >= cost
        if allowed:
            tokens -= cost
        _local[key] = (tokens, now)
        return allowed


def rate_limit_hit(*, key: str, rate: float, burst: int, cost: int = 1) -> bool:
    """Take `cost` tokens from the bucket `key`; True when allowed."""
    now = time.time()
    if not settings.REDIS_URL:
        return _local_hit(key, rate, burst, cost, now)
    global _script
    try:
        from neighborbid.bus import redis_client

        if _script is None:
            _script = redis_client().register_script(TOKEN_BUCKET_LUA)
        return bool(_script(keys=[_key(key)], args=[rate, burst, cost, now]))
    except Exception as exc:
        logger.warning("rate limit check failed open key=%s error=%s", key, exc)
        return True


async def rate_limit_hit_async(*, key: str, rate: float, burst: int, cost: int = 1) -> bool:
    """The same bucket from async code (WebSocket consumers), without a thread hop."""
    now = time.time()
    if not settings.REDIS_URL:
        return _local_hit(key, rate, burst, cost, now)
    try:
        import asyncio

        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = _async_clients.get(loop)
        if client is None:
            # A blocking pool: a burst waits (up to the socket timeout) for a free connection
            # instead of raising MaxConnectionsError (redis-py 8 caps async pools at 100).
            pool = aioredis.BlockingConnectionPool.from_url(
                settings.REDIS_URL,
                max_connections=200,
                timeout=settings.REDIS_SOCKET_TIMEOUT,
                socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
                socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            )
            client = aioredis.Redis(connection_pool=pool)
            _async_clients[loop] = client
        result = await client.eval(TOKEN_BUCKET_LUA, 1, _key(key), rate, burst, cost, now)
        return bool(result)
    except Exception as exc:
        logger.warning("rate limit check failed open key=%s error=%s", key, exc)
        return True


def rate_limit_check(*, key: str, rate: float, burst: int, cost: int = 1, message: str | None = None) -> None:
    if not rate_limit_hit(key=key, rate=rate, burst=burst, cost=cost):
        raise RateLimited(message)


class LocalBucket:
    """A tiny in-memory token bucket for one object's own pace (a socket's frames and syncs):
    no locks, no Redis, for state that lives and dies with one connection."""

    __slots__ = ("rate", "burst", "tokens", "ts")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.ts = rate, burst, float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.ts) * self.rate)
        self.ts = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
