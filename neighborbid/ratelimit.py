"""Token-bucket rate limits, kept in Redis (shared by every server process), with an
in-process fallback when no REDIS_URL is set (the embedded dev default).

`rate_limit_check(key=..., rate=..., burst=...)` raises RateLimited when the bucket is empty
(one Redis EVAL per call: for views). If Redis is unreachable the check fails open (and logs):
a rate limit protects capacity, not money, and a Redis outage must not stop bids from committing.

`rate_limit_take_local(key=..., rate=..., burst=...)` is the same bucket without a round trip
(for the WebSocket door, on the event loop): each process keeps a local token bucket per key
and a background thread reconciles it with the Redis bucket every SYNC_S (0.25 s) in one EVAL
for all keys used since: the process reports what it took, Redis refills and subtracts
(debts carried down to -burst) and answers the shared level, which becomes the local level.

The bound, for a user spread over P processes: every process starts a key with a full local
bucket and refills it at `rate` between syncs, so within a sync interval the user gets at most
(P - 1) x burst + P x rate x SYNC_S more than one shared bucket would allow; the debt is then
recorded in Redis and paid back, so over time the rate stays `rate`. With P = 1 the local
bucket is exact. Without Redis (or while it is down) each process limits on its own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING

from django.conf import settings

from neighborbid.errors import RateLimited

if TYPE_CHECKING:
    import redis

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

        from neighborbid.redisconn import async_client

        loop = asyncio.get_running_loop()
        client = _async_clients.get(loop)
        if client is None:
            # A blocking pool: a burst waits (up to the socket timeout) for a free connection
            # instead of raising MaxConnectionsError (redis-py 8 caps async pools at 100).
            client = async_client(
                settings.REDIS_URL,
                blocking=True,
                max_connections=200,
                timeout=settings.REDIS_SOCKET_TIMEOUT,
                socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
                socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            )
            _async_clients[loop] = client
        result = await client.eval(TOKEN_BUCKET_LUA, 1, _key(key), rate, burst, cost, now)
        return bool(result)
    except Exception as exc:
        logger.warning("rate limit check failed open key=%s error=%s", key, exc)
        return True


SYNC_S = 0.25
# KEYS: bucket keys; ARGV[1] now (s); then per key: rate, burst, used. Returns the levels (strings).
TOKEN_SYNC_LUA = """
local now = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 + (i - 1) * 3])
  local burst = tonumber(ARGV[3 + (i - 1) * 3])
  local used = tonumber(ARGV[4 + (i - 1) * 3])
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil then tokens = burst; ts = now end
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  tokens = math.max(-burst, tokens - used)
  redis.call('HSET', key, 'tokens', tokens, 'ts', now)
  redis.call('EXPIRE', key, math.ceil(2 * burst / rate) + 1)
  out[i] = tostring(tokens)
end
return out
"""  # noqa: S105 (a Lua script, not a password: "TOKEN" in the name)


class _LocalBucket:
    __slots__ = ("rate", "burst", "tokens", "ts", "used")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.ts, self.used = rate, burst, burst, now, 0


class LocalLimiter:
    """One process's local buckets and their reconciliation with Redis (see the module doc).
    `sync()` is called by a daemon thread every SYNC_S; tests call it directly."""

    def __init__(self, redis_url: str | None = None, *, interval: float = SYNC_S) -> None:
        self.redis_url = redis_url
        self.interval = interval
        self.buckets: dict[str, _LocalBucket] = {}
        self.dirty: set[str] = set()  # used (or created) since the last sync
        self.lock = threading.Lock()
        self._client: redis.Redis | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._failing = False

    def take(self, key: str, rate: float, burst: float, cost: int = 1) -> bool:
        now = time.monotonic()
        with self.lock:
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = self.buckets[key] = _LocalBucket(rate, burst, now)
            else:
                bucket.rate, bucket.burst = rate, burst
                bucket.tokens = min(burst, bucket.tokens + (now - bucket.ts) * rate)
                bucket.ts = now
            allowed = bucket.tokens >= cost
            if allowed:
                bucket.tokens -= cost
                bucket.used += cost
            self.dirty.add(key)
        if self.redis_url and self._pid != os.getpid():
            self._start()
        return allowed

    def _start(self) -> None:
        with self.lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._client = None
            self._thread = threading.Thread(target=self._run, name="ratelimit-sync", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.sync()
            except Exception:  # never let the syncer die
                logger.exception("rate limit sync failed")

    def sync(self) -> None:
        """Report what this process took since the last sync and adopt the shared levels."""
        now = time.monotonic()
        with self.lock:
            keys = list(self.dirty)
            self.dirty.clear()
            report = []
            for key in keys:
                bucket = self.buckets[key]
                report.append((key, bucket.rate, bucket.burst, bucket.used))
                bucket.used = 0
            for key in [
                k for k, b in self.buckets.items() if k not in self.dirty and now - b.ts > 2 * b.burst / b.rate + 1
            ]:
                del self.buckets[key]  # idle long enough to be full again: forget it
        if not report or not self.redis_url:
            return
        args: list = [time.time()]
        for _key_name, rate, burst, used in report:
            args += [max(rate, 1e-6), burst, used]
        try:
            if self._client is None:
                from neighborbid.redisconn import sync_client

                self._client = sync_client(
                    self.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=30
                )
            levels = self._client.eval(TOKEN_SYNC_LUA, len(report), *[_key(k) for k, *_ in report], *args)
        except Exception as exc:
            if not self._failing:
                logger.warning("rate limit sync failed, limiting per process until Redis is back: %s", exc)
            self._failing = True
            return
        if self._failing:
            logger.info("rate limit sync restored")
            self._failing = False
        now = time.monotonic()
        with self.lock:
            for (key, *_), level in zip(report, levels, strict=True):
                kept = self.buckets.get(key)
                if kept is not None:
                    # the shared level, minus what was taken here since the report
                    kept.tokens = min(kept.burst, float(level) - kept.used)
                    kept.ts = now


_limiter: LocalLimiter | None = None
_limiter_lock = threading.Lock()


def _local_limiter() -> LocalLimiter:
    global _limiter
    url = settings.REDIS_URL or None
    if _limiter is None or _limiter.redis_url != url:
        with _limiter_lock:
            if _limiter is None or _limiter.redis_url != url:
                _limiter = LocalLimiter(url)
    return _limiter


def rate_limit_take_local(*, key: str, rate: float, burst: int, cost: int = 1) -> bool:
    """Take `cost` tokens from the bucket `key` without a Redis round trip (True: allowed).
    Safe on an event loop: a dict lookup under a lock, never I/O; the bucket is reconciled
    with the shared one in Redis every SYNC_S by a background thread (bound: module doc)."""
    return _local_limiter().take(key, rate, burst, cost)


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
