"""The writes that happen once per auction: how long buy-now, settlement and a trade's release
hold their row, beside a contested bid's call (issue 19 #1: "the same treatment for buy-now,
settlement and the trade's release where it pays").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nbbench REDIS_URL=redis://127.0.0.1:6379/0 \\
    SECRET_KEY=x DEBUG=0 LOG_LEVEL=WARNING .venv/bin/python bench/once_holds.py --auctions 200

One thread, one call at a time, through the real services. --auctions national auctions get a
leader and then an outbid (two bids: the bid's figures), then half end by 즉시구매
(`auction_buy_now`, which releases the leader's hold and opens the trade), the other half are
made due and settled (`auction_settle`, as the worker does), and each settled auction's trade is
shipped and confirmed by its buyer (`trade_confirm`, 구매확정: the escrow released to the seller).

For each kind it prints the row's hold: from the moment the `SELECT … FOR UPDATE` of the
auction (buy-now, settlement) or of the trade (the release) returned to the moment its COMMIT
returned, from above (it includes this thread's own work and round trips under the lock); the
statements run while it was held; and the whole call. For the bids, the call of
`nb_bid_decide` (one statement in autocommit: every row lock it takes lives inside it).

What a bid can wait for: buy-now holds the auction's row while it is open, so a bid that arrives
meanwhile waits at most that hold, once in the auction's life (every bid after it is refused).
Settlement holds the row after the end, when every bid is refused anyway. A release holds the
trade and the two wallets; a bid waits on it only if the buyer or the seller bids elsewhere at
that moment.

The URL map is loaded first, as the worker (auctions.worker.url_map_load) and a web process have
it; --cold leaves it to the first release, which then builds it under its locks (the max).

It creates (and drops at the start) the database named in DATABASE_URL unless --no-reset, so
point it at a scratch database, never at real data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "neighborbid.settings")

from service_bids import reset_database  # noqa: E402

START = 10_000
BUY_NOW = 200_000


class Held:
    """Times one service call and the row it locks: the first `FOR UPDATE` of `table` inside a
    transaction starts the hold, the COMMIT's return (an on_commit callback registered at the
    grant, so it runs first) ends it."""

    def __init__(self, connection, table: str) -> None:
        self.connection, self.table = connection, f'"{table}"'
        self.holds: list[float] = []
        self.calls: list[float] = []
        self.statements: list[int] = []
        self._at: float | None = None
        self._count = 0

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if self._at is not None:
            self._count += 1
        elif "FOR UPDATE" in sql and self.table in sql and self.connection.in_atomic_block:
            self._at = time.perf_counter()
            self._count = 0
            self.connection.on_commit(self._committed)
        return result

    def _committed(self) -> None:
        if self._at is not None:
            self.holds.append(time.perf_counter() - self._at)
            self.statements.append(self._count)
            self._at = None

    def run(self, call):
        self._at = None
        started = time.perf_counter()
        with self.connection.execute_wrapper(self):
            result = call()
        self.calls.append(time.perf_counter() - started)
        if self._at is not None:
            raise RuntimeError("a lock was taken and never committed: the service changed shape")
        return result


class Decided:
    """Times each `nb_bid_decide` call (the whole bid, its row locks inside it)."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.calls: list[float] = []

    def __call__(self, execute, sql, params, many, context):
        if not sql.startswith("SELECT * FROM nb_bid_decide(") or self.connection.in_atomic_block:
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.calls.append(time.perf_counter() - started)


def summary(kind: str, held: list[float], calls: list[float], statements: list[int] | None) -> str:
    def ms(values: list[float], q: float) -> str:
        ordered = sorted(values)
        return f"{1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.2f}"

    line = f"kind={kind} n={len(calls)}"
    if held:
        line += f" hold_ms_p50={ms(held, 0.5)} hold_ms_p95={ms(held, 0.95)} hold_ms_max={ms(held, 1.0)}"
    if statements:
        line += f" statements_under_lock={statistics.median(statements):g}"
    return line + f" call_ms_p50={ms(calls, 0.5)} call_ms_p95={ms(calls, 0.95)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--auctions", type=int, default=200, help="auctions (half bought now, half settled)")
    parser.add_argument("--no-reset", action="store_true", help="keep the database (no drop/migrate)")
    parser.add_argument(
        "--cold", action="store_true", help="leave the URL map unloaded: the first release builds it under its locks"
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("DATABASE_URL must point at a scratch PostgreSQL database")
    if args.auctions < 2:
        sys.exit("--auctions must be at least 2 (half are bought now, half settled)")
    if not args.no_reset:
        reset_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from accounts.services import user_create
    from auctions.models import Auction
    from auctions.services import auction_buy_now, auction_create, auction_settle, bid_place
    from auctions.worker import url_map_load
    from trades.models import Trade
    from trades.services import trade_confirm, trade_mark_shipped
    from wallets.services import wallet_deposit

    if not args.cold:
        url_map_load()  # as the worker and a web process have it before their first release
    tag = uuid.uuid4().hex[:6]
    seller = user_create(username=f"seller-{tag}", password=None, nickname="판매자")
    first, second, buyer = (
        user_create(username=f"{who}-{tag}", password=None, nickname=who) for who in ("first", "second", "buyer")
    )
    for user in (first, second, buyer):
        for _ in range(args.auctions * BUY_NOW // 10_000_000 + 1):
            wallet_deposit(actor=user, amount=10_000_000)

    auctions = [
        auction_create(
            actor=seller,
            title=f"once {n}",
            start_price=START,
            buy_now_price=BUY_NOW,
            duration=timedelta(hours=2),
            is_national=True,
            soft_close_window_s=0,
        )
        for n in range(args.auctions)
    ]

    decided = Decided(connection)
    bids: list[float] = []
    with connection.execute_wrapper(decided):
        for auction in auctions:
            amount = START
            for who in (first, second):  # a leader, then an outbid: the contested bid's writes
                started = time.perf_counter()
                result = bid_place(auction_id=auction.pk, actor=who, amount=amount, request_id=uuid.uuid4().hex)
                bids.append(time.perf_counter() - started)
                amount = result.state["min_next_bid"]

    half = args.auctions // 2
    bought = Held(connection, "auctions_auction")
    for auction in auctions[:half]:
        bought.run(partial(auction_buy_now, auction_id=auction.pk, actor=buyer, request_id=uuid.uuid4().hex))

    due = [auction.pk for auction in auctions[half:]]
    # made due here (a bench's shortcut for two hours passing), then settled as the worker does
    now = timezone.now()
    Auction.objects.filter(pk__in=due).update(starts_at=now - timedelta(hours=2), ends_at=now - timedelta(seconds=1))
    settled = Held(connection, "auctions_auction")
    for auction_id in due:
        if settled.run(partial(auction_settle, auction_id=auction_id)) is None:
            raise RuntimeError(f"auction {auction_id} was not settled")

    released = Held(connection, "trades_trade")
    for trade in Trade.objects.filter(auction_id__in=due).select_related("buyer").order_by("pk"):
        trade_mark_shipped(trade_id=trade.pk, actor=seller, carrier="우체국택배", tracking_number=f"{trade.pk:012d}")
        released.run(partial(trade_confirm, trade_id=trade.pk, actor=trade.buyer))

    if not (len(bought.holds) == half and len(settled.holds) == len(due) == len(released.holds)):
        raise RuntimeError("a call took no lock: the service changed shape, update bench/once_holds.py")
    print(summary("bid", [], bids, None) + f" nb_bid_decide_ms_p50={1000 * statistics.median(decided.calls):.2f}")
    print(summary("buy_now", bought.holds, bought.calls, bought.statements))
    print(summary("settle", settled.holds, settled.calls, settled.statements))
    print(summary("release", released.holds, released.calls, released.statements))


if __name__ == "__main__":
    main()
