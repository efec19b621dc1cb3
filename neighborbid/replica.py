"""Reads from a PostgreSQL standby; writes, locks and money on the primary (issue 23 item 2).

Only with DATABASE_REPLICA_URL (settings: DATABASES["replica"], this router, StandbyWriteMiddleware).
Without it nothing here runs: the router and the middleware are not installed, and `standby_reads`
calls the view as it is.

The rule (docs/operations.md "Reads from a standby"):

- Reads go to the standby only inside an explicit read-only scope: `@standby_reads` on the public
  read-only pages (the lists and search, an auction's page with its price chart, the bid history,
  public profiles) and `standby_read(fn, ...)` in the matching API GETs. Everything else reads the
  primary: every service (its reads run inside `transaction.atomic()` on the primary, and a read in
  an atomic block is never routed away), every `select_for_update` (Django routes it as a write),
  the worker, the WebSocket snapshot and money path, the admin. `db_for_write` is always the primary.
- The choice is made once per request, as the scope opens, so one page never mixes the two servers:
  the standby is used when (a) it is in recovery, answered its last check, and lags at most
  MAX_LAG_S, and (b) the user has no write the standby has not replayed yet.
- Read-your-writes: after a user's write (an unsafe HTTP request by a signed-in user, or a bid or
  buy-now over the socket) `pg_current_wal_lsn()` of the primary is remembered for the user (Redis,
  shared by every process, PENDING_TTL_S; an in-process dict without REDIS_URL). Their scoped reads
  go to the primary until the standby's `pg_last_wal_replay_lsn()` has passed it. If the pending
  LSN cannot be read (Redis away), the read goes to the primary: the safe side.
- The standby's replay position and lag are asked at most once per CHECK_S per process (one query,
  not one per read). A failed check, or a read that fails on the standby, marks it down for DOWN_S
  in this process; the failed GET is answered again from the primary, once. A dead or lagging
  standby therefore costs a slower page at worst, never an error page.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

logger = logging.getLogger("neighborbid.replica")

PRIMARY = DEFAULT_DB_ALIAS
REPLICA = "replica"
HEADER = "X-NB-Reads"  # "standby" or "primary" on a scoped response: which server answered its reads
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
DEFAULTS = {"MAX_LAG_S": 5.0, "CHECK_S": 0.15, "DOWN_S": 5.0, "PENDING_TTL_S": 30, "TIMEOUT_S": 1.0}

T = TypeVar("T")


def option(name: str) -> float:
    return float(getattr(settings, "STANDBY_READS", {}).get(name, DEFAULTS[name]))


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


# --- the LSN ----------------------------------------------------------------------------------


def lsn_to_int(text: str) -> int:
    """'16/B374D848' -> a comparable integer (PostgreSQL's pg_lsn, two 32-bit halves in hex)."""
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


# --- the standby's state, per process ---------------------------------------------------------


@dataclass
class StandbyState:
    checked_at: float = float("-inf")
    usable: bool = False  # in recovery and answering
    replay_lsn: int = 0
    lag_s: float = float("inf")
    down_until: float = 0.0


_state = StandbyState()
# One thread of the process asks the standby at a time (the fields are plain assignments: readers
# need no lock, and a reader seeing the previous answer is fine).
_checking = threading.Lock()

# Lag: 0 when the standby streams and has replayed all it received (an idle primary writes nothing,
# so the age of the last replayed transaction would say "lagging" about a standby that is not);
# otherwise the age of the last replayed transaction, an upper bound of how stale its data can be.
STATE_SQL = """
SELECT pg_is_in_recovery(),
       pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                 AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
            THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, 1e9)
       END
"""


def mark_down(reason: BaseException | str) -> None:
    """No standby reads in this process for DOWN_S (a failed check or a failed read)."""
    _state.down_until = time.monotonic() + option("DOWN_S")
    _state.usable = False
    logger.warning("standby reads off for %.0f s: %s", option("DOWN_S"), reason)
    try:  # give the broken connection back (the pool drops it), so the next try starts clean
        connections[REPLICA].close()
    except Exception as exc:  # closing a dead connection may fail too; nothing more to do
        logger.debug("closing the standby connection failed: %s", exc)


def standby_state() -> StandbyState:
    """The standby's state, asked at most once per CHECK_S by this process. While one thread asks,
    the others use the previous answer instead of queueing behind a slow standby."""
    now = time.monotonic()
    if now < _state.down_until or now - _state.checked_at < option("CHECK_S"):
        return _state
    if not _checking.acquire(blocking=False):
        return _state
    try:
        if time.monotonic() - _state.checked_at < option("CHECK_S"):
            return _state
        try:
            with connections[REPLICA].cursor() as cursor:
                cursor.execute(STATE_SQL)
                in_recovery, replay, lag = cursor.fetchone()
        except (OperationalError, InterfaceError) as exc:
            _state.checked_at = time.monotonic()
            mark_down(exc)
            return _state
        # A promoted standby (not in recovery) follows nobody: its data may be behind the
        # primary's forever, so it is not read from until it is made a standby again.
        _state.usable = bool(in_recovery) and replay is not None
        _state.replay_lsn = lsn_to_int(replay) if replay else 0
        _state.lag_s = float(lag)
        _state.checked_at = time.monotonic()
        return _state
    finally:
        _checking.release()


# --- each user's last write -------------------------------------------------------------------

# KEYS[1] the user's key; ARGV: lsn, ttl. Keeps the highest LSN: two processes recording two writes
# of one user in the other order must not let the older one win.
REMEMBER_LUA = """
local old = tonumber(redis.call('GET', KEYS[1]))
local new = tonumber(ARGV[1])
if old == nil or old < new then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""

_local_pending: dict[int, tuple[int, float]] = {}  # user id -> (lsn, expires at, monotonic)
_local_lock = threading.Lock()
_LOCAL_MAX = 100_000


def _pending_key(user_id: int) -> str:
    return f"{getattr(settings, 'BUS_PREFIX', 'nb')}:standby:lsn:{user_id}"


def _remember(user_id: int, lsn: int) -> None:
    ttl = int(option("PENDING_TTL_S"))
    if settings.REDIS_URL:
        from neighborbid.bus import redis_client

        redis_client().eval(REMEMBER_LUA, 1, _pending_key(user_id), str(lsn), str(ttl))
        return
    now = time.monotonic()
    with _local_lock:
        old = _local_pending.get(user_id)
        if old is None or old[1] < now or old[0] < lsn:
            _local_pending[user_id] = (lsn, now + ttl)
        if len(_local_pending) > _LOCAL_MAX:
            for key in [key for key, (_, until) in _local_pending.items() if until < now]:
                del _local_pending[key]


def pending_write_lsn(user_id: int) -> int | None:
    """The LSN of the user's last write the standby may not have replayed (None: none remembered).
    Raises when it cannot be known (Redis away): the caller reads the primary."""
    if settings.REDIS_URL:
        from neighborbid.bus import redis_client

        value = redis_client().get(_pending_key(user_id))
        return int(value) if value is not None else None
    with _local_lock:
        entry = _local_pending.get(user_id)
    if entry is None or entry[1] < time.monotonic():
        return None
    return entry[0]


def note_write(user_id: int | None) -> None:
    """Remember the primary's WAL position after `user_id`'s write committed, so that user's next
    scoped reads wait for the standby to replay it. Called after the commit (the position is taken
    now, so it is at or past the write's commit record). Never raises: a failure is logged, and the
    user's reads fall back on the lag bound and the remembered TTL of their earlier writes."""
    if user_id is None or not replica_configured():
        return
    try:
        with connections[PRIMARY].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            (lsn,) = cursor.fetchone()
        _remember(user_id, lsn_to_int(lsn))
    except Exception as exc:  # a write already answered must not turn into an error here
        logger.warning("could not remember user %s's write position: %s: %s", user_id, type(exc).__name__, exc)


# --- the scope and the router -----------------------------------------------------------------


@dataclass
class _Scope:
    use_standby: bool
    used: bool = False


_scope: ContextVar[_Scope | None] = ContextVar("neighborbid_standby_scope", default=None)


def _may_use_standby(user_id: int | None) -> bool:
    state = standby_state()
    if not state.usable or time.monotonic() < state.down_until or state.lag_s > option("MAX_LAG_S"):
        return False
    if user_id is None:
        return True
    try:
        pending = pending_write_lsn(user_id)
    except Exception as exc:  # Redis away: this user's last write is unknown, read the primary
        logger.warning("standby reads: pending write of user %s unknown: %s", user_id, exc)
        return False
    return pending is None or state.replay_lsn >= pending


def _user_id(request: Any) -> int | None:
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def _run_scoped(
    method: str, user_id: int | None, fn: Callable[..., T], args: tuple, kwargs: dict
) -> tuple[T, _Scope | None]:
    if not replica_configured() or method not in SAFE_METHODS:
        return fn(*args, **kwargs), None
    scope = _Scope(use_standby=_may_use_standby(user_id))
    token = _scope.set(scope)
    try:
        return fn(*args, **kwargs), scope
    except (OperationalError, InterfaceError) as exc:
        if not scope.used:
            raise
        # The standby failed under this read (stopped, restarted, a recovery conflict): answer
        # again from the primary, once. The primary's own failure is the usual 503.
        mark_down(exc)
        scope.use_standby = scope.used = False
    finally:
        _scope.reset(token)
    token = _scope.set(scope)
    try:
        return fn(*args, **kwargs), scope
    finally:
        _scope.reset(token)


def standby_reads(view: Callable[..., Any]) -> Callable[..., Any]:
    """A read-only view whose reads may come from the standby (the module's rule)."""

    @functools.wraps(view)
    def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
        # request.user is loaded here, before the scope: from the primary
        response, scope = _run_scoped(request.method, _user_id(request), view, (request, *args), kwargs)
        if scope is not None:
            response[HEADER] = "standby" if scope.used else "primary"
        return response

    return wrapper


def standby_read(request: Any, user: Any, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in the read-only scope, for `user` (None: anonymous). For the API's
    GETs: django-ninja reads a view's signature and annotations, which a wrapper defined here would
    hide, and an app's caller is known by its token (api.auth.optional_user), not request.user."""
    user_id = user.pk if user is not None and user.is_authenticated else None
    return _run_scoped(request.method, user_id, fn, args, kwargs)[0]


class ReplicaRouter:
    """DATABASE_ROUTERS when DATABASES has "replica". Explicit answers only (never None): Django
    would otherwise send a read through an object's own `_state.db`, so a related lookup on an
    object read from the standby would follow it there outside the scope."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        scope = _scope.get()
        if scope is None or not scope.use_standby or connections[PRIMARY].in_atomic_block:
            return PRIMARY
        scope.used = True
        return REPLICA

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the same database, one of its copies

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == PRIMARY


# --- where writes are noticed -----------------------------------------------------------------


class StandbyWriteMiddleware:
    """After an unsafe request by a signed-in user (a form post, an API call; the login itself:
    the user is known by the time the response goes back), remember the primary's WAL position
    for the user. Every write of a request has committed by then (a service's transaction
    commits before it returns), and this runs before the response reaches the browser, so the
    redirect's GET already knows. A 5xx is skipped: nothing committed, and the primary may be away.

    Installed by settings only with a replica. One query and one Redis call per such request."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        from asgiref.sync import iscoroutinefunction, markcoroutinefunction

        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self.__acall__(request)
        response = self.get_response(request)
        if request.method not in SAFE_METHODS and response.status_code < 500:
            note_write(_user_id(request))
        return response

    async def __acall__(self, request: Any) -> Any:
        from asgiref.sync import sync_to_async
        from django.contrib.auth.base_user import AbstractBaseUser

        response = await self.get_response(request)
        if request.method not in SAFE_METHODS and response.status_code < 500:
            # An app's device token (api/auth.py) puts its user on request.user; otherwise it is
            # the session's lazy user, loaded the async way (request.auser() knows only the session)
            user = request.__dict__.get("user")
            if not isinstance(user, AbstractBaseUser):
                user = await request.auser()
            if user.is_authenticated:
                await sync_to_async(note_write)(user.pk)
        return response
