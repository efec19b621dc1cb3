"""The database path alone: K threads race `bid_place` (the real service) on hot auctions.

No WebSocket, no fan-out: this measures what one process can commit through the service layer,
and how many statements it runs while the auction row is locked.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nbbench REDIS_URL=redis://127.0.0.1:6379/0 \\
    SECRET_KEY=x DEBUG=0 LOG_LEVEL=WARNING .venv/bin/python bench/service_bids.py --threads 8 --seconds 10

It prints the auction row lock's hold per accepted bid (issue 19 #4: for the compare-and-set
write, the whole round trip of its one autocommit statement, an upper bound; for a locked
transaction, from the moment the `SELECT … FOR UPDATE` of the auction returns to the commit, or
to the end of a refused call; the sum over every write and locking transaction, conflicts and
refusals under the lock included, divided by the accepted bids), how many compare-and-set writes
and locked transactions ran (their difference from `accepted` is the conflicts) and, beside it,
the pgbench ceiling of the same statements in the same window (--pgbench-seconds; 0 skips it).
`--cas-attempts 0` runs the locked transaction alone (the path before issue 19), for a
before/after in one window.

It creates (and drops at the start) the database named in DATABASE_URL, so point it at a
scratch database, never at real data. Bidders race for the minimum next bid, learning the price
from their own results and errors, so most bids lose a race (bid_too_low), as in a real drop.
The listing has a description of --description-chars characters (250 by default; runs before
2026-12-06 had none): every accepted bid re-enters the auction's row into its text indexes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "neighborbid.settings")


# A listing as people write them: what the auction row's text indexes take in on every bid.
LISTING = "이사 가게 되어 급하게 내놓아요. 생활 기스 조금 있고 작동은 잘 돼요. 직거래만 가능하고 동네에서 만나요. "


def reset_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    host = ["-h", parsed.hostname] if parsed.hostname else []
    user = ["-U", parsed.username] if parsed.username else []
    for sql in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", *host, *user, "-qc", sql, "postgres"], check=True, capture_output=True)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--auctions", type=int, default=1, help="spread the bidders over this many auctions")
    parser.add_argument("--no-reset", action="store_true", help="keep the database (no drop/migrate)")
    parser.add_argument(
        "--cas-attempts", type=int, default=None, help="compare-and-set attempts before the lock (0: locked only)"
    )
    parser.add_argument("--pgbench-seconds", type=float, default=5, help="0: skip the pgbench ceiling")
    parser.add_argument(
        "--description-chars",
        type=int,
        default=250,
        help="the listing's description, this many characters (a bid's row update re-indexes it; 0: empty)",
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("DATABASE_URL must point at a scratch PostgreSQL database")
    if not args.no_reset:
        reset_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.db import connection, connections, transaction

    from accounts.services import user_create
    from auctions.services import auction_create, bid_place, bidding
    from neighborbid.errors import DomainError
    from wallets.services import wallet_deposit

    if args.cas_attempts is not None:
        bidding.CAS_ATTEMPTS = args.cas_attempts
    tag = uuid.uuid4().hex[:6]
    seller = user_create(username=f"seller-{tag}", password=None, nickname="판매자")
    bidders = []
    # two bidders per thread, taking turns: a leader's own bid only raises their maximum (max
    # bidding), so each thread's bids alternate to keep moving the price
    for i in range(2 * args.threads):
        user = user_create(username=f"bidder-{tag}-{i}", password=None, nickname=f"입찰자{i}")
        for _ in range(50):
            wallet_deposit(actor=user, amount=10_000_000)
        bidders.append(user)
    auctions = [
        auction_create(
            actor=seller,
            title=f"hot {n}",
            description=(LISTING * (args.description_chars // len(LISTING) + 1))[: args.description_chars],
            start_price=1_000,
            duration=timedelta(hours=2),
            is_national=True,
            soft_close_window_s=0,
        )
        for n in range(args.auctions)
    ]

    # statements per accepted bid, counted on one sequential bid
    executed = []
    with connection.execute_wrapper(lambda execute, sql, *a: executed.append(sql) or execute(sql, *a)):
        bid_place(auction_id=auctions[0].pk, actor=bidders[0], amount=1_000, request_id=uuid.uuid4().hex)
    statements = len(executed)

    accepted = [0] * args.threads
    errors: Counter[str] = Counter()
    errors_lock = threading.Lock()
    barrier = threading.Barrier(args.threads)
    stop_at = [0.0]

    held = [0.0] * args.threads  # seconds the auction row was locked by each thread's transactions
    cas_writes = [0] * args.threads  # compare-and-set statements (accepted or conflicted)
    locked_paths = [0] * args.threads  # locked transactions (CAS_ATTEMPTS conflicts, or CAS off)
    lock_table = "auctions_auction"  # quoted (ORM) or not (auctions.locks.auction_row_lock)

    def bidder(i: int) -> None:
        auction = auctions[i % len(auctions)]
        price = 1_000
        turn = 0
        lock = {"at": None, "committed": None}

        def committed() -> None:
            lock["committed"] = time.perf_counter()

        def timing(execute, sql, params, many, context):
            if sql.startswith("WITH cas_auction") and not connection.in_atomic_block:
                # the compare-and-set write (issue 19): in autocommit, the row locks live inside
                # this one statement, so its round trip bounds the hold from above
                started = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    held[i] += time.perf_counter() - started
                    cas_writes[i] += 1
            result = execute(sql, params, many, context)
            if lock["at"] is None and "FOR UPDATE" in sql and lock_table in sql and connection.in_atomic_block:
                lock["at"] = time.perf_counter()
                locked_paths[i] += 1
                transaction.on_commit(committed)  # registered first: runs first after COMMIT
            return result

        barrier.wait()
        with connection.execute_wrapper(timing):
            while time.monotonic() < stop_at[0]:
                turn += 1
                who = bidders[2 * i + turn % 2]
                lock["at"] = lock["committed"] = None
                try:
                    result = bid_place(auction_id=auction.pk, actor=who, amount=price, request_id=uuid.uuid4().hex)
                    accepted[i] += 1
                    price = result.state["min_next_bid"]
                except DomainError as exc:
                    with errors_lock:
                        errors[exc.code] += 1
                    price = exc.details.get("min_next_bid", price)
                if lock["at"] is not None:
                    held[i] += (lock["committed"] or time.perf_counter()) - lock["at"]
        connections.close_all()

    threads = [threading.Thread(target=bidder, args=(i,)) for i in range(args.threads)]
    stop_at[0] = time.monotonic() + args.seconds + 0.5
    for thread in threads:
        thread.start()
    started = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    total = sum(accepted)
    hold_ms = sum(held) / total * 1000 if total else float("nan")
    line = (
        f"threads={args.threads} auctions={args.auctions} cas_attempts={bidding.CAS_ATTEMPTS} "
        f"seconds={elapsed:.1f} accepted={total} "
        f"accepted_per_s={total / elapsed:.0f} refused={dict(errors)} statements_per_bid={statements} "
        f"lock_hold_ms_per_accepted={hold_ms:.2f} lock_busy_share={sum(held) / elapsed / args.auctions:.2f} "
        f"cas_writes={sum(cas_writes)} locked_transactions={sum(locked_paths)}"
    )
    if args.pgbench_seconds > 0:
        sys.path.insert(0, str(ROOT / "bench"))
        from pgbench_ceiling import pgbench_ceiling

        script = "pgbench_bid5.sql" if args.auctions == 1 else "pgbench_spread1.sql"
        ceiling = pgbench_ceiling(os.environ["DATABASE_URL"], script, args.pgbench_seconds)
        tps = ceiling.get("tps")
        ratio = f"{total / elapsed / tps:.3f}" if tps else "n/a"
        line += f" pgbench({script})={tps} tps ratio={ratio}"
    print(line)


if __name__ == "__main__":
    main()
