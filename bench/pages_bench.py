"""List pages at scale (run by hand, not in CI; a smoke run is in tests/bench/). See docs/benchmarks.md.

  .venv/bin/python bench/pages_bench.py setup   --auctions 100000
  .venv/bin/python bench/pages_bench.py run     --requests 100
  .venv/bin/python bench/pages_bench.py explain

setup:   bulk-loads (COPY) a bench database: the migrations load the 3,512 real 동 of Korea (every
         seller lives in one of them at random: 행정동 are roughly population-sized units); extra
         synthetic ones (district prefix "벤치") only if --neighbourhoods asks for more in total,
         --users verified users with wallets, --auctions open auctions
         (about 20 % national) and --ended ended ones, some with a photo row. Replaces earlier
         bench rows; refuses a database whose name does not start with nb_bench or test_.
run:     the pages in-process through Django's test Client (middleware, view, template: the
         server's time without the socket), --requests each after a warm-up; prints p50/p95/p99
         per page and the queries per request.
explain: EXPLAIN (ANALYZE, BUFFERS) of every auction query each page runs.

The database: --database-url, else BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/nb_bench_pages
(never DATABASE_URL: that is usually the dev database).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

BASE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/nb_bench_pages"
SECRET = "bench-secret-key-not-for-production"
BENCH_DISTRICT = "벤치"
WORDS = [
    "식탁", "의자", "소파", "냉장고", "세탁기", "전자레인지", "노트북", "아이패드", "카메라", "자전거",
    "유모차", "아기침대", "책상", "책장", "운동화", "가방", "코트", "패딩", "캠핑 의자", "텐트",
    "레고", "닌텐도", "플레이스테이션", "키보드", "모니터", "선풍기", "에어컨", "가습기", "청소기", "커피머신",
]  # fmt: skip
ADJECTIVES = ["원목", "거의 새 것", "급처", "한정판", "미개봉", "깨끗한", "이사 정리", "빈티지", "대형", "소형"]
CATEGORIES = [
    "furniture", "appliance", "digital", "kids", "clothing", "sports", "books", "hobby", "limited", "other",
]  # fmt: skip


def configure(database_url: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": os.environ.get("SECRET_KEY", SECRET),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "neighborbid.settings",
        }
    )
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")
    os.environ.setdefault("BUS_PREFIX", "nbbench_pages")
    import django

    django.setup()


def ensure_database(database_url: str) -> None:
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    if not (name.startswith("nb_bench") or name.startswith("test_")):
        raise SystemExit(f"refusing to load bench rows into {name!r}: use a database named nb_bench* or test_*")
    with psycopg.connect(
        host=url.hostname, port=url.port or 5432, user=url.username or "postgres", dbname="postgres", autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def pctl(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# --- setup -------------------------------------------------------------------------------------


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    n = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def cmd_setup(args) -> None:
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Neighbourhood

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    from accounts.services import neighbourhoods_load

    neighbourhoods_load()  # the 3,512 real 동 (idempotent; a flushed test database gets them back)
    rng = random.Random(args.seed)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cur:
        # earlier bench rows out (children first), the seeded 동 stay
        cur.execute(
            "DELETE FROM auctions_auctionphoto WHERE auction_id IN"
            " (SELECT a.id FROM auctions_auction a JOIN accounts_user u ON u.id = a.seller_id"
            "  WHERE u.username LIKE 'pbench-%')"
        )
        cur.execute(
            "DELETE FROM auctions_auction WHERE seller_id IN (SELECT "
            "id FROM accounts_user WHERE username LIKE 'pbench-%')"
        )
        cur.execute(
            "DELETE FROM wallets_wallet WHERE user_id IN (SELECT id FROM accounts_user WHERE username LIKE 'pbench-%')"
        )
        cur.execute("DELETE FROM accounts_user WHERE username LIKE 'pbench-%'")
        cur.execute("DELETE FROM accounts_neighbourhood WHERE district LIKE %s", [BENCH_DISTRICT + "%"])

        # neighbourhoods: the seeds plus a jittered grid over Seoul and its edge
        have = Neighbourhood.objects.count()
        extra = max(0, args.neighbourhoods - have)
        side = max(1, int(extra**0.5) + 1)
        rows = []
        for k in range(extra):
            i, j = divmod(k, side)
            lat = 37.42 + 0.30 * (i + rng.random() * 0.8) / side
            lon = 126.80 + 0.40 * (j + rng.random() * 0.8) / side
            rows.append((f"{BENCH_DISTRICT}구{k // 20 + 1}", f"벤치{k + 1}동", lat, lon))
        _copy(cur, "accounts_neighbourhood", ["district", "name", "latitude", "longitude"], rows)
        nbhd_ids = list(Neighbourhood.objects.values_list("id", flat=True))

        # users (verified in a random 동) and their wallets
        password = make_password(None)  # unusable: bench users sign in by session
        user_rows = []
        for n in range(args.users):
            user_rows.append(
                (
                    f"pbench-{n}", password, f"이웃{n}", "", "", "", False, True, False, now,
                    rng.choice(nbhd_ids), now, rng.choice([3, 6, 10]), False, "", "36.5",
                )
            )  # fmt: skip
        _copy(
            cur,
            "accounts_user",
            [
                "username", "password", "nickname", "first_name", "last_name", "email", "is_staff", "is_active",
                "is_superuser", "date_joined", "neighbourhood_id", "location_verified_at", "search_radius_km",
                "is_suspended", "suspended_reason", "manner_temperature",
            ],
            user_rows,
        )  # fmt: skip
        cur.execute(
            "INSERT INTO wallets_wallet (user_id, balance, locked_balance, updated_at)"
            " SELECT id, 0, 0, now() FROM accounts_user WHERE username LIKE 'pbench-%'"
        )
        cur.execute("SELECT id, neighbourhood_id FROM accounts_user WHERE username LIKE 'pbench-%'")
        sellers = cur.fetchall()

        def auction_rows():
            total = args.auctions + args.ended
            for n in range(total):
                seller_id, nbhd = rng.choice(sellers)
                is_open = n < args.auctions
                national = rng.random() < 0.2
                start = rng.choice([1_000, 5_000, 10_000, 30_000, 50_000, 100_000, 300_000])
                bids = rng.choice([0, 0, 0, 1, 2, 3, 5, 8, 13, 40])
                price = start + bids * max(1_000, start // 20)
                created = now - timedelta(minutes=rng.uniform(1, 6 * 24 * 60))
                if is_open:
                    starts = created
                    ends = now + timedelta(minutes=rng.uniform(5, 7 * 24 * 60))
                    status, ended_at, reason = "open", None, ""
                else:
                    starts = created - timedelta(days=7)
                    ends = created
                    status, ended_at, reason = rng.choice([("sold", ends, "bids"), ("unsold", ends, "no_bids")])
                word = rng.choice(WORDS)
                title = f"{rng.choice(ADJECTIVES)} {word} {n}"
                description = f"{word} 팝니다. {rng.choice(ADJECTIVES)} 상태예요. 직거래 선호, 동네에서 만나요. #{n}"
                yield (
                    seller_id, title, description, rng.choice(CATEGORIES), "good", start,
                    None, starts, ends, ends, status, national, nbhd, price,
                    None, bids, "[]", bids, None, reason, ended_at, "",
                    60, 60, 1800, rng.random() < 0.01, "", False, created, created,
                    0, "", f"{rng.getrandbits(128):032x}",  # an empty bid log, a salt of its own
                    price, bids, created, False,  # the lists' sort keys (migration 0018)
                )  # fmt: skip

        count = _copy(
            cur,
            "auctions_auction",
            [
                "seller_id", "title", "description", "category", "condition", "start_price",
                "buy_now_price", "starts_at", "ends_at", "original_ends_at", "status", "is_national",
                "neighbourhood_id",
                "current_price", "leader_id", "bid_count", "recent_bids", "seq", "winner_id", "end_reason", "ended_at",
                "buy_now_request_id", "soft_close_window_s", "soft_close_extension_s", "soft_close_cap_s",
                "is_hidden", "hidden_reason", "ending_soon_notified", "created_at", "updated_at",
                "log_seq", "log_head", "log_salt", "sort_price", "sort_bids", "sort_at", "sort_stale",
            ],
            auction_rows(),
        )  # fmt: skip
        # a photo row for about half of them (the list shows the first thumbnail)
        cur.execute(
            "INSERT INTO auctions_auctionphoto (auction_id, image, thumbnail, position)"
            " SELECT id, 'auctions/' || id || '/a.jpg', 'auctions/' || id || '/a_t.jpg', 0"
            " FROM auctions_auction WHERE id % 2 = 0"
            " AND seller_id IN (SELECT id FROM accounts_user WHERE username LIKE 'pbench-%')"
        )
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")  # the visibility map lets the id queries skip the heap
    print(
        f"setup: {len(nbhd_ids)} neighbourhoods, {len(sellers)} users, {count} auctions "
        f"({args.auctions} open) in {connection.settings_dict['NAME']} in {time.monotonic() - started:.1f}s"
    )


# --- run ---------------------------------------------------------------------------------------


def pages(rng: random.Random) -> list[tuple[str, str | None, dict]]:
    """(name, radius of the signed-in viewer or None for anonymous, GET params)."""
    word = rng.choice(WORDS)
    return [
        ("home anonymous (all local)", None, {}),
        ("home national", None, {"tab": "national"}),
        ("home local 3km", "3", {}),
        ("home local 6km", "6", {}),
        ("home local 10km", "10", {}),
        ("search '식탁' anonymous", None, {"q": "식탁"}),
        ("search '식탁' local 10km", "10", {"q": "식탁"}),
        (f"search '{word}' national", None, {"tab": "national", "q": word}),
        ("search rare 3+ chars '플레이스테이션 7'", None, {"q": "플레이스테이션 7"}),
        ("search no match 2 chars '없음'", None, {"q": "없음"}),
        ("category furniture", None, {"category": "furniture"}),
        ("category digital local 6km", "6", {"category": "digital"}),
        ("sort newest national", None, {"tab": "national", "sort": "newest"}),
        ("sort bids local 10km", "10", {"sort": "bids"}),
        # "내 근처" (issue 20): ?km= around the viewer's 동, anywhere in Korea and in dense Seoul
        ("near 1km", "3", {"km": "1"}),
        ("near 3km", "3", {"km": "3"}),
        ("near 5km", "6", {"km": "5"}),
        ("near 10km", "10", {"km": "10"}),
        ("near 10km Seoul", "seoul", {"km": "10"}),
        ("near 10km Seoul search '식탁'", "seoul", {"km": "10", "q": "식탁"}),
        ("near 10km Seoul newest page 50", "seoul", {"km": "10", "sort": "newest", "page": "50"}),
        ("page 50 (the last) national", None, {"tab": "national", "page": "50"}),
        ("page 50 (the last) all local", None, {"page": "50"}),
        ("page 50 local 10km newest", "10", {"sort": "newest", "page": "50"}),
    ]


def _viewers(radius: str, count: int):
    from django.test import Client

    from accounts.models import User

    users = User.objects.filter(username__startswith="pbench-", neighbourhood__isnull=False)
    if radius == "seoul":
        users = users.filter(neighbourhood__district__startswith="서울특별시")
    else:
        users = users.filter(search_radius_km=int(radius))
    users = list(users.order_by("?").select_related("neighbourhood")[:count])
    clients = []
    for user in users:
        client = Client()
        client.force_login(user)
        clients.append(client)
    return clients


def _follow_to_page(client, params: dict) -> dict:
    """The GET params of the `params["page"]`-th page as the 다음 links lead there (with the
    keyset cursor), or the last page if the list is shorter."""
    import re
    from urllib.parse import parse_qsl

    target = int(params["page"])
    current = {k: v for k, v in params.items() if k != "page"}
    for _ in range(target - 1):
        html = client.get("/", current).content.decode()
        found = re.search(r'href="\?([^"]*)" rel="next"', html)
        if not found:
            break
        current = dict(parse_qsl(found.group(1).replace("&amp;", "&")))
    return current


def cmd_run(args) -> None:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    rng = random.Random(args.seed)
    anonymous = Client()
    viewers = {r: _viewers(r, args.viewers) for r in ("3", "6", "10", "seoul")}
    print(
        f"{'page':40} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'cpu50':>7}  queries  "
        f"(ms, n={args.requests}; cpu50: this process's CPU per request, p50, the least load-sensitive)"
    )
    worst = 0.0
    for name, radius, params in pages(rng):
        clients = viewers[radius] if radius else [anonymous]
        if not clients:
            print(f"{name:40} (no viewer with that radius)")
            continue
        times, cpu = [], []
        queries = 0
        # A deep page is reached as a person reaches it: by the 다음 links (keyset cursors), so
        # each viewer's page-N link is found first (untimed), then timed like any other page.
        per_client = [_follow_to_page(client, params) for client in clients] if "page" in params else None
        for n in range(args.warmup + args.requests):
            client = clients[n % len(clients)]
            page_params = per_client[n % len(clients)] if per_client else params
            reset_queries()  # the log keeps 9,000 queries: past that the count below would be wrong
            with CaptureQueriesContext(connection) as ctx:
                t0, c0 = time.perf_counter(), time.process_time()
                response = client.get("/", page_params)
                elapsed = (time.perf_counter() - t0) * 1000
                cpu_ms = (time.process_time() - c0) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{name}: HTTP {response.status_code}")
            if n >= args.warmup:
                times.append(elapsed)
                cpu.append(cpu_ms)
                queries = max(queries, len(ctx.captured_queries))
        p95 = pctl(times, 0.95)
        worst = max(worst, p95)
        print(
            f"{name:40} {pctl(times, 0.5):7.1f} {p95:7.1f} {pctl(times, 0.99):7.1f} {max(times):7.1f} "
            f"{pctl(cpu, 0.5):7.1f}  {queries:7d}"
        )
    print(f"summary: worst p95 {worst:.1f} ms over {len(pages(rng))} pages")


def cmd_explain(args) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    rng = random.Random(args.seed)
    anonymous = Client()
    viewers = {r: _viewers(r, 1) for r in ("3", "6", "10", "seoul")}
    for name, radius, params in pages(rng):
        clients = viewers[radius] if radius else [anonymous]
        if not clients:
            continue
        if "page" in params:
            params = _follow_to_page(clients[0], params)
        clients[0].get("/", params)  # warm
        with CaptureQueriesContext(connection) as ctx:
            clients[0].get("/", params)
        for query in ctx.captured_queries:
            sql = query["sql"]
            if "auctions_auction" not in sql and "accounts_neighbourhood" not in sql:
                continue
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
                plan = "\n".join(row[0] for row in cur.fetchall())
            out = io.StringIO()
            out.write(f"=== {name} ({query['time']}s in the page)\n{sql[:600]}\n{plan}\n")
            print(out.getvalue())
    print("summary: explain done")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--seed", type=int, default=13)
    sub = parser.add_subparsers(dest="cmd", required=True)
    setup = sub.add_parser("setup")
    setup.add_argument("--auctions", type=int, default=100_000)
    setup.add_argument("--ended", type=int, default=20_000)
    setup.add_argument("--neighbourhoods", type=int, default=0, help="total 동 wanted (0: the real 3,512 only)")
    setup.add_argument("--users", type=int, default=2_000)
    run = sub.add_parser("run")
    run.add_argument("--requests", type=int, default=100)
    run.add_argument("--warmup", type=int, default=5)
    run.add_argument("--viewers", type=int, default=20)
    sub.add_parser("explain")
    args = parser.parse_args(argv)
    if args.cmd == "setup":
        ensure_database(args.database_url)
    configure(args.database_url)
    {"setup": cmd_setup, "run": cmd_run, "explain": cmd_explain}[args.cmd](args)


if __name__ == "__main__":
    main()
