"""The settlement worker's loop body: open what is due, settle what has ended, warn watchers,
release (or refund) trades whose deadline has come.

Each auction is handled by its own service call (its own transaction, SKIP LOCKED), so several
workers can run side by side and every auction is settled exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError

from auctions import selectors, services

logger = logging.getLogger("neighborbid.worker")


@dataclass
class WorkerPass:
    opened: int = 0
    settled: int = 0
    warned: int = 0
    trades: int = 0
    errors: int = 0


def worker_run_once(*, batch: int = 100) -> WorkerPass:
    result = WorkerPass()
    for auction_id in selectors.auctions_due_to_open(limit=batch):
        result.opened += _safely(services.auction_open, auction_id, result) is not None
    for auction_id in selectors.auctions_due_to_settle(limit=batch):
        result.settled += _safely(services.auction_settle, auction_id, result) is not None
    minutes = settings.NEIGHBORBID["ENDING_SOON_MINUTES"]
    for auction_id in selectors.auctions_ending_soon_unnotified(minutes=minutes, limit=batch):
        result.warned += bool(_safely(services.auction_notify_ending_soon, auction_id, result))
    result.trades += _trades_step(result, batch=batch)
    return result


def _trades_step(result: WorkerPass, *, batch: int) -> int:
    """Trades whose deadline has come: completed or refunded, one transaction each (SKIP LOCKED)."""
    from trades.services import trades_auto_release_due

    try:
        return trades_auto_release_due(limit=batch)
    except DatabaseError:
        result.errors += 1
        logger.exception("worker: trades_auto_release_due failed")
        return 0


def _safely(service, auction_id: int, result: WorkerPass):
    try:
        return service(auction_id=auction_id)
    except DatabaseError:
        # A lock timeout or a lost connection: leave it for the next pass.
        result.errors += 1
        logger.exception("worker: %s failed for auction %s", service.__name__, auction_id)
        return None
