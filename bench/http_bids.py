"""HTTP bid POSTs spread over many local auctions, against real Daphne processes (run by hand,
not in CI; a smoke run is in tests/bench/). See docs/benchmarks.md, "Pages at scale".

  .venv/bin/python bench/http_bids.py setup --auctions 200 --neighbourhoods 20 --bidders 400
  .venv/bin/python bench/http_bids.py run   --processes 2 --concurrency 32 --duration 20

setup: sellers, bidders and local auctions through the real services: --neighbourhoods of the
       seeded 동, one seller each, --auctions open local auctions spread over them, --bidders
       verified in one of those 동 (so eligible for its auctions), 10,000,000 won each by
       wallet_deposit, a logged-in session each (the cookie goes to the data file).
run:   starts --processes Daphne servers, then --concurrency keep-alive connections POST the
       bid form (session cookie, CSRF cookie and token, amount, request id) to random auctions
       of the bidder's 동 for --duration seconds. The generator knows every amount it sent, so
       each bid is one ladder step above the highest sent on that auction (refusals happen
       only when two bids on one auction cross). Prints requests/s, accepted bids/s (new Bid
       rows in the window, counted in the database), HTTP statuses and latency p50/p95/p99.
       Leaders hold their whole maximum, so every run leaves more bidders short of money: run
       `setup` again before each run you compare.

The database: --database-url, else BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/nb_bench_http
(names must start with nb_bench or test_). Redis: --redis-url (default db 5) and --bus-prefix.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

BASE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE))
sys.path.insert(0, str(BASE / "bench"))

from pages_bench import ensure_database, pctl  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/nb_bench_http"
SECRET = "bench-secret-key-not-for-production"
FUNDS = 10_000_000


def configure(args) -> None:
    os.environ.update(
        {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "BUS_PREFIX": args.bus_prefix,
            "SECRET_KEY": SECRET,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "neighborbid.settings",
        }
    )
    import django

    django.setup()


# --- setup -------------------------------------------------------------------------------------


def cmd_setup(args) -> None:
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import Neighbourhood, User
    from accounts.services import user_create
    from auctions.services import auction_create
    from wallets.services import wallet_deposit

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    if not Neighbourhood.objects.exists():  # a flushed test database: the seeds back
        from importlib import import_module

        data = import_module("accounts.migrations.0002_seed_neighbourhoods").NEIGHBOURHOODS
        Neighbourhood.objects.bulk_create(
            [Neighbourhood(district=d, name=n, latitude=lat, longitude=lon) for d, n, lat, lon in data]
        )
    places = list(Neighbourhood.objects.exclude(district__startswith="벤치").order_by("id")[: args.neighbourhoods])
    run_tag = uuid.uuid4().hex[:6]
    now = timezone.now()

    def user(name: str, place, nickname: str) -> User:
        return user_create(
            username=f"hbench-{run_tag}-{name}",
            password=None,  # bench users sign in by session only
            nickname=nickname,
            neighbourhood=place,
            location_verified_at=now,
            search_radius_km=3,
        )

    sellers = {place.pk: user(f"seller-{place.pk}", place, "판매자") for place in places}
    auctions = []
    for n in range(args.auctions):
        place = places[n % len(places)]
        auction = auction_create(
            actor=sellers[place.pk],
            title=f"벤치 동네 물건 {n}",
            start_price=1_000,
            duration=timedelta(hours=6),
            soft_close_window_s=0,
        )
        auctions.append({"id": auction.pk, "neighbourhood": place.pk, "start": auction.start_price})
    bidders = []
    for n in range(args.bidders):
        place = places[n % len(places)]
        bidder = user(f"bidder-{n}", place, f"입찰자{n}")
        wallet_deposit(actor=bidder, amount=FUNDS, memo="bench")
        session = SessionStore()
        session[SESSION_KEY] = str(bidder.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = bidder.get_session_auth_hash()
        session.set_expiry(7 * 86400)
        session.save()
        bidders.append(
            {
                "id": bidder.pk,
                "neighbourhood": place.pk,
                "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
            }
        )
    Path(args.data).write_text(json.dumps({"auctions": auctions, "bidders": bidders}))
    print(
        f"setup: {len(auctions)} local auctions in {len(places)} 동, {len(bidders)} verified bidders with "
        f"{FUNDS:,} won and a session each in {settings.DATABASES['default']['NAME']} "
        f"({time.monotonic() - started:.1f}s); data in {args.data}"
    )


# --- servers -----------------------------------------------------------------------------------


def start_servers(args) -> list[subprocess.Popen]:
    import socket

    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "BUS_PREFIX": args.bus_prefix,
        "SECRET_KEY": SECRET,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX_SIZE": str(args.pool),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    procs = []
    for n in range(args.processes):
        port = args.port0 + n
        log = open(BASE / "bench" / f".http-bids-{port}.log", "wb")  # noqa: SIM115 - lives with the process
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "neighborbid.asgi:application"],
                cwd=BASE,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    for n, proc in enumerate(procs):
        port = args.port0 + n
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"daphne on {port} exited with {proc.returncode}: see bench/.http-bids-{port}.log")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    return procs


def stop_servers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# --- a minimal HTTP/1.1 keep-alive client (no third-party package needed) ----------------------


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes, cookie: str) -> int:
        if self.writer is None:
            await self.open()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nCookie: {cookie}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            while True:
                size = int((await self.reader.readline()).strip() or b"0", 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        if close:
            await self.close()
        return status


# --- run ---------------------------------------------------------------------------------------


def bid_count(database_url: str, auction_ids: list[int]) -> int:
    import psycopg

    with psycopg.connect(database_url) as conn:
        # one row per accepted request: the placed bid or a leader's raise (max bidding may add
        # automatic bids beside it, which are not requests)
        return conn.execute(
            "SELECT count(*) FROM auctions_bid WHERE auction_id = ANY(%s) AND kind <> 'auto'", [auction_ids]
        ).fetchone()[0]


def current_prices(database_url: str, auction_ids: list[int]) -> dict[int, int]:
    """The price of every auction that already has bids (an earlier run's): bidding resumes above it."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id, current_price FROM auctions_auction WHERE id = ANY(%s) AND leader_id IS NOT NULL",
            [auction_ids],
        ).fetchall()
    return dict(rows)


async def drive(args, data: dict, highest: dict[int, int]) -> dict:
    """`highest`: the highest amount sent (or committed before the run) per auction."""
    from auctions.rules import min_next_bid

    rng = random.Random(args.seed)
    by_place: dict[int, list[dict]] = {}
    for auction in data["auctions"]:
        by_place.setdefault(auction["neighbourhood"], []).append(auction)
    bidders = [b for b in data["bidders"] if b["neighbourhood"] in by_place]
    statuses: Counter = Counter()
    latencies: list[float] = []
    deadline = time.monotonic() + args.duration

    async def worker(n: int) -> None:
        conn = Connection(args.port0 + n % args.processes)
        try:
            while time.monotonic() < deadline:
                bidder = rng.choice(bidders)
                auction = rng.choice(by_place[bidder["neighbourhood"]])
                sent = highest.get(auction["id"])
                amount = auction["start"] if sent is None else min_next_bid(current_price=sent, has_bids=True)
                highest[auction["id"]] = amount
                csrf = secrets.token_hex(16)  # 32 characters: an unmasked CSRF secret, as cookie and field
                body = urlencode(
                    {"csrfmiddlewaretoken": csrf, "amount": str(amount), "request_id": uuid.uuid4().hex}
                ).encode()
                t0 = time.perf_counter()
                try:
                    status = await conn.post(
                        f"/auctions/{auction['id']}/bid/", body, f"{bidder['cookie']}; csrftoken={csrf}"
                    )
                except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    await conn.close()
                    statuses["connection error"] += 1
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[status] += 1
        finally:
            await conn.close()

    t_start = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(args.concurrency)))
    return {"elapsed": time.monotonic() - t_start, "statuses": statuses, "latencies": latencies}


def cmd_run(args) -> None:
    data = json.loads(Path(args.data).read_text())
    ids = [a["id"] for a in data["auctions"]]
    from django.urls import reverse

    assert reverse("auctions:bid", args=[1]) == "/auctions/1/bid/", reverse("auctions:bid", args=[1])
    procs = start_servers(args)
    try:
        before = bid_count(args.database_url, ids)
        result = asyncio.run(drive(args, data, current_prices(args.database_url, ids)))
        after = bid_count(args.database_url, ids)
    finally:
        stop_servers(procs)
    elapsed, lat = result["elapsed"], result["latencies"]
    requests = sum(result["statuses"].values())
    accepted = after - before
    print(
        f"http bids: {args.processes} Daphne, {args.concurrency} connections, {len(ids)} auctions, "
        f"{len(data['bidders'])} bidders, {elapsed:.1f}s"
    )
    print(f"  statuses: {dict(result['statuses'])}")
    print(
        f"  latency ms: p50 {pctl(lat, 0.5):.1f}  p95 {pctl(lat, 0.95):.1f}  p99 {pctl(lat, 0.99):.1f}  "
        f"max {max(lat) if lat else float('nan'):.1f}"
    )
    print(
        f"summary: {requests / elapsed:.1f} requests/s, {accepted / elapsed:.1f} accepted bids/s "
        f"({accepted} of {requests} accepted)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/5"))
    parser.add_argument("--bus-prefix", default=os.environ.get("BENCH_PREFIX", "nbbench_http"))
    parser.add_argument("--data", default=str(BASE / "bench" / ".http-bids-data.json"))
    parser.add_argument("--seed", type=int, default=13)
    sub = parser.add_subparsers(dest="cmd", required=True)
    setup = sub.add_parser("setup")
    setup.add_argument("--auctions", type=int, default=200)
    setup.add_argument("--neighbourhoods", type=int, default=20)
    setup.add_argument("--bidders", type=int, default=400)
    run = sub.add_parser("run")
    run.add_argument("--processes", type=int, default=2)
    run.add_argument("--concurrency", type=int, default=32)
    run.add_argument("--duration", type=float, default=20)
    run.add_argument("--port0", type=int, default=int(os.environ.get("BENCH_PORT0", "8301")))
    run.add_argument("--pool", type=int, default=8)
    args = parser.parse_args(argv)
    if args.cmd == "setup":
        ensure_database(args.database_url)
    configure(args)
    {"setup": cmd_setup, "run": cmd_run}[args.cmd](args)


if __name__ == "__main__":
    main()
