"""The settlement worker's loop body: open what is due, settle what has ended, warn watchers,
release (or refund) trades whose deadline has come, and bring busy auctions' list sort keys
up to their price.

Each auction is handled by its own service call (its own transaction, SKIP LOCKED), so several
workers can run side by side and every auction is settled exactly once.

The loop survives faults (issue 9, item 6):
- a lost database connection (pg_terminate_backend, a failover, a restart): every read and every
  service call is guarded; after an error this thread's connection goes back to the pool (which
  discards a broken one and checks the next one out healthy, neighborbid/settings.py), and when
  the due-lists cannot even be read the loop backs off (interval × 2ⁿ, at most
  MAX_BACKOFF_SECONDS) and tries again;
- an exception that is not a database error (a bug, bad data in one auction): it is logged with
  the auction's id, that auction is held back for a while (HOLD_BACK_SECONDS, doubling), and the
  others are settled as usual. One bad auction never stops a worker.

`worker_loop` is shared by `manage.py run_worker` and by the embedded server (auctions/embedded.py,
the no-REDIS_URL default, where the server process runs the loop in a thread)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from auctions import selectors, services

logger = logging.getLogger("neighborbid.worker")

MAX_BACKOFF_SECONDS = 30.0
HOLD_BACK_SECONDS = 10.0
MAX_HOLD_BACK_SECONDS = 600.0


@dataclass
class WorkerPass:
    opened: int = 0
    settled: int = 0
    warned: int = 0
    trades: int = 0
    resorted: int = 0  # auctions whose list sort keys caught up (auction_sort_keys_refresh)
    errors: int = 0
    read_failed: bool = False  # a due-list could not be read (the database is away): back off

    @property
    def busy(self) -> bool:
        return bool(self.opened or self.settled or self.warned or self.errors)


# What is held back: an auction's id, or ("trade", a trade's id).
HoldKey = int | tuple[str, int]


@dataclass
class WorkerState:
    """What one worker remembers between passes: auctions and trades held back after a
    non-database error."""

    held_back: dict[HoldKey, tuple[float, float]] = field(default_factory=dict)  # key -> (until, last delay)

    def is_held_back(self, key: HoldKey, now: float) -> bool:
        entry = self.held_back.get(key)
        return entry is not None and entry[0] > now

    def hold_back(self, key: HoldKey, now: float) -> float:
        last = self.held_back.get(key, (0.0, HOLD_BACK_SECONDS / 2))[1]
        delay = min(last * 2, MAX_HOLD_BACK_SECONDS)
        self.held_back[key] = (now + delay, delay)
        return delay

    def succeeded(self, key: HoldKey) -> None:
        self.held_back.pop(key, None)


def worker_run_once(*, batch: int = 100, state: WorkerState | None = None) -> WorkerPass:
    state = state if state is not None else WorkerState()
    result = WorkerPass()
    minutes = settings.NEIGHBORBID["ENDING_SOON_MINUTES"]
    phases = (
        ("open", lambda: selectors.auctions_due_to_open(limit=batch), services.auction_open),
        ("settle", lambda: selectors.auctions_due_to_settle(limit=batch), services.auction_settle),
        (
            "warn",
            lambda: selectors.auctions_ending_soon_unnotified(minutes=minutes, limit=batch),
            services.auction_notify_ending_soon,
        ),
    )
    for name, read, service in phases:
        try:
            auction_ids = read()
        except Exception:
            result.errors += 1
            result.read_failed = True
            logger.exception("worker: reading the auctions due to %s failed", name)
            close_old_connections()
            continue
        for auction_id in auction_ids:
            if state.is_held_back(auction_id, time.monotonic()):
                continue
            outcome = _safely(service, auction_id, result, state)
            if name == "open":
                result.opened += outcome is not None
            elif name == "settle":
                result.settled += outcome is not None
            else:
                result.warned += bool(outcome)
    result.trades += _trades_step(result, batch=batch, state=state)
    try:
        result.resorted = services.auction_sort_keys_refresh()
    except Exception:
        result.errors += 1
        logger.exception("worker: refreshing the lists' sort keys failed")
        close_old_connections()
    return result


def _trades_step(result: WorkerPass, *, batch: int, state: WorkerState) -> int:
    """Trades whose deadline has come: completed or refunded, one transaction each (SKIP LOCKED).
    One trade that fails for a reason other than the database is held back as an auction is;
    the trades after it go on."""
    from trades.selectors import trades_due_for_release
    from trades.services import trade_auto_release

    try:
        trade_ids = trades_due_for_release(limit=batch)
    except Exception:
        result.errors += 1
        result.read_failed = True
        logger.exception("worker: reading the trades due for release failed")
        close_old_connections()
        return 0
    done = 0
    for trade_id in trade_ids:
        key = ("trade", trade_id)
        if state.is_held_back(key, time.monotonic()):
            continue
        done += _safely(trade_auto_release, key, result, state, trade_id=trade_id) is not None
    return done


def _named(key: HoldKey) -> str:
    return f"trade {key[1]}" if isinstance(key, tuple) else f"auction {key}"


def _safely(service, key: HoldKey, result: WorkerPass, state: WorkerState, **kwargs):
    try:
        outcome = service(**kwargs) if kwargs else service(auction_id=key)
    except DatabaseError:
        # A lock timeout or a lost connection: leave it for the next pass, on a fresh connection.
        result.errors += 1
        logger.exception("worker: %s failed for %s (database); retried next pass", service.__name__, _named(key))
        close_old_connections()
        return None
    except Exception:
        # Not the database: a bug or bad data in this one auction. Hold it back, go on with the others.
        result.errors += 1
        delay = state.hold_back(key, time.monotonic())
        logger.exception(
            "worker: %s failed for %s; held back for %.0fs, the others go on",
            service.__name__,
            _named(key),
            delay,
        )
        close_old_connections()
        return None
    state.succeeded(key)
    return outcome


def demo_top_up() -> None:
    """The demo's listings again where they ended (seed_demo is idempotent: it re-creates only
    the titles that are no longer live, and tops up the demo wallets). Never raises."""
    import io

    from django.core.management import call_command

    try:
        call_command("seed_demo", stdout=io.StringIO())
    except Exception:
        logger.exception("worker: the demo top-up failed")
    finally:
        close_old_connections()


def url_map_load() -> None:
    """Load the URL map (every urls.py and the views they import) before the first pass, as a
    web process does at its first request. A trade's release builds its review link with
    reverse() while it holds the trade's row and both wallets, and a process's first reverse()
    imports every view: about 300 ms with those locks held (bench/once_holds.py). Never raises."""
    from django.urls import get_resolver

    try:
        get_resolver().reverse_dict  # noqa: B018 (the property builds the map)
    except Exception:  # a view that fails to import fails its page, never the worker
        logger.exception("worker: the URL map could not be loaded")


def worker_loop(
    *,
    interval: float,
    should_stop: Callable[[], bool],
    once: bool = False,
    report: Callable[[WorkerPass], None] | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> None:
    """Run passes until should_stop() says so. Never raises for a fault in a pass: it logs,
    backs off while the database is unreachable, and goes on. `sleep` may be an Event's wait
    (returns early when the event is set)."""
    url_map_load()
    state = WorkerState()
    failures = 0
    top_up_every = float(settings.NEIGHBORBID.get("DEMO_TOP_UP_SECONDS", 0))
    next_top_up = time.monotonic() + top_up_every
    while True:
        if top_up_every > 0 and time.monotonic() >= next_top_up:
            next_top_up = time.monotonic() + top_up_every
            demo_top_up()
        try:
            result = worker_run_once(state=state)
        except Exception:  # defensive: worker_run_once guards everything it calls
            logger.exception("worker: pass failed")
            result = WorkerPass(errors=1, read_failed=True)
        if report is not None and result.busy:
            report(result)
        if once or should_stop():
            break
        if result.read_failed:
            failures += 1
            delay = min(interval * 2**failures, MAX_BACKOFF_SECONDS)
            logger.warning("worker: database unavailable, backing off %.1fs (attempt %s)", delay, failures)
        else:
            failures = 0
            delay = interval
        sleep(delay)
        if should_stop():
            break
        try:
            close_old_connections()  # drop a connection the database closed while we slept
        except Exception:
            logger.exception("worker: closing old connections failed")
