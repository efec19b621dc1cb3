"""Chat load generator (run by hand, not in CI). See docs/benchmarks.md, "Chat".

  .venv/bin/python bench/chat_bench.py setup --rooms 1000
  .venv/bin/python bench/chat_bench.py run   --rooms 1000 --rate 200 --processes 2 --duration 20

setup: N trades made through the real services (two users each, a buy-now sale, which opens
       the trade's room), with a session per user; kept in BENCH_DATA (chat part) and reused.
run:   P Daphne processes; each room's buyer on one process and its seller on the next, so
       every message crosses processes through Redis. Messages are sent at --rate across the
       rooms (round robin, alternating sides) over the sockets. Reports p50/p99/max from the
       send to the moment the other side's socket receives it, and checks that every
       message reached the other side exactly once and in order (per-room seq without gaps or
       repeats). The receiving side marks each message read (`read`, answered by `unread`),
       as chat.js does on a visible page; --no-reads leaves that out. --profile OUT records
       the servers with py-spy while sending. The last line is a one-line summary.

Shares BENCH_DB, BENCH_PG, BENCH_REDIS, BENCH_PREFIX, BENCH_PORT0, BENCH_DATA with ws_bench.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ws_bench import BENCH_DB, DATA, PG, Servers, django_setup, pctl  # noqa: E402

CHAT_DATA = DATA.with_name(DATA.stem + "-chat.json")


def cmd_setup(args) -> None:
    import subprocess

    from ws_bench import BASE

    exists = subprocess.run(
        ["psql", PG + "/postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{BENCH_DB}'"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(["psql", PG + "/postgres", "-c", f"CREATE DATABASE {BENCH_DB}"], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE, check=True)
    django_setup()
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import User
    from accounts.services import user_create
    from auctions.services import auction_buy_now, auction_create
    from chat.models import Room
    from wallets.services import wallet_adjust

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    staff = User.objects.filter(username="bench-staff").first() or user_create(
        username="bench-staff", password="bench-pass-1234", nickname="벤치관리자", superuser=True
    )

    def cookie(user) -> str:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.set_expiry(7 * 86400)
        session.save()
        return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"

    def user(name: str):
        return User.objects.filter(username=name).first() or user_create(
            username=name, password="quiet-harbour-7319", nickname=name[-12:]
        )

    rooms = []
    for n in range(args.rooms):
        seller, buyer = user(f"chatseller{n}"), user(f"chatbuyer{n}")
        room = Room.objects.filter(seller=seller, buyer=buyer).first()
        if room is None:
            if buyer.wallet.balance < 10_000:
                wallet_adjust(user=buyer, amount=1_000_000, staff_user=staff, reason="bench")
            auction = auction_create(
                actor=seller,
                title=f"벤치 채팅 {n}",
                start_price=1_000,
                buy_now_price=2_000,
                duration=timedelta(hours=2),
                is_national=True,
            )
            auction_buy_now(auction_id=auction.pk, actor=buyer, request_id=f"bench-chat-{n}-{auction.pk}")
            room = Room.objects.get(trade__auction=auction)
        rooms.append({"room": room.pk, "buyer": cookie(buyer), "seller": cookie(seller)})
    CHAT_DATA.write_text(json.dumps({"rooms": rooms}))
    print(f"setup: {len(rooms)} rooms (2 users each, sessions) in {BENCH_DB}; data in {CHAT_DATA}")


class Side:
    """One user's socket in one room: records what it receives, checks order and repeats."""

    def __init__(self, room: int, role: str, url: str, cookie: str, stats: dict, *, reads: bool = True) -> None:
        self.room, self.role, self.url, self.cookie, self.stats = room, role, url, cookie, stats
        self.reads = reads
        self.conn = None
        self.seq = 0
        self.pending: dict[str, float] = {}
        self.peer: Side | None = None
        self.task: asyncio.Task | None = None

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        origin = self.url.split("/ws/")[0].replace("ws://", "http://")
        self.conn = await connect(self.url, origin=origin, additional_headers={"Cookie": self.cookie}, open_timeout=30)
        ready = json.loads(await self.conn.recv())
        assert ready["type"] == "ready", ready
        self.seq = ready["seq"]
        await self.conn.send(json.dumps({"type": "sync", "request_id": "s", "seq": self.seq}))
        while True:
            frame = json.loads(await self.conn.recv())
            if frame["type"] == "sync":
                break
        self.task = asyncio.get_running_loop().create_task(self.read())

    async def read(self) -> None:
        stats = self.stats
        async for raw in self.conn:
            now = time.time()
            frame = json.loads(raw)
            kind = frame["type"]
            if kind == "message":
                message = frame["message"]
                seq = message["seq"]
                if seq <= self.seq:
                    stats["repeated"] += 1
                    continue
                if seq != self.seq + 1:
                    stats["out_of_order"] += 1
                self.seq = seq
                text = message.get("text") or ""
                if message.get("sender") != self.role and text.startswith("b:"):
                    _, sent, key = text.split(":", 2)
                    if key in stats["delivered"]:
                        stats["repeated"] += 1
                    else:
                        stats["delivered"].add(key)
                        stats["latency"].append((now - float(sent)) * 1000)
                    if self.reads:  # as chat.js does on a visible page: "shown up to here"
                        stats["reads"] += 1
                        await self.conn.send(json.dumps({"type": "read", "seq": seq}))
            elif kind == "unread":
                stats["unread_answers"] += 1
            elif kind == "ack":
                stats["acks"] += 1
                if frame.get("duplicate"):
                    stats["duplicate_acks"] += 1  # an id seen before: this message was not sent again
            elif kind == "error":
                stats["errors"][frame.get("code")] = stats["errors"].get(frame.get("code"), 0) + 1

    async def say(self, key: str) -> None:
        self.stats["sent"].add(key)
        text = f"b:{time.time():.6f}:{key}"
        await self.conn.send(json.dumps({"type": "send", "request_id": key, "text": text}))


def _profile(servers: Servers, out: str, duration: float) -> list:
    """py-spy (if installed: `pip install py-spy`, or PY_SPY=/path) records each server
    process for the sending phase, sampling whichever thread holds the GIL (where the Python
    CPU goes); collapsed stacks (flamegraph.pl input) at OUT-<port>.txt."""
    import os
    import shutil
    import subprocess

    spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if not spy:
        raise SystemExit("--profile needs py-spy (pip install py-spy, or PY_SPY=/path/to/py-spy)")
    return [
        subprocess.Popen(
            [spy, "record", "-p", str(proc.pid), "-d", str(int(duration)), "-r", "100"]
            + ["-o", f"{out}-{port}.txt", "-f", "raw", "--threads", "--gil", "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for proc, port in zip(servers.procs, servers.ports, strict=True)
    ]


async def scenario(args, servers: Servers, rooms: list[dict]) -> dict:
    stats = {
        "sent": set(),
        "delivered": set(),
        "latency": [],
        "repeated": 0,
        "out_of_order": 0,
        "errors": {},
        "acks": 0,
        "duplicate_acks": 0,
        "reads": 0,
        "unread_answers": 0,
    }
    ports = servers.ports
    sides: list[tuple[Side, Side]] = []
    for n, room in enumerate(rooms):
        a = Side(
            room["room"],
            "buyer",
            f"ws://127.0.0.1:{ports[n % len(ports)]}/ws/chat/{room['room']}/",
            room["buyer"],
            stats,
            reads=args.reads,
        )
        b = Side(
            room["room"],
            "seller",
            f"ws://127.0.0.1:{ports[(n + 1) % len(ports)]}/ws/chat/{room['room']}/",
            room["seller"],
            stats,
            reads=args.reads,
        )
        sides.append((a, b))
    gate = asyncio.Semaphore(50)

    async def opened(side: Side) -> None:
        async with gate:
            await side.open()

    started = time.monotonic()
    await asyncio.gather(*(opened(side) for pair in sides for side in pair))
    connect_s = time.monotonic() - started
    cpu_before = servers.cpu_s()
    profilers = _profile(servers, args.profile, args.duration) if args.profile else []

    # Request ids are the messages' client ids: a resend of one returns the first message, so
    # each run needs its own (a run reusing an earlier run's ids would send nothing new).
    run_id = f"{int(time.time() * 1000):x}"
    interval = 1.0 / args.rate
    begin = time.monotonic()
    stop_at = begin + args.duration
    n = 0
    while time.monotonic() < stop_at:
        pair = sides[n % len(sides)]
        sender = pair[(n // len(sides)) % 2]
        await sender.say(f"{run_id}-{sender.room}-{n}")
        n += 1
        delay = begin + n * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    send_s = time.monotonic() - begin
    send_cpu = [round(b - a, 2) for a, b in zip(cpu_before, servers.cpu_s(), strict=True)]
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline and (
        len(stats["delivered"]) < len(stats["sent"])
        or stats["acks"] < len(stats["sent"])
        or stats["unread_answers"] < stats["reads"]
    ):
        await asyncio.sleep(0.05)
    for pair in sides:
        for side in pair:
            await side.conn.close()
    for spy in profilers:
        spy.wait(timeout=60)
    latency = stats["latency"]
    missing = len(stats["sent"] - stats["delivered"])
    return {
        "scenario": "chat",
        "rooms": len(rooms),
        "sockets": 2 * len(rooms),
        "processes": len(ports),
        "connect_s": round(connect_s, 2),
        "target_rate": args.rate,
        "sent": len(stats["sent"]),
        "sent_per_s": round(len(stats["sent"]) / send_s, 1),
        "delivered": len(stats["delivered"]),
        "missing": missing,
        "repeated": stats["repeated"],
        "out_of_order": stats["out_of_order"],
        "errors": stats["errors"],
        "acks": stats["acks"],
        "reads_sent": stats["reads"],
        "unread_answers": stats["unread_answers"],
        "duplicate_acks": stats["duplicate_acks"],
        "latency_ms": {
            "p50": round(pctl(latency, 0.50), 1),
            "p99": round(pctl(latency, 0.99), 1),
            "max": round(max(latency), 1) if latency else None,
        },
        "server_cpu_s_while_sending": send_cpu,
        "server_cpu_ms_per_message": round(1000 * sum(send_cpu) / max(1, len(stats["sent"])), 2),
        "exactly_once_in_order": missing == 0 and stats["repeated"] == 0 and stats["out_of_order"] == 0,
    }


def cmd_run(args) -> None:
    rooms = json.loads(CHAT_DATA.read_text())["rooms"][: args.rooms]
    if len(rooms) < args.rooms:
        raise SystemExit(f"only {len(rooms)} rooms in {CHAT_DATA}: run `setup --rooms {args.rooms}` first")
    extra = {"CHAT_MESSAGE_RATE_PER_S": "1000", "CHAT_MESSAGE_BURST": "1000"}
    with Servers(args.processes, extra_env=extra) as servers:
        cpu0 = servers.cpu_s()
        result = asyncio.run(scenario(args, servers, rooms))
        cpu = [round(b - a, 2) for a, b in zip(cpu0, servers.cpu_s(), strict=True)]
        result["server_cpu_s"] = cpu
    print(json.dumps(result, ensure_ascii=False, indent=2))
    lat = result["latency_ms"]
    print(
        f"summary: chat rooms={result['rooms']} processes={result['processes']} reads={args.reads} "
        f"sent/s={result['sent_per_s']} "
        f"p50={lat['p50']}ms p99={lat['p99']}ms missing={result['missing']} repeated={result['repeated']} "
        f"out_of_order={result['out_of_order']} exactly_once_in_order={result['exactly_once_in_order']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup")
    setup.add_argument("--rooms", type=int, default=1000)
    run = sub.add_parser("run")
    run.add_argument("--rooms", type=int, default=1000)
    run.add_argument("--rate", type=float, default=200.0, help="messages per second across all rooms")
    run.add_argument("--processes", type=int, default=2)
    run.add_argument("--duration", type=float, default=20.0)
    run.add_argument(
        "--reads",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the receiving page marks each message read, as chat.js does while visible (default: on)",
    )
    run.add_argument("--profile", metavar="OUT", help="py-spy flame graphs of the servers while sending")
    run.add_argument("--drain", type=float, default=5.0, help="seconds to wait for the last deliveries")
    args = parser.parse_args()
    {"setup": cmd_setup, "run": cmd_run}[args.command](args)


if __name__ == "__main__":
    main()
