"""Django's PostgreSQL backend with the pool's health check only where it can matter (issue 19 #2).

Django hands psycopg-pool `check=ConnectionPool.check_connection` when CONN_HEALTH_CHECKS is on:
one empty round trip every time a connection leaves the pool. A socket's bid, an HTTP request
and the worker each take a connection per call, so on the hot path that is one more round trip
per bid for a connection that was in use a few milliseconds ago. Here the check runs only for a
connection that sat in the pool longer than `health_check_idle_s` (settings.DATABASES OPTIONS
"pool", env DB_HEALTH_CHECK_IDLE_S, default 2 s), or whose socket has something to read (a
terminated session: the server sends its FATAL and closes; seen with a poll that does not wait).
So a server restart, a failover or pg_terminate_backend still never reaches a request through a
pooled connection, and a connection used milliseconds ago costs no round trip.

ENGINE = "neighborbid.db" (neighborbid.settings.database_from_url).
"""

from __future__ import annotations

import select
from datetime import UTC
from time import monotonic
from typing import Any

from django.db.backends.postgresql import base

DEFAULT_IDLE_S = 2.0


def _returned(conn: Any) -> None:
    """The pool's `reset` callback: runs as a connection goes back into the pool."""
    conn._neighborbid_idle_since = monotonic()


def _check_if_idle(idle_s: float) -> Any:
    from psycopg_pool import ConnectionPool

    def check(conn: Any) -> None:
        since = getattr(conn, "_neighborbid_idle_since", None)
        if since is not None and monotonic() - since < idle_s and not _server_spoke(conn):
            return
        ConnectionPool.check_connection(conn)

    return check


def _server_spoke(conn: Any) -> bool:
    """Did anything arrive on an idle connection's socket (a FATAL before the server closes a
    terminated session, or the close itself)? A poll with no wait: no round trip. Then the
    real check decides."""
    try:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except Exception:  # a closed connection has no socket: let the real check fail it
        return True
    return bool(readable)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if self.timezone is UTC and "context" in params:
            # Django's adapters template (cached per time zone): the same map extended once
            context = params["context"]
            fast = _FAST_CONTEXTS.get(id(context))
            if fast is None or fast[0] is not context:
                fast = _FAST_CONTEXTS[id(context)] = (context, _with_fast_utc_loader(context))
            params["context"] = fast[1]
        return params

    @property
    def pool(self) -> Any:
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        idle_s = DEFAULT_IDLE_S
        if isinstance(pool_options, dict) and "health_check_idle_s" in pool_options:
            # Not a psycopg-pool argument: taken out before Django builds the pool.
            pool_options = dict(pool_options)
            idle_s = float(pool_options.pop("health_check_idle_s"))
            self.settings_dict["OPTIONS"]["pool"] = pool_options
        created = self.alias not in self._connection_pools  # type: ignore[attr-defined]  # Django's pool registry
        pool = super().pool
        if pool is not None and created and self.settings_dict["CONN_HEALTH_CHECKS"]:
            # psycopg-pool keeps its check callable here; Django passes the always-check one.
            # tests/neighborbid/test_db_pool.py fails if either side changes shape.
            pool._check = _check_if_idle(idle_s)
            pool._reset = _returned
        return pool


def _utc_loader_class() -> Any:
    """A `timestamptz` loader whose `load` is psycopg's own (the C one with psycopg[binary]).

    Django registers a Python subclass of psycopg's pure-Python loader that parses the text,
    then replaces the tzinfo with the connection's time zone: 7 % of a bid's GIL time in
    bench/service_bids.py with four threads (py-spy --gil). With USE_TZ and the session's
    TimeZone at UTC (Django sets it) psycopg's loader gives the same value, an aware datetime
    whose tzinfo is `datetime.timezone.utc` (psycopg._tz maps b"UTC" to it). psycopg's C
    loader cannot be subclassed, so this one hands its bound `load` to each instance (the row
    loader calls it directly, no Python frame per value) and carries the `timezone` that
    Django's create_cursor compares. tests/neighborbid/test_db_loader.py holds both to it."""
    from psycopg import adapt, postgres
    from psycopg.pq import Format

    fast = postgres.adapters.get_loader(base.TIMESTAMPTZ_OID, Format.TEXT)

    class UtcTimestamptzLoader(adapt.Loader):
        timezone = UTC

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self.load = fast(oid, context).load  # type: ignore[method-assign,misc]

        def load(self, data: Any) -> Any:  # replaced per instance
            raise NotImplementedError

    return UtcTimestamptzLoader


_UTC_LOADER: Any = None


def _with_fast_utc_loader(context: Any) -> Any:
    global _UTC_LOADER
    if _UTC_LOADER is None:
        _UTC_LOADER = _utc_loader_class()
    from psycopg import adapt

    ctx = adapt.AdaptersMap(context)
    ctx.register_loader("timestamptz", _UTC_LOADER)
    return ctx


_FAST_CONTEXTS: dict[int, tuple[Any, Any]] = {}  # id(Django's map) -> (that map, ours)
