"""Who has a chat room open on a live socket right now (issue 22: no chat push to a neighbour
whose open page already shows the message).

Each chat socket holds a token in a Redis sorted set per (room, user), scored with the moment
it expires; the socket refreshes it every REFRESH_S while open and removes it when it closes.
A socket that dies without closing (a killed server) expires after TTL_S. The push sender asks
`presence_in_room` at send time. Without Redis (the embedded default: one process, the sender a
thread of it) the same bookkeeping lives in this process. Never raises: if Redis cannot be
asked, the room counts as closed (a push too many beats a message missed).
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from neighborbid import bus

logger = logging.getLogger("neighborbid.realtime")

TTL_S = 90.0
REFRESH_S = 30.0

_local: dict[tuple[int, int], dict[str, float]] = {}
_local_lock = threading.Lock()


def _key(room_id: int, user_id: int) -> str:
    return f"{bus.channel_prefix()}:presence:room:{room_id}:{user_id}"


def presence_enter(*, room_id: int, user_id: int, token: str, now: float | None = None) -> None:
    """This socket shows the room (also the periodic refresh)."""
    now = time.time() if now is None else now
    if not settings.REDIS_URL:
        with _local_lock:
            _local.setdefault((room_id, user_id), {})[token] = now + TTL_S
        return
    try:
        pipe = bus.redis_client().pipeline(transaction=False)
        key = _key(room_id, user_id)
        pipe.zadd(key, {token: now + TTL_S})
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.expire(key, int(TTL_S) + 1)
        pipe.execute()
    except Exception as exc:
        logger.warning("presence: enter failed room=%s user=%s: %r", room_id, user_id, exc)


def presence_leave(*, room_id: int, user_id: int, token: str) -> None:
    if not settings.REDIS_URL:
        with _local_lock:
            tokens = _local.get((room_id, user_id))
            if tokens is not None:
                tokens.pop(token, None)
                if not tokens:
                    del _local[(room_id, user_id)]
        return
    try:
        bus.redis_client().zrem(_key(room_id, user_id), token)
    except Exception as exc:
        logger.warning("presence: leave failed room=%s user=%s: %r", room_id, user_id, exc)


def presence_in_room(*, room_id: int, user_id: int, now: float | None = None) -> bool:
    """Has this user the room open on a live socket (any tab, any server)?"""
    now = time.time() if now is None else now
    if not settings.REDIS_URL:
        with _local_lock:
            return any(expires > now for expires in _local.get((room_id, user_id), {}).values())
    try:
        return bool(bus.redis_client().zcount(_key(room_id, user_id), now, "+inf"))
    except Exception as exc:
        logger.warning("presence: check failed room=%s user=%s: %r", room_id, user_id, exc)
        return False
