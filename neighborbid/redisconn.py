"""Every Redis client of the app is made here, from REDIS_URL (issue 23: Redis that fails over).

Two forms of REDIS_URL:

- ``redis://[:password@]host:port/db`` — one Redis (what the tests, `make run` with Redis and the
  compose file use);
- ``redis+sentinel://[:password@]host:port,host:port,.../service[/db]`` — Redis behind Sentinel:
  the clients ask the sentinels for the current primary of ``service`` (redis-py's ``Sentinel``)
  and ask again when a connection to it breaks or finds a read-only replica, so after a failover
  the next call reaches the promoted replica without a restart. The password (if any) is the
  data nodes' password; the sentinels are asked without one.

The same target serves the bus publisher (neighborbid.bus), the hub's subscription
(realtime.subscription), the channel layer (settings.channel_layers → channels-redis's
SentinelConnectionPool), rate limits, lockouts, presence and the health probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True)
class RedisTarget:
    url: str
    sentinels: tuple[tuple[str, int], ...] = ()  # empty: a plain redis:// URL
    service: str = ""
    db: int = 0
    password: str | None = None

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)


def redis_target(url: str) -> RedisTarget:
    """Parse REDIS_URL. A malformed sentinel URL is a configuration error, said at startup."""
    parsed = urlparse(url)
    if parsed.scheme != SENTINEL_SCHEME:
        return RedisTarget(url=url)
    netloc = parsed.netloc
    password = None
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        password = unquote(auth.split(":", 1)[1] if ":" in auth else auth) or None
    sentinels = []
    for part in netloc.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ImproperlyConfigured(f"REDIS_URL: a sentinel needs host:port, got {part!r}")
        sentinels.append((host.strip("[]"), int(port)))
    path = [piece for piece in parsed.path.split("/") if piece]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ImproperlyConfigured(
            "REDIS_URL: redis+sentinel://host:port,host:port/<service>[/<db>] (the service is the "
            "name the sentinels monitor)"
        )
    return RedisTarget(
        url=url,
        sentinels=tuple(sentinels),
        service=path[0],
        db=int(path[1]) if len(path) == 2 else 0,
        password=password,
    )


def _sentinel_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The sentinels are asked with the same timeouts as the data connections."""
    return {key: kwargs[key] for key in ("socket_timeout", "socket_connect_timeout") if kwargs.get(key) is not None}


def sync_client(url: str, **kwargs: Any) -> Any:
    """A redis.Redis for REDIS_URL (kwargs: the connection pool's options)."""
    import redis
    from redis.sentinel import Sentinel

    target = redis_target(url)
    if not target.uses_sentinel:
        return redis.Redis.from_url(url, **kwargs)
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(kwargs))
    return sentinel.master_for(
        target.service, redis_class=redis.Redis, db=target.db, password=target.password, **kwargs
    )


def async_client(url: str, *, blocking: bool = False, **kwargs: Any) -> Any:
    """A redis.asyncio.Redis for REDIS_URL. `blocking`: a plain Redis gets a BlockingConnectionPool
    (a burst waits for a free connection instead of failing); behind Sentinel the managed pool is
    used either way (redis-py has no blocking sentinel pool)."""
    import redis.asyncio as aioredis
    from redis.asyncio.sentinel import Sentinel

    target = redis_target(url)
    if not target.uses_sentinel:
        if blocking:
            return aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(url, **kwargs))
        return aioredis.Redis.from_url(url, **kwargs)
    kwargs.pop("timeout", None)  # the blocking pool's wait; not an option of the sentinel pool
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(kwargs))
    return sentinel.master_for(
        target.service, redis_class=aioredis.Redis, db=target.db, password=target.password, **kwargs
    )


def channel_layer_host(url: str, **kwargs: Any) -> dict[str, Any]:
    """One `hosts` entry of channels-redis for REDIS_URL (channels_redis.utils.create_pool reads
    "address", or "master_name" + "sentinels")."""
    target = redis_target(url)
    if not target.uses_sentinel:
        return {"address": url, **kwargs}
    host: dict[str, Any] = {
        "master_name": target.service,
        "sentinels": [list(pair) for pair in target.sentinels],
        "sentinel_kwargs": _sentinel_kwargs(kwargs),
        "db": target.db,
        **kwargs,
    }
    if target.password:
        host["password"] = target.password
    return host
