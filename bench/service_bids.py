"""The database path alone: K threads race `bid_place` (the real service) on hot auctions.

No WebSocket, no fan-out: this measures what one process can commit through the service layer,
and how many statements it runs while the auction row is locked.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nbbench REDIS_URL=redis://127.0.0.1:6379/0 \\
    SECRET_KEY=x DEBUG=0 LOG_LEVEL=WARNING .venv/bin/python bench/service_bids.py --threads 8 --seconds 10

It prints the auction row lock's hold per accepted bid (issue 19 #4), the sum over every write
and locking transaction, conflicts and refusals under the lock included, divided by the accepted
bids: for the compare-and-set write, from the moment PostgreSQL granted the auction row (a
`clock_timestamp()` the bench adds to the statement, taken just above its `FOR UPDATE`, and
recorded through a one-row insert into an unlogged side table by the same statement) to the
moment its reply was back in this process, so the hold without the wait for the lock, from
above (it includes the reply's trip and this thread's wake-up; the server's and this process's
clocks are the same clock only when PostgreSQL runs on this machine, as here); for a locked
transaction, from the moment the `SELECT … FOR UPDATE` of the auction returns to the commit, or
to the end of a refused call. Beside it `cas_round_trip_ms_per_accepted`: the compare-and-set
statements' whole round trips, waits for the lock included (the figure printed as the hold
before 2026-12-06 17:20 UTC). `--no-hold-probe` runs the statements unchanged (no side-table
insert under the lock) and prints only the round trips. How many compare-and-set writes
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
import re
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


PROBE_TABLE = "bench_lock_hold"
# The compare-and-set statement's first CTE (auctions/services/bid_writes.py): the auction row,
# locked only if unchanged.
_CAS_AUCTION = re.compile(r"^WITH cas_auction AS \((SELECT id FROM .+? FOR UPDATE)\), ")
_MAIN_SELECT = " SELECT (SELECT ok FROM cas_ok), "


def with_hold_probe(sql: str, params: list, token: str) -> tuple[str, list]:
    """The compare-and-set statement, also recording when PostgreSQL granted it the auction row.

    The lock is taken by the `FOR UPDATE` subquery; `clock_timestamp()` in the select above it
    is evaluated once the row comes out of it, that is once the lock is held (a subquery with
    FOR UPDATE is never flattened into its parent). A statement that found the auction changed
    returns no row there, so it locked nothing and records nothing. The insert reads that one
    materialised row, so when the insert itself runs does not matter. It adds one unlogged
    one-row insert under the lock: the hold it measures is, if anything, longer than without."""
    match = _CAS_AUCTION.match(sql)
    main = sql.rfind(_MAIN_SELECT)
    if match is None or main < 0:
        raise RuntimeError("the compare-and-set statement changed shape: update bench/service_bids.py")
    placeholder = f"${len(params) + 1}" if "$1" in sql else "%s"  # server-side binding or not
    granted = "extract(epoch FROM clock_timestamp()) AS nb_locked_at"
    probed = (
        f"WITH cas_auction AS (SELECT l.id, {granted} FROM ({match.group(1)}) l), "
        + sql[match.end() : main]
        + f", nb_hold AS (INSERT INTO {PROBE_TABLE} (token, locked_at) "
        + f"SELECT {placeholder}, nb_locked_at FROM cas_auction)"
        + sql[main:]
    )
    return probed, [*params, token]


# nb_bid_decide (migrations auctions 0019, 0020): its auction row lock, and the probed form's record of
# the grant, keyed by the bid's request id (unique per bid here); and the end of an accepted
# bid's work inside the function (before its commit), keyed by the request id and ":end".
_DECIDE_LOCK = "SELECT * INTO a FROM auctions_auction WHERE id = p_auction FOR UPDATE;"
_DECIDE_PROBE = (
    f" INSERT INTO {PROBE_TABLE} (token, locked_at) VALUES (p_request, extract(epoch FROM clock_timestamp()))"
    " ON CONFLICT DO NOTHING;"
)
_DECIDE_DONE = "o_outcome := 'accepted';"
_DECIDE_DONE_PROBE = (
    f" INSERT INTO {PROBE_TABLE} (token, locked_at)"
    " VALUES (p_request || ':end', extract(epoch FROM clock_timestamp())) ON CONFLICT DO NOTHING;"
)


def install_decide_probe(cursor) -> str | None:
    """Replace nb_bid_decide by the same function that also records when it was granted the
    auction row (right after its `FOR UPDATE`) and when an accepted bid's work ended, like
    with_hold_probe does for the compare-and-set statement. Returns the function's own text, for
    the caller to put back (the probed one writes to a table that is dropped at the end); None
    when the database has no such function."""
    cursor.execute("SELECT to_regproc('nb_bid_decide') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return None
    # the migration's own text, not the database's: a run killed before it put the function back
    # must not have its probed text taken for the original
    from importlib import import_module

    # (the newest of the migrations that install it which this database has: --no-reset keeps one)
    cursor.execute(
        "SELECT max(name) FROM django_migrations WHERE app = 'auctions'"
        " AND name IN ('0019_bid_decide_function', '0020_bid_decide_queue')"
    )
    text = import_module(f"auctions.migrations.{cursor.fetchone()[0]}").FUNCTION
    cursor.execute(text)
    if text.count(_DECIDE_LOCK) != 1 or text.count(_DECIDE_DONE) != 1:
        raise RuntimeError("nb_bid_decide changed shape: update bench/service_bids.py")
    cursor.execute(
        text.replace(_DECIDE_LOCK, _DECIDE_LOCK + _DECIDE_PROBE).replace(
            _DECIDE_DONE, _DECIDE_DONE + _DECIDE_DONE_PROBE
        )
    )
    return text


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
    parser.add_argument(
        "--no-decide",
        action="store_true",
        help="no bid decided inside PostgreSQL (bidding.SQL_DECIDE off): the compare-and-set path alone",
    )
    parser.add_argument("--pgbench-seconds", type=float, default=5, help="0: skip the pgbench ceiling")
    parser.add_argument(
        "--no-hold-probe",
        action="store_true",
        help="run the compare-and-set statement unchanged (no lock-grant timestamp; round trips only)",
    )
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
    if args.no_decide:
        bidding.SQL_DECIDE = False
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

    held = [0.0] * args.threads  # seconds the auction row was locked by each thread's locked transactions
    round_trips = [0.0] * args.threads  # seconds of each thread's compare-and-set statements, waits included
    replied: dict[str, float] = {}  # probe token -> wall clock when the statement's reply was back
    probe = not args.no_hold_probe
    unprobed = None  # nb_bid_decide's own text, put back after the run
    if probe:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {PROBE_TABLE}")
            cursor.execute(f"CREATE UNLOGGED TABLE {PROBE_TABLE} (token text PRIMARY KEY, locked_at float8 NOT NULL)")
            unprobed = install_decide_probe(cursor)
    cas_writes = [0] * args.threads  # compare-and-set statements (accepted or conflicted)
    decide_calls = [0] * args.threads  # nb_bid_decide calls (accepted, refused or handed back)
    decide_round_trips = [0.0] * args.threads  # seconds of those calls, waits for the lock included
    locked_paths = [0] * args.threads  # locked transactions (CAS_ATTEMPTS conflicts, or CAS off)
    lock_table = "auctions_auction"  # quoted (ORM) or not (auctions.locks.auction_row_lock)

    def bidder(i: int) -> None:
        auction = auctions[i % len(auctions)]
        price = 1_000
        turn = 1 if i == 0 else 0  # bidders[0] leads after the warm-up bid above
        lock = {"at": None, "committed": None}

        def committed() -> None:
            lock["committed"] = time.perf_counter()

        def timing(execute, sql, params, many, context):
            if sql.startswith("SELECT * FROM nb_bid_decide(") and not connection.in_atomic_block:
                # the bid decided inside PostgreSQL: one call, its row locks inside it
                started = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    if probe:
                        replied[params[3]] = time.time()  # the request id: the probe's token
                    decide_round_trips[i] += time.perf_counter() - started
                    decide_calls[i] += 1
            if sql.startswith("WITH cas_auction") and not connection.in_atomic_block:
                # the compare-and-set write (issue 19): in autocommit, the row locks live inside
                # this one statement; its round trip includes any wait for the lock
                token = None
                if probe:
                    token = uuid.uuid4().hex
                    sql, params = with_hold_probe(sql, list(params), token)
                started = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    if token is not None:
                        replied[token] = time.time()
                    round_trips[i] += time.perf_counter() - started
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
                who = bidders[2 * i + turn % 2]
                lock["at"] = lock["committed"] = None
                try:
                    result = bid_place(auction_id=auction.pk, actor=who, amount=price, request_id=uuid.uuid4().hex)
                    accepted[i] += 1
                    price = result.state["min_next_bid"]
                    if result.leading:
                        turn += 1  # the pair's other bidder outbids them next
                except DomainError as exc:
                    with errors_lock:
                        errors[exc.code] += 1
                    price = exc.details.get("min_next_bid", price)
                if lock["at"] is not None:
                    held[i] += (lock["committed"] or time.perf_counter()) - lock["at"]
        connections.close_all()

    threads = [threading.Thread(target=bidder, args=(i,)) for i in range(args.threads)]
    stop_at[0] = time.monotonic() + args.seconds + 0.5
    try:
        for thread in threads:
            thread.start()
        started = time.monotonic()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        if unprobed is not None:  # (with --no-reset this may be a database others use)
            with connection.cursor() as cursor:
                cursor.execute(unprobed)
    total = sum(accepted)
    per_accepted = 1000 / total if total else float("nan")
    hold = ""
    if probe:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT token, locked_at FROM {PROBE_TABLE}")
            granted = cursor.fetchall()
            cursor.execute(f"DROP TABLE {PROBE_TABLE}")
        # a statement that found the auction changed locked nothing and left no row
        holds = [replied[token] - locked_at for token, locked_at in granted if token in replied]
        if holds and min(holds) < 0:
            print("WARNING: a lock granted after its reply came back: the clocks differ", file=sys.stderr)
        locked_s = sum(holds) + sum(held)
        # inside nb_bid_decide, from the grant to the end of an accepted bid's writes (its commit
        # and reply not included: the hold from below, where the figure above is from above)
        ends = {token.removesuffix(":end"): at for token, at in granted if token.endswith(":end")}
        inside = [ends[token] - at for token, at in granted if token in ends]
        hold = (
            f"lock_hold_ms_per_accepted={locked_s * per_accepted:.2f} "
            f"lock_busy_share={locked_s / elapsed / args.auctions:.2f} locks_granted={len(holds)} "
            f"in_server_hold_ms_per_accepted_there={1000 * sum(inside) / len(inside) if inside else 0:.2f} "
        )
    line = (
        f"threads={args.threads} auctions={args.auctions} cas_attempts={bidding.CAS_ATTEMPTS} "
        f"seconds={elapsed:.1f} accepted={total} "
        f"accepted_per_s={total / elapsed:.0f} refused={dict(errors)} statements_per_bid={statements} {hold}"
        f"cas_round_trip_ms_per_accepted={sum(round_trips) * per_accepted:.2f} "
        f"locked_transaction_hold_ms_per_accepted={sum(held) * per_accepted:.2f} "
        f"cas_writes={sum(cas_writes)} locked_transactions={sum(locked_paths)} "
        f"decided_in_server={sum(decide_calls)} "
        f"decide_round_trip_ms_per_accepted={sum(decide_round_trips) * per_accepted:.2f} "
        f"sql_decide={bidding.SQL_DECIDE}"
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
