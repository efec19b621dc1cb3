"""Retry an idempotent database read once when its connection turned out to be dead.

After PostgreSQL sessions are terminated (pg_terminate_backend, a failover, a restart) the pool
checks connections out healthy (`check` in neighborbid/settings.py), but a connection can still
die between the check and the query. A read that hits a *broken connection* (the connection no
longer answers, not a lock or statement timeout) outside any transaction is repeated once on a
fresh connection from the pool. Writes are never retried here (services have their own
idempotency: request ids), and nothing is retried inside `transaction.atomic()`.

    from neighborbid.dbretry import read_with_retry, retrying
    state = read_with_retry(load_public_state, auction_id)
    loader = retrying(load_public_state)      # the same, as a wrapper
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

logger = logging.getLogger("neighborbid.db")

T = TypeVar("T")
CONNECTION_ERRORS = (OperationalError, InterfaceError)


def connection_broken(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """True when this thread's connection no longer works (a lost session, not a timeout)."""
    connection = connections[alias]
    if connection.connection is None:
        return True
    try:
        return not connection.is_usable()
    except Exception:
        return True


def read_with_retry(fn: Callable[..., T], /, *args, alias: str = DEFAULT_DB_ALIAS, **kwargs) -> T:
    try:
        return fn(*args, **kwargs)
    except CONNECTION_ERRORS as exc:
        connection = connections[alias]
        if connection.in_atomic_block or not connection_broken(alias):
            raise
        logger.warning("db read retried on a fresh connection: %s: %s", type(exc).__name__, exc)
        connection.close()  # back to the pool, which discards a broken connection
        return fn(*args, **kwargs)


def retrying(fn: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return read_with_retry(fn, *args, **kwargs)

    return wrapper
