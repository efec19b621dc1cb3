"""Real threads on PostgreSQL: every thread waits at a barrier, then runs, then closes its own
database connections (Django connections are per thread)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connections


@dataclass
class Outcome:
    value: object = None
    error: BaseException | None = None
    started: float = 0.0  # time.monotonic() as the task began (after the barrier)
    finished: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def run_concurrently(tasks: list[Callable[[], object]], *, timeout: float = 120) -> list[Outcome]:
    barrier = threading.Barrier(len(tasks))
    outcomes = [Outcome() for _ in tasks]

    def run(index: int, task: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[index].started = time.monotonic()
            outcomes[index].value = task()
        except BaseException as exc:  # collected and asserted on by the test
            outcomes[index].error = exc
        finally:
            outcomes[index].finished = time.monotonic()
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, t), daemon=True) for i, t in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racing thread hung (deadlock or lock wait?)"
    return outcomes


@pytest.fixture
def concurrently():
    return run_concurrently


def overlapped(outcomes: list[Outcome]) -> bool:
    """Did every task run at the same time as every other (each began before any ended)? A
    race whose threads ran one after the other proved nothing: the tests count the rounds that
    overlapped and run more until enough did."""
    return max(o.started for o in outcomes) < min(o.finished for o in outcomes)


# nb_bid_decide's row locks (migrations auctions 0019, 0020), as the teeth tests take them out.
_DECIDE_LOCKS = {
    "auction": "WHERE id = p_auction FOR UPDATE",
    "wallets": "ORDER BY w.id FOR UPDATE",
}
# the auction's queue (0020), which orders the function's own callers before its row lock: taken
# out with the auction's lock, or the callers would still be ordered and the teeth bite nothing
_DECIDE_QUEUE = "PERFORM pg_advisory_xact_lock(p_auction);"


@pytest.fixture
def decide_without():
    """`decide_without("auction" | "wallets")`: nb_bid_decide, the bid decided inside
    PostgreSQL, replaced for this test by the same function with that row lock taken out (a
    plain read); the real one is put back afterwards. For the teeth tests: a race that stays
    green without the lock proves nothing."""
    originals: list[str] = []

    def take_out(lock: str) -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_get_functiondef('nb_bid_decide'::regproc)")
            original = cursor.fetchone()[0]
            assert _DECIDE_LOCKS[lock] in original, "the lock to take out is not in the function"
            changed = original.replace(_DECIDE_LOCKS[lock], _DECIDE_LOCKS[lock].removesuffix(" FOR UPDATE"))
            if lock == "auction":
                assert changed.count(_DECIDE_QUEUE) == 1, "the queue to take out is not in the function"
                changed = changed.replace(_DECIDE_QUEUE, "-- (the queue taken out)")
            cursor.execute(changed)
        originals.append(original)

    yield take_out
    if originals:
        with connections["default"].cursor() as cursor:
            cursor.execute(originals[0])
