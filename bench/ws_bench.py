"""Live-auction load generator (run by hand, not in CI). See docs/benchmarks.md.

Starts its own Daphne processes on a separate database (neighborbid_bench) and Redis prefix,
then drives real WebSocket clients (the `websockets` package) at them:

  .venv/bin/python bench/ws_bench.py setup  --bidders 200
  .venv/bin/python bench/ws_bench.py hot    --processes 3 --bidders 100 --watchers 100 --duration 20
  .venv/bin/python bench/ws_bench.py fanout --processes 2 --watchers 1000 --rate 100 --duration 20
  .venv/bin/python bench/ws_bench.py spread --processes 3 --auctions 200 --bidders 100 --watchers 400 --duration 20
  .venv/bin/python bench/ws_bench.py idle   --processes 1 --connections 10000
  .venv/bin/python bench/ws_bench.py hot    --processes 3 --nginx   (through nginx, least_conn)

hot:    K bidders on one auction, learning the price only from their acks, errors and state
        messages; `--bidding realistic` (default) bids one to four steps above the price seen,
        `--bidding minimum` races for the minimum next bid. `--max-share F`: that share of the
        bids carries a `max_amount` (default 0: servers that do not know the field refuse it).
        A leader waits until it learns it was outbid, from the state feed (a flush every 50 ms);
        `--learn-outbid`: also from its personal `outbid` notification, sent at the commit.
        `--bid-door` (hot, spread): each bidder also opens the bid door and bids over it, as
        the live page does, learning prices from its watch socket.
deliver: no bids: synthetic states PUBLISHed on the bus at --rate; server CPU per frame.
fanout: one bid chain paced at --rate accepted bids/s while N watchers listen; `--offered`
        sends the bids at --rate whatever the replies (open loop, each the minimum after the
        one before), so the rate reached shows whether the server keeps up, not one reply's time.
        `--bidder-processes K`: bidders on the first K processes, watchers on the rest;
        `--bid-door`: the bidders bid over ws/auctions/<id>/bid/ (no states; with --nginx,
        nginx routes it to the first K processes by its path; with neither, every door socket
        of the auction goes to one process, as the cluster's default hash puts it).
spread: like hot, bidders and watchers spread over many auctions.
idle:   C idle sockets on one process; memory per connection.

The watchers (all but the bidders) are raw readers in --watcher-procs child processes:
`--watcher-load c` (default) runs bench/watcher.c, built once with the machine's C compiler
(one epoll loop, no JSON decoded; a third of the Python reader's CPU at 5,000 watchers), and
`--watcher-load python` (also where no compiler builds it) the RawWatcher below. Both count
each newer state once and a state not newer as a duplicate.

Reports accepted bids/s, errors by code, commit→watcher latency percentiles (commit time =
the state's server_time, stamped inside the transaction just before COMMIT; a watcher's
latency for a commit is when it first held a state at least that new), whether every watcher
ended on the final state, connections per process and RSS per connection, server CPU per
state written to a watcher; then (hot, spread, fanout) the pgbench figure of the matching
bench/pgbench_*.sql script run right after, in the same window, and the ratio
accepted/s ÷ pgbench tps. The last line is a one-line summary. BENCH_DB, BENCH_PG,
BENCH_REDIS, BENCH_PREFIX, BENCH_PORT0, BENCH_DATA override the defaults below.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

BASE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE))

BENCH_DB = os.environ.get("BENCH_DB", "neighborbid_bench")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/5")
PREFIX = os.environ.get("BENCH_PREFIX", "nbbench")
SECRET = "bench-secret-key-not-for-production"
PORT0 = int(os.environ.get("BENCH_PORT0", "8201"))
DATA = Path(os.environ.get("BENCH_DATA", BASE / "bench" / ".bench-data.json"))
SEQ_RE = re.compile(r'"seq":(\d+)')

os.environ.update(
    {
        "DATABASE_URL": f"{PG}/{BENCH_DB}",
        "REDIS_URL": REDIS,
        "BUS_PREFIX": PREFIX,
        "SECRET_KEY": SECRET,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "neighborbid.settings",
    }
)


def django_setup():
    import django

    django.setup()


def pctl(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# --- data ------------------------------------------------------------------------------------


def cmd_setup(args) -> None:
    exists = subprocess.run(
        ["psql", PG + "/postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{BENCH_DB}'"],  # noqa: S608 (a constant name)
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(["psql", PG + "/postgres", "-c", f"CREATE DATABASE {BENCH_DB}"], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE, check=True)
    django_setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import User
    from accounts.services import user_create

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # wallet_adjust needs wallets.adjust_wallet (a superuser has every permission) and refuses
    # a correction of one's own wallet: the bench's operator is a superuser of its own.
    staff = User.objects.filter(username="bench-staff").first() or user_create(
        username="bench-staff", password="bench-pass-1234", nickname="벤치관리자", superuser=True
    )
    if not staff.is_superuser:
        staff.is_staff = staff.is_superuser = True
        staff.save(update_fields=["is_staff", "is_superuser"])
    seller = User.objects.filter(username="bench-seller").first() or user_create(
        username="bench-seller", password="bench-pass-1234", nickname="판매자"
    )
    bidders = []
    for n in range(args.bidders):
        username = f"bench-bidder-{n}"
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(username=username, password="bench-pass-1234", nickname=f"입찰자{n}")
        top_up(user, staff)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.set_expiry(7 * 86400)
        session.save()
        bidders.append({"id": user.pk, "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}"})
    DATA.write_text(json.dumps({"seller": seller.pk, "bidders": bidders}))
    print(f"setup: {len(bidders)} bidders with sessions and 1e9 won each in {BENCH_DB}; data in {DATA}")


def top_up(user, staff) -> None:
    """Back to 1e9 won available when below 9e8. Each run leaves its last leader's whole maximum
    held in an auction that stays open, so without this a bidder drains over some twenty runs
    and the bench's refusals turn into `insufficient_funds` (seen 2026-12-07)."""
    from wallets.services import wallet_adjust

    balance = user.wallet.balance
    if balance < 900_000_000:
        wallet_adjust(user=user, amount=1_000_000_000 - balance, staff_user=staff, reason="bench")


def top_up_bidders() -> None:
    from accounts.models import User

    staff = User.objects.get(username="bench-staff")
    ids = [b["id"] for b in json.loads(DATA.read_text())["bidders"]]
    for user in User.objects.filter(pk__in=ids).select_related("wallet"):
        top_up(user, staff)


def new_auctions(count: int, start_price: int = 10_000) -> list[int]:
    from datetime import timedelta

    from accounts.models import User
    from auctions.services import auction_create

    seller = User.objects.get(username="bench-seller")
    ids = []
    for n in range(count):
        auction = auction_create(
            actor=seller,
            title=f"벤치 한정판 {n}",
            start_price=start_price,
            duration=timedelta(hours=2),
            is_national=True,
            soft_close_window_s=0,
        )
        ids.append(auction.pk)
    return ids


# --- servers ---------------------------------------------------------------------------------


class Servers:
    def __init__(
        self, count: int, extra_env: dict | None = None, *, nginx: bool = False, bid_processes: int = 0
    ) -> None:
        self.ports = [PORT0 + n for n in range(count)]
        self.procs: list[subprocess.Popen] = []
        # --nginx: the clients connect to one nginx (the cluster's config: scripts/cluster.sh
        # nginx-conf, deploy/nginx/proxy.conf, least_conn) in front of the processes
        self.nginx_port = PORT0 + count if nginx else None
        self.nginx: subprocess.Popen | None = None
        # --nginx --bidder-processes K: nginx's `bids` upstream (the bid door) is the first K
        # processes, which then serve nothing else (scripts/cluster.sh CLUSTER_BID_PORTS)
        self.bid_ports = self.ports[:bid_processes]
        self.env = {
            **os.environ,
            "WS_BID_RATE_PER_S": "100000",
            "WS_BID_BURST": "100000",
            "WS_FRAME_RATE_PER_S": "100000",
            "WS_FRAME_BURST": "100000",
            "DB_POOL_MAX_SIZE": "8",  # DB_THREADS (4) + the snapshot thread, with room
            **(extra_env or {}),
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)

    def __enter__(self) -> Servers:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        for port in self.ports:
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "daphne",
                        "-b",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "neighborbid.asgi:application",
                    ],
                    cwd=BASE,
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=open(BASE / "bench" / f".daphne-{port}.log", "wb"),  # noqa: SIM115
                )
            )
        import socket

        for port in self.ports:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        if self.nginx_port is not None:
            where = DATA.parent / f".nginx-{self.nginx_port}"
            conf = subprocess.run(
                [BASE / "scripts" / "cluster.sh", "nginx-conf", where, str(self.nginx_port), *map(str, self.ports)],
                env={**os.environ, "CLUSTER_BID_PORTS": " ".join(map(str, self.bid_ports))},
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            self.nginx = subprocess.Popen(["nginx", "-c", conf, "-e", str(where / "log" / "nginx-error.log")])
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.nginx_port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        return self

    def nginx_cpu_s(self) -> float | None:
        """CPU of nginx (master and its worker) so far."""
        if self.nginx is None:
            return None
        tick, total = os.sysconf("SC_CLK_TCK"), 0.0
        pids = [self.nginx.pid] + [
            int(pid) for pid in Path(f"/proc/{self.nginx.pid}/task/{self.nginx.pid}/children").read_text().split()
        ]
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def __exit__(self, *exc) -> None:
        if self.nginx is not None:
            self.nginx.terminate()
            self.nginx.wait(timeout=10)
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def rss_kb(self) -> list[int]:
        result = []
        for proc in self.procs:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    result.append(int(line.split()[1]))
        return result

    def cpu_s(self) -> list[float]:
        result = []
        tick = os.sysconf("SC_CLK_TCK")
        for proc in self.procs:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            result.append((int(fields[11]) + int(fields[12])) / tick)
        return result

    def url(self, n: int, auction_id: int) -> str:
        if self.nginx_port is not None:
            return f"ws://127.0.0.1:{self.nginx_port}/ws/auctions/{auction_id}/"
        return f"ws://127.0.0.1:{self.ports[n % len(self.ports)]}/ws/auctions/{auction_id}/"

    def role_url(self, n: int, auction_id: int, *, bidder: bool, bidder_processes: int, door: bool = False) -> str:
        """`bidder_processes` 0: every client on every process in turn. K > 0: the bidders on the
        first K processes only and the watchers on the others. `door`: a bidder opens the bid
        door (`…/bid/`), which hears no state; through nginx, the path alone routes it; with
        no K and no nginx, on process auction id % P (every door socket of an auction on one
        process, as nginx's hash puts it; the watchers on every process in turn)."""
        if bidder and door:
            if not bidder_processes and self.nginx_port is None:
                # as nginx's `hash $auction`: every door socket of one auction on one process
                return self.url(auction_id, auction_id) + "bid/"
            return self.role_url(n, auction_id, bidder=True, bidder_processes=bidder_processes) + "bid/"
        if not bidder_processes or self.nginx_port is not None:
            return self.url(n, auction_id)
        if bidder:
            return self.url(n % bidder_processes, auction_id)
        return self.url(bidder_processes + n % (len(self.ports) - bidder_processes), auction_id)


# --- clients ---------------------------------------------------------------------------------


async def connect(url: str, cookie: str | None = None):
    from websockets.asyncio.client import connect as ws_connect

    origin = url.replace("ws://", "http://").split("/ws/")[0]
    conn = await ws_connect(
        url,
        origin=origin,
        additional_headers={"Cookie": cookie} if cookie else {},
        open_timeout=60,
        compression=None,
        max_queue=None,
        ping_interval=None,
    )
    snapshot = json.loads(await conn.recv())
    assert snapshot["type"] == "snapshot", snapshot
    return conn, snapshot


class Watcher:
    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.times: list[float] = []
        self.last_price = None
        self.ended = False

    async def run(self, conn, snapshot) -> None:
        self.seqs.append(snapshot["seq"])
        self.times.append(time.time())
        self.last_price = snapshot["current_price"]
        try:
            async for text in conn:
                now = time.time()
                if text.startswith('{"type":"state"'):
                    seq = int(SEQ_RE.search(text).group(1))
                    if seq <= self.seqs[-1]:
                        raise AssertionError(f"older state after newer: {seq} after {self.seqs[-1]}")
                    self.seqs.append(seq)
                    self.times.append(now)
                    self.last_text = text
        except Exception as exc:  # connection closed at the end
            if isinstance(exc, AssertionError):
                raise

    def final_price(self) -> int | None:
        text = getattr(self, "last_text", None)
        return json.loads(text)["current_price"] if text else self.last_price


class Bidder:
    def __init__(self, cookie: str) -> None:
        self.cookie = cookie
        self.known_min = 0
        self.known_seq = -1
        self.step = 500
        self.accepted = 0
        self.errors: Counter = Counter()
        self.commits: list[tuple[int, int, float]] = []  # (auction id, seq, commit time)
        self.replies: list[float] = []
        self.tag: str | None = None  # this bidder's leader tag on its auction (from the snapshot)
        self.leading = False
        self.changed = asyncio.Event()
        self.outbid_notices = 0  # personal outbid notifications acted on (learn_outbid)

    def record(self, msg: dict, sent: float) -> dict | None:
        """Count one reply to a bid sent at `sent` (perf_counter): the acked state, or None."""
        self.replies.append(time.perf_counter() - sent)
        if msg["type"] != "ack":
            self.errors[msg["code"]] += 1
            return None
        self.accepted += 1
        state = msg["state"]
        committed = datetime.fromisoformat(state["server_time"]).timestamp()
        self.commits.append((state["auction_id"], state["seq"], committed))
        return state

    def learn(self, state: dict) -> None:
        if state.get("seq", -1) >= self.known_seq:
            self.known_seq = state["seq"]
            self.known_min = state["min_next_bid"]
            self.step = max(500, state["min_next_bid"] - state["current_price"])
            # people do not outbid themselves (a leader's bid only raises a maximum)
            self.leading = self.tag is not None and state.get("leader_tag") == self.tag
            self.changed.set()

    async def run(
        self,
        conn,
        snapshot,
        stop_at: float,
        *,
        pace: float = 0.0,
        bidding: str = "realistic",
        max_share: float = 0.0,
        learn_outbid: bool = False,
        door=None,
    ) -> None:
        """Bid as soon as the previous bid is answered. `realistic`: one to four steps above the
        price last seen (states, acks, errors), as people do; `minimum`: the exact minimum next
        bid (one time in five a step or two above), so nearly every attempt races. A share
        `max_share` of the bids also carries a `max_amount` (proxy bidding) a few steps higher.

        A leader waits until it learns it was outbid: from the state feed (a flush every
        REALTIME COALESCE_MS, 50 ms by default), and with `learn_outbid` also from the personal
        `outbid` notification, which leaves at the commit (as the live page's toast tells a
        person at once). Without it the feed's interval, not the server, bounds a run with few
        bidders: each accepted bid idles its bidder for about that long.

        `door`: a second socket, the bid door (ws/auctions/<id>/bid/), for the bids and their
        answers, as the live page does; `conn` then only brings states and notifications."""
        self.tag = (snapshot.get("you") or {}).get("tag")
        self.learn(snapshot)
        waiting: dict[str, float] = {}
        reply_event = asyncio.Event()

        async def reader(conn):
            async for text in conn:
                if text.startswith('{"type":"state"'):
                    self.learn(json.loads(text))
                    continue
                msg = json.loads(text)
                if msg["type"] == "ack":
                    self.accepted += 1
                    self.learn(msg["state"])
                    server_time = datetime.fromisoformat(msg["state"]["server_time"]).timestamp()
                    self.commits.append((msg["state"]["auction_id"], msg["state"]["seq"], server_time))
                elif msg["type"] == "error":
                    self.errors[msg["code"]] += 1
                    if "min_next_bid" in msg and msg.get("seq", -1) >= self.known_seq:
                        self.known_min = msg["min_next_bid"]
                        self.known_seq = msg.get("seq", self.known_seq)
                elif msg["type"] == "notification" and learn_outbid and msg.get("kind") == "outbid":
                    # the personal notice, sent at commit (the state feed brings the same news
                    # at its next flush): no longer leading, and the price it names
                    self.outbid_notices += 1
                    self.leading = False
                    self.known_min = max(self.known_min, msg["current_price"] + self.step)
                    self.changed.set()
                    continue
                else:
                    continue
                sent = waiting.pop(msg.get("request_id"), None)
                if sent is not None:
                    self.replies.append(time.perf_counter() - sent)
                reply_event.set()

        tasks = [asyncio.create_task(reader(c)) for c in (conn, door) if c is not None]
        sender = door if door is not None else conn
        n = 0
        try:
            while time.time() < stop_at:
                if self.leading:  # wait until someone outbids us
                    self.changed.clear()
                    try:
                        await asyncio.wait_for(self.changed.wait(), 1.0)
                    except TimeoutError:
                        pass
                    continue
                if bidding == "realistic":
                    # known_min is one step above the price seen: one to four steps above it
                    amount = self.known_min + self.step * random.randint(0, 3)
                else:
                    amount = self.known_min + self.step * random.choice((0, 0, 0, 1, 2))
                request_id = f"{id(self)}-{n}-{time.time_ns()}"
                n += 1
                frame = {"type": "bid", "amount": amount, "request_id": request_id}
                if max_share and random.random() < max_share:
                    frame["max_amount"] = amount + self.step * random.randint(2, 10)
                reply_event.clear()
                waiting[request_id] = time.perf_counter()
                await sender.send(json.dumps(frame))
                try:
                    await asyncio.wait_for(reply_event.wait(), 10)
                except TimeoutError:
                    self.errors["timeout"] += 1
                if pace:
                    await asyncio.sleep(pace)
        finally:
            for task in tasks:
                task.cancel()


async def chain(bidders: list[Bidder], conns: list, rate: float, stop_at: float) -> None:
    """A steady stream of accepted bids at `rate`/s: bidders take turns, each bidding the
    minimum the previous ack returned (no races, so nearly every bid is accepted)."""
    amount = conns[0][1]["min_next_bid"]
    interval = 1.0 / rate
    next_at = time.perf_counter()
    n = 0
    while time.time() < stop_at:
        bidder = bidders[n % len(bidders)]
        conn = conns[n % len(conns)][0]
        request_id = f"chain-{n}-{time.time_ns()}"
        sent = time.perf_counter()
        await conn.send(json.dumps({"type": "bid", "amount": amount, "request_id": request_id}))
        while True:
            text = await asyncio.wait_for(conn.recv(), 10)
            if text.startswith('{"type":"state"'):
                continue
            msg = json.loads(text)
            if msg.get("request_id") != request_id:
                continue
            state = bidder.record(msg, sent)
            amount = state["min_next_bid"] if state is not None else msg.get("min_next_bid", amount)
            break
        n += 1
        next_at += interval
        delay = next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            next_at = time.perf_counter()


async def offered(bidders: list[Bidder], conns: list, rate: float, stop_at: float) -> tuple[int, float, dict]:
    """Bids offered at `rate`/s whatever the replies (open loop), as a crowd bids in a drop:
    bid n leaves at start + n/rate on connection n % C (the connections alternate between the
    processes), for the minimum next bid after bid n-1. So every bid is accepted when the
    server keeps up with the offered rate; one that overtakes its predecessor on the other
    process makes that predecessor `bid_too_low`. Unlike `chain`, the rate reached does not
    depend on one bid's reply time: it shows whether the server keeps up, not its latency.

    Also returns where a late bid's time went (ms, p50 / p99 / max over the acked bids), each
    from the moment bid n was due (start + n/rate, wall clock): `sent` (the generator's own
    lag in sending it), `committed` (the state's server_time: when its transaction committed)
    and `answered` (when its ack was read). A server that keeps up commits within a few ms of
    the send; a late `sent` means the generator, not the server, fell behind."""
    from auctions.rules import min_next_bid

    waiting: dict[str, tuple[Bidder, float]] = {}
    due: dict[str, tuple[float, float]] = {}  # request id -> (due, sent), wall clock
    lags: dict[str, list[float]] = {"sent": [], "committed": [], "answered": []}

    async def reader(conn) -> None:
        try:
            async for text in conn:
                if text.startswith('{"type":"state"'):
                    continue
                msg = json.loads(text)
                entry = waiting.pop(msg.get("request_id"), None)
                if entry is None:
                    continue
                bidder, sent = entry
                state = bidder.record(msg, sent)
                was_due, sent_at = due.pop(msg["request_id"])
                if state is not None:
                    committed = datetime.fromisoformat(state["server_time"]).timestamp()
                    lags["sent"].append(sent_at - was_due)
                    lags["committed"].append(committed - was_due)
                    lags["answered"].append(time.time() - was_due)
        except Exception:  # the bench closes these sockets after the run
            return

    readers = [asyncio.create_task(reader(conn)) for conn, _ in conns]
    snapshot = conns[0][1]
    amount = snapshot["min_next_bid"]
    start = time.perf_counter()
    start_wall = time.time()
    n = 0
    while time.time() < stop_at:
        bidder = bidders[n % len(bidders)]
        conn = conns[n % len(conns)][0]
        request_id = f"offer-{n}-{time.time_ns()}"
        waiting[request_id] = (bidder, time.perf_counter())
        due[request_id] = (start_wall + n / rate, time.time())
        await conn.send(json.dumps({"type": "bid", "amount": amount, "request_id": request_id}))
        amount = min_next_bid(current_price=amount, has_bids=True)
        n += 1
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    deadline = time.perf_counter() + 10
    while waiting and time.perf_counter() < deadline:  # the last replies
        await asyncio.sleep(0.05)
    backlog_s = max(0.0, time.time() - stop_at)  # a server that fell behind answers late
    for bidder, _ in waiting.values():
        bidder.errors["no_reply"] += 1
    for task in readers:
        task.cancel()
    late = {
        name: [round(1000 * pctl(values, 0.5), 1), round(1000 * pctl(values, 0.99), 1), round(1000 * max(values), 1)]
        for name, values in lags.items()
        if values
    }
    return n, backlog_s, late


async def deliver(auction_id: int, rate: float, stop_at: float, fanout: str = "hub") -> int:
    """Publish synthetic `state` events for one auction straight onto the bus, or with
    `--fanout channels` to the channel layer's group auction.<id> (no bids, no database): what
    the servers then spend is the fan-out alone. Returns the last seq."""
    import redis.asyncio as aioredis
    from asgiref.sync import sync_to_async

    from neighborbid import bus
    from realtime.hub import load_public_state

    state = await sync_to_async(load_public_state)(auction_id)
    client = aioredis.Redis.from_url(REDIS)
    channel = f"{PREFIX}:auction:{auction_id}"
    seq = state["seq"] + 1_000
    if fanout == "channels":
        from channels.layers import get_channel_layer

        from realtime import layer

        channel_layer = get_channel_layer()
        group = layer.auction_group(auction_id)
    interval = 1.0 / rate
    next_at = time.perf_counter()
    try:
        while time.time() < stop_at:
            seq += 1
            state = {**state, "seq": seq, "current_price": state["current_price"] + 500}
            if fanout == "channels":
                await channel_layer.group_send(group, {"type": layer.AUCTION_EVENT, "event": state})
            else:
                await client.publish(channel, bus.encode(state))
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                next_at = time.perf_counter()
    finally:
        await client.aclose()
    return seq


PGBENCH_SCRIPTS = {"hot": "pgbench_bid5.sql", "fanout": "pgbench_bid5.sql", "spread": "pgbench_spread1.sql"}


def pgbench_ceiling(script: str, seconds: float, clients: int = 8) -> dict:
    """The raw-SQL ceiling in the bench database, right after the WebSocket run (same window)."""
    from pgbench_ceiling import pgbench_ceiling as ceiling

    return ceiling(f"{PG}/{BENCH_DB}", script, seconds, clients)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def latency_report(bidders: list[Bidder], watchers: list[Watcher], watcher_auction: list[int]) -> dict:
    """For each commit and each watcher of that auction: when the watcher first held a state
    at least that new, minus the commit time."""
    commits = sorted({c for b in bidders for c in b.commits})
    if len(commits) > 3000:
        commits = random.sample(commits, 3000)
    by_auction: dict[int, list[Watcher]] = {}
    for watcher, aid in zip(watchers, watcher_auction, strict=True):
        by_auction.setdefault(aid, []).append(watcher)
    samples = []
    for aid, seq, committed in commits:
        for watcher in by_auction.get(aid, ()):
            i = bisect.bisect_left(watcher.seqs, seq)
            if i < len(watcher.seqs):
                samples.append(max(0.0, watcher.times[i] - committed) * 1000)
    return {
        "samples": len(samples),
        "p50_ms": round(pctl(samples, 0.50), 1),
        "p95_ms": round(pctl(samples, 0.95), 1),
        "p99_ms": round(pctl(samples, 0.99), 1),
        "max_ms": round(max(samples), 1) if samples else None,
    }


SEQ_B = re.compile(rb'"seq":(\d+)')
STATE_B = b'{"type":"state"'


class RawWatcher(asyncio.Protocol):
    """A watcher that measures the server, not itself (issue 25 #3): a raw WebSocket reader
    that never decodes a state's JSON. It counts bytes, reads only the seq with a cheap scan
    of the frame's first bytes, keeps the last state's bytes (parsed once, at the end) and
    counts a state that is not newer than the one before (a duplicate) instead of dying."""

    def __init__(self, host: str, path: str) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://{host}\r\n\r\n"
        ).encode()
        self.buf = bytearray()
        self.handshaken = False
        self.snapshot = asyncio.get_running_loop().create_future()
        self.seqs: list[int] = []
        self.times: list[float] = []
        self.last_state: bytes | None = None
        self.last_price = None
        self.duplicates = 0
        self.bytes = 0
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        if not self.snapshot.done():
            self.snapshot.set_exception(ConnectionError(f"closed before the snapshot: {exc}"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.bytes += len(data)
        buf = self.buf
        buf += data
        if not self.handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.snapshot.set_exception(ConnectionError(bytes(buf[:end]).decode(errors="replace")))
                return
            del buf[: end + 4]
            self.handshaken = True
        pos, size = 0, len(buf)
        while size - pos >= 2:
            length, start = buf[pos + 1] & 0x7F, pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if size < start + length:
                break
            if buf[pos] & 0x0F == 1:
                self._text(buf, start, length, now)
            pos = start + length
        if pos:
            del buf[:pos]

    def _text(self, buf: bytearray, start: int, length: int, now: float) -> None:
        if not self.snapshot.done():
            snap = json.loads(bytes(buf[start : start + length]))
            self.seqs.append(snap["seq"])
            self.times.append(now)
            self.last_price = snap.get("current_price")
            self.snapshot.set_result(snap)
            return
        head = bytes(buf[start : start + min(length, 64)])
        if not head.startswith(STATE_B):
            return
        match = SEQ_B.search(head)
        if match is None:
            return
        seq = int(match.group(1))
        if seq <= self.seqs[-1]:
            self.duplicates += 1
            return
        self.seqs.append(seq)
        self.times.append(now)
        self.last_state = bytes(buf[start : start + length])

    def final_price(self) -> int | None:
        return json.loads(self.last_state)["current_price"] if self.last_state else self.last_price


async def raw_watch(url: str) -> RawWatcher:
    hostport, path = url.removeprefix("ws://").split("/", 1)
    host, port = hostport.split(":")
    loop = asyncio.get_running_loop()
    _, watcher = await loop.create_connection(lambda: RawWatcher(hostport, "/" + path), host, int(port))
    await asyncio.wait_for(watcher.snapshot, 60)
    return watcher


def established_per_port(ports: list[int]) -> list[int]:
    """Open TCP connections accepted by each server port (from /proc/net/tcp): where the clients
    really are, whichever way they came (directly, or through nginx's upstreams)."""
    wanted = {f"{port:04X}": n for n, port in enumerate(ports)}
    counts = [0] * len(ports)
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return counts
    for line in lines:
        fields = line.split()
        local_port = fields[1].rsplit(":", 1)[1]
        if fields[3] == "01" and local_port in wanted:  # ESTABLISHED, on the server's side
            counts[wanted[local_port]] += 1
    return counts


def cpu_self_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def box_busy_s() -> float | None:
    """CPU seconds the whole machine has spent busy (every core: user, system, interrupts,
    steal; not idle or I/O wait) since boot, from /proc/stat; None where there is none."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def box_shares(*, elapsed: float, busy: float | None, servers: float, generator: float) -> dict:
    """How the machine's cores went over a run: the servers' share, the load generator's
    (watcher processes and the bidders' own process) and the rest (PostgreSQL, Redis, the
    kernel's own work), each as a share of all cores, and how busy the box was in all."""
    cores = os.cpu_count() or 1
    capacity = elapsed * cores
    shares = {"cores": cores, "servers": round(servers / capacity, 3), "generator": round(generator / capacity, 3)}
    if busy is not None:
        shares["busy"] = round(busy / capacity, 3)
        shares["rest"] = round(max(0.0, busy - servers - generator) / capacity, 3)
    return shares


def watcher_process(index: int, urls: list[str], ready, go, stop, results) -> None:
    """A load-generator child holding some of the watchers (raw readers: the generator must
    not be the limit). Reports its own CPU between `go` and `stop`."""

    async def main():
        sem = asyncio.Semaphore(100)

        async def one(url):
            async with sem:
                return await raw_watch(url)

        watchers = await asyncio.gather(*[one(url) for url in urls])
        ready.put(len(watchers))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, go.wait)
        cpu0 = cpu_self_s()
        await loop.run_in_executor(None, stop.wait)
        cpu = cpu_self_s() - cpu0
        for watcher in watchers:
            watcher.transport.close()
        stats = {
            "cpu_s": cpu,
            "duplicates": sum(w.duplicates for w in watchers),
            "bytes": sum(w.bytes for w in watchers),
        }
        results.put((index, [(w.seqs, w.times, w.final_price()) for w in watchers], stats))

    asyncio.run(main())


WATCHER_C = BASE / "bench" / "watcher.c"


def watcher_binary() -> Path | None:
    """bench/watcher.c built with the machine's C compiler (`CC`, else cc), once per source
    (kept in this user's own directory under the temporary one, under the source's hash);
    None where none builds or runs (the caller falls back to the Python reader)."""
    import hashlib
    import shlex
    import shutil
    import tempfile

    source = WATCHER_C.read_bytes()
    home = Path(tempfile.gettempdir()) / f"neighborbid-bench-{os.getuid()}"
    try:
        home.mkdir(mode=0o700, exist_ok=True)
        if home.stat().st_uid != os.getuid() or home.stat().st_mode & 0o022:
            print(f"ws_bench: {home} is not this user's own: not building bench/watcher.c", file=sys.stderr)
            return None
        binary = home / f"watcher-{hashlib.sha256(source).hexdigest()[:16]}"
        if not binary.exists():
            compiler = shlex.split(os.environ.get("CC", "")) or [shutil.which("cc") or shutil.which("gcc") or "cc"]
            partial = binary.with_suffix(f".{os.getpid()}")
            built = subprocess.run(
                [*compiler, "-O2", "-o", str(partial), str(WATCHER_C)], capture_output=True, text=True, check=False
            )
            if built.returncode != 0:
                print(f"ws_bench: bench/watcher.c did not build ({built.stderr.strip()[:300]})", file=sys.stderr)
                return None
            partial.replace(binary)
        # it runs here (not a noexec temporary directory): no arguments is a usage error
        subprocess.run([str(binary)], capture_output=True, check=False, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"ws_bench: bench/watcher.c cannot be used here ({exc})", file=sys.stderr)
        return None
    return binary


def watchers_of(by_child: list[list[tuple[list[int], list[float], int | None]]]) -> list[Watcher]:
    """What each watcher process read ((seqs, times, final price) per watcher), as Watchers in
    child order, then each child's own order: watcher_auction relies on it."""
    watchers = []
    for found in by_child:
        for seqs, times, final in found:
            watcher = Watcher()
            watcher.seqs, watcher.times, watcher.last_price = seqs, times, final
            watchers.append(watcher)
    return watchers


class _Go:
    """watcher_process's `go` for the C load: one line to each child."""

    def __init__(self, children) -> None:
        self.children = children

    def set(self) -> None:
        for child in self.children:
            child.stdin.write("go\n")
            child.stdin.flush()


def read_c_report(lines) -> tuple[list[tuple[list[int], list[float], int | None]], dict]:
    """bench/watcher.c's report: per watcher (seqs, times, final price), then its stats."""
    watchers = []
    it = iter(lines)
    for line in it:
        kind, *fields = line.split()
        if kind == "S":
            cpu, duplicates, size = fields
            return watchers, {"cpu_s": float(cpu), "duplicates": int(duplicates), "bytes": int(size)}
        price, n = fields
        seqs, times = [], []
        for _ in range(int(n)):
            seq, at = next(it).split()
            seqs.append(int(seq))
            times.append(float(at))
        watchers.append((seqs, times, None if price == "null" else int(price)))
    raise RuntimeError("bench/watcher.c's report ended early")


def _spawn_c_watcher(binary: Path, host: str, targets: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(binary), host, targets],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _reap(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()


async def start_watchers_c(urls: list[str], procs: int, binary: Path):
    """start_watchers with bench/watcher.c's processes: the same (go, finish). Every child is
    killed and reaped when anything fails, so a failed run leaves nothing behind."""
    import tempfile

    loop = asyncio.get_running_loop()
    children: list[subprocess.Popen] = []
    files: list[str] = []
    shares = [urls[k::procs] for k in range(procs)]

    def ready(child, expected: int) -> None:
        line = child.stdout.readline()
        if line != f"ready {expected}\n":
            child.wait(timeout=10)
            raise RuntimeError(f"bench/watcher.c: {child.stderr.read().strip() or repr(line)}")

    try:
        for share in shares:
            with tempfile.NamedTemporaryFile("w", suffix=".targets", delete=False) as targets:
                files.append(targets.name)
                hosts = {urlsplit(url).hostname for url in share}
                if len(hosts) > 1:
                    raise RuntimeError(f"bench/watcher.c takes one host, not {sorted(hosts)}")
                targets.writelines(f"{urlsplit(url).port} {urlsplit(url).path}\n" for url in share)
            children.append(_spawn_c_watcher(binary, hosts.pop() if hosts else "127.0.0.1", targets.name))
        for child, share in zip(children, shares, strict=True):
            # the child gives up on a missing snapshot by itself (60 s): this read always ends
            await loop.run_in_executor(None, ready, child, len(share))
    except BaseException:
        _reap(children)
        raise
    finally:
        for name in files:
            os.unlink(name)

    async def finish() -> tuple[list[Watcher], list[dict]]:
        reports = []
        try:
            for child in children:
                child.stdin.write("stop\n")
                child.stdin.flush()
            for child in children:
                out, err = await loop.run_in_executor(None, child.communicate)
                if child.returncode != 0:
                    raise RuntimeError(f"bench/watcher.c: {err.strip()}")
                reports.append(read_c_report(out.splitlines()))
        finally:
            _reap(children)
        watchers = watchers_of([found for found, _stats in reports])
        return watchers, [stats for _found, stats in reports]

    return _Go(children), finish


async def start_watchers(urls: list[str], procs: int):
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    ready, results, go, stop = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Event()
    children = []
    for k in range(procs):
        child = ctx.Process(target=watcher_process, args=(k, urls[k::procs], ready, go, stop, results), daemon=True)
        child.start()
        children.append(child)
    loop = asyncio.get_running_loop()
    for _ in children:
        await loop.run_in_executor(None, ready.get)

    async def finish() -> tuple[list[Watcher], list[dict]]:
        stop.set()
        by_child = {k: (w, st) for k, w, st in [await loop.run_in_executor(None, results.get) for _ in children]}
        watchers = watchers_of([by_child[k][0] for k in range(len(children))])
        for child in children:
            child.join(timeout=10)
        return watchers, [by_child[k][1] for k in range(len(children))]

    return go, finish


async def scenario(args, servers: Servers, auction_ids: list[int]) -> dict:
    data = json.loads(DATA.read_text())
    cookies = [b["cookie"] for b in data["bidders"]]
    rss0 = servers.rss_kb()
    binary = watcher_binary() if args.watcher_load == "c" else None  # built before the clock starts
    t0 = time.perf_counter()
    # watcher n watches auction n % A through server n % P; results come back in that order
    # per child, so keep the auction of each watcher alongside.
    split = args.bidder_processes
    urls = [
        servers.role_url(n, auction_ids[n % len(auction_ids)], bidder=False, bidder_processes=split)
        for n in range(args.watchers)
    ]
    if binary is not None:
        watchers_go, finish_watchers = await start_watchers_c(urls, max(1, args.watcher_procs), binary)
    else:
        watchers_go, finish_watchers = await start_watchers(urls, max(1, args.watcher_procs))
    watcher_load = "c" if binary is not None else "python"
    connect_s = time.perf_counter() - t0
    rss1 = servers.rss_kb()
    bidders = [Bidder(cookies[n % len(cookies)]) for n in range(args.bidders)]
    bidder_conns = []
    bidder_urls: list[str] = []
    # hot/spread with --bid-door: each bidder keeps its watch socket (states) and bids over a
    # second one, the door, as the live page does; fanout's bidders need no states
    door_conns: list = []
    two_sockets = args.bid_door and args.kind in ("hot", "spread")
    for n, bidder in enumerate(bidders):
        auction_id = auction_ids[n % len(auction_ids)]
        door = args.bid_door and not two_sockets
        url = servers.role_url(n + 1, auction_id, bidder=True, bidder_processes=split, door=door)
        bidder_urls.append(url)
        conn, snap = await connect(url, bidder.cookie)
        bidder_conns.append((conn, snap))
        if two_sockets:
            door_url = servers.role_url(n + 1, auction_id, bidder=True, bidder_processes=split, door=True)
            bidder_urls.append(door_url)
            door_conns.append((await connect(door_url, bidder.cookie))[0])
        else:
            door_conns.append(None)
    sockets_per_process = established_per_port(servers.ports)
    cpu0 = servers.cpu_s()
    box0, self0 = box_busy_s(), cpu_self_s()
    watchers_go.set()
    start = time.time()
    stop_at = start + args.duration
    last_published = None
    offered_bids, backlog_s, offered_lag = None, None, None
    if args.kind == "fanout" and args.offered:
        offered_bids, backlog_s, offered_lag = await offered(bidders, bidder_conns, args.rate, stop_at)
    elif args.kind == "fanout":
        await chain(bidders, bidder_conns, args.rate, stop_at)
    elif args.kind == "deliver":
        last_published = await deliver(auction_ids[0], args.rate, stop_at, args.fanout)
    else:
        await asyncio.gather(
            *[
                b.run(
                    c,
                    s,
                    stop_at,
                    bidding=args.bidding,
                    max_share=args.max_share,
                    learn_outbid=args.learn_outbid,
                    door=d,
                )
                for b, (c, s), d in zip(bidders, bidder_conns, door_conns, strict=True)
            ]
        )
    elapsed = time.time() - start
    cpu1 = servers.cpu_s()
    await asyncio.sleep(1.5)  # let the last coalesced states arrive
    servers_tail = servers.cpu_s()
    box1, self1 = box_busy_s(), cpu_self_s()
    watchers, generator = await finish_watchers()
    procs = max(1, args.watcher_procs)
    watcher_auction = [int(url.rstrip("/").rsplit("/", 1)[1]) for k in range(procs) for url in urls[k::procs]]
    django_setup()
    from asgiref.sync import sync_to_async

    from auctions.models import Auction

    finals = await sync_to_async(
        lambda: {a.pk: (a.seq, a.current_price) for a in Auction.objects.filter(pk__in=auction_ids)}
    )()
    if last_published is not None:  # deliver: the last synthetic state, not the database's
        on_final = sum(1 for w in watchers if w.seqs[-1] == last_published)
    else:
        on_final = sum(
            1
            for w, aid in zip(watchers, watcher_auction, strict=True)
            if w.seqs[-1] == finals[aid][0] and w.final_price() == finals[aid][1]
        )
    for conn, _ in bidder_conns:
        await conn.close()
    for conn in door_conns:
        if conn is not None:
            await conn.close()
    accepted = sum(b.accepted for b in bidders)
    errors = sum((b.errors for b in bidders), Counter())
    replies = [r * 1000 for b in bidders for r in b.replies]
    connections = args.watchers + args.bidders + sum(c is not None for c in door_conns)
    frames = sum(len(w.seqs) - 1 for w in watchers)  # states written to watchers (snapshot excluded)
    server_cpu = sum(b - a for a, b in zip(cpu0, cpu1, strict=True))
    # The watcher processes' own CPU over the run (plus the 1.5 s tail): a process near one
    # core means the generator, not the server, may be the limit.
    generator_cpu = [round(g["cpu_s"], 1) for g in generator]
    busiest = max(g["cpu_s"] for g in generator) / (elapsed + 1.5)
    # And the whole box over the same window (the run and its 1.5 s tail): on one machine the
    # generator's CPU is taken from the servers and PostgreSQL, whatever its processes' count.
    box = box_shares(
        elapsed=elapsed + 1.5,
        busy=None if box0 is None or box1 is None else box1 - box0,
        servers=sum(b - a for a, b in zip(cpu0, servers_tail, strict=True)),
        generator=sum(g["cpu_s"] for g in generator) + (self1 - self0),
    )
    warning = None
    if busiest > 0.8:
        warning = (
            f"a watcher process used {busiest:.0%} of a core: the load generator may be the limit; "
            "use more --watcher-procs (or another machine)"
        )
    elif box["generator"] > 0.25:
        warning = (
            f"the load generator used {box['generator']:.0%} of this machine's {box['cores']} cores "
            f"(the servers {box['servers']:.0%}): on a shared box that is taken from the servers and "
            "PostgreSQL, so the figures understate the server; run the watchers on another machine"
        )
    return {
        "scenario": args.kind,
        "bidding": args.bidding if args.kind in ("hot", "spread") else None,
        "learn_outbid": args.learn_outbid if args.kind in ("hot", "spread") else None,
        "outbid_notices_acted_on": sum(b.outbid_notices for b in bidders),
        "offered": args.kind == "fanout" and args.offered,
        # offered: how many bids went out, and how long after the last one the last reply came
        # (accepted/s counts that time too, so a server that falls behind shows below the rate)
        "offered_bids": offered_bids,
        "last_reply_after_s": None if backlog_s is None else round(backlog_s, 2),
        # offered: ms after each acked bid was due, p50 / p99 / max: sent, committed, answered
        "offered_lag_ms": offered_lag,
        "max_share": args.max_share,
        "processes": len(servers.ports),
        "bidder_processes": split,
        "bid_door": bool(getattr(args, "bid_door", False)),
        "sockets_per_process": sockets_per_process,
        "bidder_ports": sorted({urlsplit(u).port for u in bidder_urls}),
        "door_ports": sorted({urlsplit(u).port for u in bidder_urls if u.endswith("/bid/")}),
        "watcher_ports": sorted({urlsplit(u).port for u in urls}),
        "auctions": len(auction_ids),
        "bidders": args.bidders,
        "watchers": args.watchers,
        "duration_s": round(elapsed, 1),
        "accepted": accepted,
        "accepted_per_s": round(accepted / elapsed, 1),
        "attempts_per_s": round((accepted + sum(errors.values())) / elapsed, 1),
        "errors": dict(errors),
        "reply_ms_p50_p95_p99": [round(pctl(replies, q), 1) for q in (0.5, 0.95, 0.99)],
        "commit_to_watcher": latency_report(bidders, watchers, watcher_auction),
        "watchers_on_final_state": f"{on_final}/{len(watchers)}",
        "connections_per_process": round(connections / len(servers.ports)),
        "watcher_connect_s": round(connect_s, 1),
        "rss_kb_before_after_watchers": [rss0, rss1],
        "kb_per_watcher_connection": round((sum(rss1) - sum(rss0)) / max(1, args.watchers), 1),
        "server_cpu_s_per_process": [round(b - a, 1) for a, b in zip(cpu0, cpu1, strict=True)],
        "watcher_frames": frames,
        # all server CPU (bids included, unless `deliver`) over the states written to watchers
        "server_cpu_us_per_watcher_frame": round(server_cpu / frames * 1e6, 1) if frames else None,
        "generator_cpu_s_per_watcher_process": generator_cpu,
        "generator_busiest_core_share": round(busiest, 2),
        "cpu_share_of_box": box,
        "duplicate_frames": sum(g["duplicates"] for g in generator),
        "watcher_bytes": sum(g["bytes"] for g in generator),
        "warning": warning,
        "watcher_load": watcher_load,
    }


async def idle(args, servers: Servers, auction_id: int) -> dict:
    rss0 = servers.rss_kb()
    conns = []
    t0 = time.perf_counter()
    sem = asyncio.Semaphore(200)

    async def one(n):
        async with sem:
            conn, _ = await connect(servers.url(n, auction_id))
            conns.append(conn)

    await asyncio.gather(*[one(n) for n in range(args.connections)])
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(2)
    rss1 = servers.rss_kb()
    for conn in conns:
        await conn.close()
    per_process = args.connections / len(servers.ports)
    return {
        "scenario": "idle",
        "processes": len(servers.ports),
        "connections": len(conns),
        "connections_per_process": per_process,
        "connect_s": round(connect_s, 1),
        "rss_kb_before": rss0,
        "rss_kb_after": rss1,
        "kb_per_connection": round((sum(rss1) - sum(rss0)) / len(conns), 1),
    }


def cmd_run(args) -> None:
    django_setup()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    count = args.auctions if args.kind == "spread" else 1
    top_up_bidders()
    auction_ids = new_auctions(count)
    extra = {
        "REALTIME_COALESCE_MS": str(args.coalesce_ms),
        "REALTIME_FRAME_BUDGET_PER_S": str(args.frame_budget),
        "REALTIME_FANOUT": args.fanout,
    }
    load_before = load_average()
    with Servers(
        args.processes, extra, nginx=args.nginx, bid_processes=args.bidder_processes if args.nginx else 0
    ) as servers:
        nginx_cpu_before = servers.nginx_cpu_s()
        if args.kind == "idle":
            result = asyncio.run(idle(args, servers, auction_ids[0]))
        else:
            result = asyncio.run(scenario(args, servers, auction_ids))
        if nginx_cpu_before is not None:
            result["nginx_cpu_s"] = round(servers.nginx_cpu_s() - nginx_cpu_before, 2)
    result["via_nginx"] = args.nginx
    result["load_average_before_after"] = [load_before, load_average()]
    result["fanout"] = args.fanout
    script = PGBENCH_SCRIPTS.get(args.kind)
    if script and args.pgbench_seconds > 0:
        ceiling = pgbench_ceiling(script, args.pgbench_seconds)
        result["pgbench"] = ceiling
        tps = ceiling.get("tps")
        result["ratio_ws_accepted_to_pgbench"] = round(result["accepted_per_s"] / tps, 4) if tps else None
    print(json.dumps(result, ensure_ascii=False, indent=1))
    summary = f"summary: {args.kind} fanout={args.fanout} accepted/s={result.get('accepted_per_s')}"
    if result.get("offered"):
        late = result["last_reply_after_s"]
        summary += f" offered/s={args.rate} ({result['offered_bids']} bids, last reply +{late}s)"
        summary += f" refused={sum(result['errors'].values())}"
        lag = result.get("offered_lag_ms") or {}
        if lag:  # p99 ms after a bid was due: the generator sent it, the server committed it
            summary += f" lag_p99_ms(sent/committed/answered)={'/'.join(str(lag[k][1]) for k in lag)}"
        if result["errors"]:  # why, by code: only bid_too_low means overtaken
            summary += " (" + ", ".join(f"{code} {n}" for code, n in sorted(result["errors"].items())) + ")"
    if result.get("bidder_processes"):
        summary += f" bidders_on={result['bidder_ports']} watchers_on={result['watcher_ports']}"
    if result.get("bid_door"):
        summary += " bid_door"
    if result.get("bidder_processes") or result.get("bid_door"):
        summary += f" sockets_per_process={result['sockets_per_process']}"
    if result.get("learn_outbid"):
        summary += f" learn_outbid (notices acted on: {result['outbid_notices_acted_on']})"
    latency = result.get("commit_to_watcher") or {}
    if latency.get("p99_ms") is not None:
        summary += f" commit->watcher p50/p99={latency.get('p50_ms')}/{latency['p99_ms']}ms"
    if args.nginx:
        summary += f" via nginx (cpu {result.get('nginx_cpu_s')} s)"
    if "pgbench" in result:
        summary += (
            f" pgbench({script})={result['pgbench'].get('tps')} tps ratio={result['ratio_ws_accepted_to_pgbench']}"
        )
    if result.get("server_cpu_us_per_watcher_frame") is not None:
        summary += f" cpu/frame={result['server_cpu_us_per_watcher_frame']}us"
    if "generator_cpu_s_per_watcher_process" in result:
        summary += (
            f" generator_cpu={result['generator_cpu_s_per_watcher_process']}s ({result.get('watcher_load')})"
            f" duplicates={result['duplicate_frames']}"
        )
    if "cpu_share_of_box" in result:
        box = result["cpu_share_of_box"]
        summary += f" box(cores={box['cores']} servers={box['servers']} generator={box['generator']}"
        summary += f" rest={box.get('rest')} busy={box.get('busy')})"
    if result.get("warning"):
        print("WARNING: " + result["warning"], file=sys.stderr)
    print(summary + f" load={result['load_average_before_after']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="kind", required=True)
    setup = sub.add_parser("setup")
    setup.add_argument("--bidders", type=int, default=200)
    for kind in ("hot", "fanout", "spread", "idle", "deliver"):
        p = sub.add_parser(kind)
        p.add_argument("--processes", type=int, default=2)
        p.add_argument("--bidders", type=int, default=50)
        p.add_argument("--watchers", type=int, default=100)
        p.add_argument("--duration", type=float, default=20)
        p.add_argument("--rate", type=float, default=100)
        p.add_argument("--auctions", type=int, default=100)
        p.add_argument("--connections", type=int, default=10_000)
        p.add_argument("--coalesce-ms", type=int, default=50)
        p.add_argument(
            "--frame-budget", type=float, default=20_000, help="REALTIME FRAME_BUDGET_PER_S of each server (0: none)"
        )
        p.add_argument("--watcher-procs", type=int, default=2)
        p.add_argument(
            "--watcher-load",
            choices=("c", "python"),
            default="c",
            help="the watchers' reader: bench/watcher.c built with the machine's compiler (python "
            "where none builds), or the Python RawWatcher",
        )
        p.add_argument(
            "--bidder-processes",
            type=int,
            default=0,
            help="hot/fanout/spread: the bidders connect to the first K server processes only and the watchers "
            "to the others (0: everyone on every process in turn)",
        )
        p.add_argument(
            "--fanout",
            choices=("hub", "channels"),
            default="hub",
            help="REALTIME FANOUT of each server: the hub (default) or group_send per state",
        )
        p.add_argument("--bidding", choices=("realistic", "minimum"), default="realistic")
        p.add_argument(
            "--learn-outbid",
            action="store_true",
            help="hot/spread: a leader also learns it was outbid from the personal notification (sent at commit), "
            "not only from the state feed's next flush",
        )
        p.add_argument(
            "--offered",
            action="store_true",
            help="fanout: offer bids at --rate whatever the replies (open loop) instead of one chain",
        )
        p.add_argument(
            "--max-share",
            type=float,
            default=0.0,
            help="share of bids carrying max_amount (servers that do not know the field refuse it)",
        )
        p.add_argument("--pgbench-seconds", type=float, default=10, help="0: skip the pgbench ceiling")
        p.add_argument(
            "--bid-door",
            action="store_true",
            help="the bidders bid over the bid door (ws/auctions/<id>/bid/), which hears no state: fanout's "
            "instead of their socket, hot/spread's beside their watch socket (as the live page); "
            "with --nginx --bidder-processes K, nginx sends it to the first K processes (CLUSTER_BID_PORTS), "
            "with neither, every door socket of an auction goes to one process (as nginx's hash)",
        )
        p.add_argument(
            "--nginx",
            action="store_true",
            help="clients connect through one nginx in front of the processes (the cluster's config)",
        )
    args = parser.parse_args()
    if getattr(args, "bidder_processes", 0):
        if not 0 < args.bidder_processes < args.processes:
            parser.error("--bidder-processes K needs 0 < K < --processes")
        if args.nginx and not args.bid_door:
            parser.error("--bidder-processes K with --nginx needs --bid-door (nginx routes by path)")
    if getattr(args, "bid_door", False) and args.kind not in ("fanout", "hot", "spread"):
        parser.error("--bid-door is for fanout, hot and spread: the runs with bidders")
    if hasattr(args, "duration"):
        args.duration = min(args.duration, 60)  # never let a run take over the machine
    if args.kind == "setup":
        cmd_setup(args)
    else:
        cmd_run(args)


if __name__ == "__main__":
    main()
