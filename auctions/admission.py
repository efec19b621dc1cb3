"""Admission to a money call: a bound on the bids waiting for one auction, per process
(issue 13, item 4).

A bid waits for the auction's row lock while holding a pooled database connection. Without a
bound, a few hundred simultaneous bids on one hot auction take every connection of the pool
(each waiting its turn for the same lock), and everything else in the process, other auctions'
bids and plain pages, then fails with PoolTimeout. So each process lets at most
BID_WAITERS_PER_AUCTION bid/buy-now calls be in flight for one auction; the next one is refused
at once with `Overloaded` (a ServiceUnavailable: HTTP 503 with Retry-After, the socket's error
frame `overloaded` with `retry_after`), before it touches the database, so it changed nothing
and may be resent with the same request id.

The bound is per process and per auction (a counter under a lock: money calls run on threads).
Default: NEIGHBORBID["BID_WAITERS_PER_AUCTION"] (env BID_WAITERS_PER_AUCTION), else half the
database pool (at least 1), so one hot auction can never take more than half the connections.

    with admission.bid_admitted(auction_id=pk):
        services.bid_place(...)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from neighborbid.errors import Overloaded

logger = logging.getLogger("neighborbid.admission")

_lock = threading.Lock()
_in_flight: dict[int, int] = {}


def waiters_per_auction() -> int:
    configured = settings.NEIGHBORBID.get("BID_WAITERS_PER_AUCTION")
    if configured:
        return max(1, int(configured))
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    pool_max = pool.get("max_size", 20) if isinstance(pool, dict) else 20
    return max(1, int(pool_max) // 2)


def in_flight(auction_id: int) -> int:
    with _lock:
        return _in_flight.get(auction_id, 0)


@contextmanager
def bid_admitted(*, auction_id: int, limit: int | None = None) -> Iterator[None]:
    """Hold one of this auction's waiting places for the call, or raise Overloaded (nothing done).
    `limit`: a caller whose waiters hold no database connection sets its own bound (the socket
    door's line, where one bid of the auction at a time is in a money call: auctions/consumers.py);
    its places still count against everyone else's."""
    if limit is None:
        limit = waiters_per_auction()
    with _lock:
        waiting = _in_flight.get(auction_id, 0)
        if waiting >= limit:
            refused = True
        else:
            refused = False
            _in_flight[auction_id] = waiting + 1
    if refused:
        logger.warning("admission refused auction=%s waiting=%s limit=%s", auction_id, waiting, limit)
        raise Overloaded()
    try:
        yield
    finally:
        with _lock:
            left = _in_flight.get(auction_id, 1) - 1
            if left > 0:
                _in_flight[auction_id] = left
            else:
                _in_flight.pop(auction_id, None)
