"""Reads from a PostgreSQL standby (issue 23 item 2, neighborbid/replica.py).

The settings and router rules run in the fast suite. The routing itself is tested for real: a
primary and a streaming standby made by deploy/cluster/pg.sh (ports of their own, never the
cluster's 15432/15433), Daphne servers with DATABASE_URL on the primary and DATABASE_REPLICA_URL on
the standby, and `pg_wal_replay_pause()` / a stopped standby for the faults. A scoped response
says in its X-NB-Reads header which server answered its reads; the page's content says whether it
was stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookies
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client

from auctions.models import Auction, Bid
from neighborbid import replica
from tests.realtime.servers import BASE_DIR, Daphne, free_ports, server_env

PG_SH = BASE_DIR / "deploy" / "cluster" / "pg.sh"


# --- settings and the router's fixed rules (fast suite) -----------------------------------------


@pytest.mark.django_db
def test_without_a_replica_url_nothing_changes():
    # given: the test settings, which name no DATABASE_REPLICA_URL
    assert not settings.DATABASE_REPLICA_URL

    # when: a page the scope covers is read
    response = Client().get("/")

    # then: one database, no router, no write-noting middleware, and the page says nothing of a standby
    assert list(settings.DATABASES) == ["default"]
    assert getattr(settings, "DATABASE_ROUTERS", []) == []
    assert "neighborbid.replica.StandbyWriteMiddleware" not in settings.MIDDLEWARE
    assert response.status_code == 200
    assert replica.HEADER not in response.headers


def test_a_replica_url_adds_the_alias_the_router_and_the_middleware():
    # given: the environment of a deployment with a standby
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:15432/neighborbid",
        "DATABASE_REPLICA_URL": "postgres://postgres@127.0.0.1:15433/neighborbid",
        "SECRET_KEY": "x",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    code = (
        "import json, neighborbid.settings as s; "
        "print(json.dumps({'dbs': s.DATABASES, 'routers': s.DATABASE_ROUTERS, 'mw': s.MIDDLEWARE}, default=str))"
    )

    # when: the settings are read
    out = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=BASE_DIR, capture_output=True, text=True, check=True, timeout=30
        ).stdout
    )  # noqa: E501, S603

    # then: the standby is an alias of its own, read-only, a short wait for a connection, the
    # test database's mirror; the router and the middleware (after authentication) are installed
    standby = out["dbs"]["replica"]
    assert (standby["PORT"], out["dbs"]["default"]["PORT"]) == ("15433", "15432")
    assert standby["TEST"] == {"MIRROR": "default"}
    assert "default_transaction_read_only=on" in standby["OPTIONS"]["options"]
    assert standby["OPTIONS"]["pool"]["timeout"] == 1.0
    assert out["routers"] == ["neighborbid.replica.ReplicaRouter"]
    mw = out["mw"]
    assert mw.index("neighborbid.replica.StandbyWriteMiddleware") == (
        mw.index("accounts.middleware.AuthenticationMiddleware") + 1
    )


def test_the_router_reads_the_standby_only_inside_the_scope_and_never_writes_or_migrates_there():
    router = replica.ReplicaRouter()
    # given: no scope; then a scope that chose the standby (the router's own input)
    outside = router.db_for_read(Auction)
    token = replica._scope.set(replica._Scope(use_standby=True))
    try:
        # when / then: reads inside go to the standby; writes, even there, to the primary
        assert router.db_for_read(Bid) == "replica"
        assert router.db_for_write(Bid) == "default"
        assert router.db_for_write(Auction, instance=Auction()) == "default"
    finally:
        replica._scope.reset(token)
    assert outside == "default"  # explicit, never None (an object's own _state.db would win)
    assert router.allow_migrate("default", "auctions") is True
    assert router.allow_migrate("replica", "auctions") is False


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_scope_reads_the_primary():
    router = replica.ReplicaRouter()
    token = replica._scope.set(replica._Scope(use_standby=True))
    try:
        # given: a transaction on the primary (a service's), inside the read-only scope
        with transaction.atomic():
            # when / then: its reads stay on the primary (consistent with its own writes and locks)
            assert router.db_for_read(Auction) == "default"
    finally:
        replica._scope.reset(token)


def test_lsns_compare_as_positions_not_as_text():
    assert replica.lsn_to_int("0/A0000000") > replica.lsn_to_int("0/9FFFFFFF")
    assert replica.lsn_to_int("1/0") > replica.lsn_to_int("0/FFFFFFFF")
    assert replica.lsn_to_int("16/B374D848") == (0x16 << 32) | 0xB374D848


# --- a real primary and standby -----------------------------------------------------------------


class Pair:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.primary_port, self.standby_port = free_ports(2, start=25400, stop=25500)
        self.env = {
            **os.environ,
            "PG_PRIMARY_PORT": str(self.primary_port),
            "PG_STANDBY_PORT": str(self.standby_port),
            "PG_FSYNC": "off",  # a throwaway pair
        }

    def pg_sh(self, command: str) -> str:
        done = subprocess.run(  # noqa: S603 - our own script
            [str(PG_SH), command, str(self.root)], env=self.env, capture_output=True, text=True, timeout=30
        )
        if done.returncode != 0 and command != "status":
            raise RuntimeError(f"pg.sh {command}: {done.stdout}{done.stderr}")
        return done.stdout

    def url(self, port: int) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/neighborbid"

    def sql(self, port: int, query: str) -> object:
        with psycopg.connect(self.url(port), autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(query).fetchone()
        return row[0] if row else None

    def caught_up(self, timeout: float = 10) -> None:
        """Commit a transaction on the primary and wait until the standby has replayed it (so the
        standby's last replayed transaction is a fresh one: its measured lag starts near 0)."""
        self.sql(self.primary_port, "SELECT txid_current()")  # a transaction with a commit record
        target = self.sql(self.primary_port, "SELECT pg_current_wal_lsn()")  # past that commit
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sql(self.standby_port, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
                return
            time.sleep(0.05)
        raise AssertionError("the standby did not catch up")

    def stop_standby(self) -> None:
        subprocess.run(  # noqa: S603
            ["runuser", "-u", "postgres", "--", f"{self.pg_bindir()}/pg_ctl", "-D", str(self.root / "pg-standby"),
             "-m", "immediate", "-w", "stop"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip

    @staticmethod
    def pg_bindir() -> str:
        return subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()  # noqa: S607


SEED = """
import json
from django.test import Client
from tests import factories as f
f.ensure_neighbourhoods()
seller = f.make_user()
bidder = f.make_user(balance=1_000_000)
auctions = [f.make_auction(seller=seller, title=f"standby-{n}").pk for n in range(3)]
auctions.append(f.make_auction(seller=seller, title="standby-live", is_national=True).pk)
auctions.append(f.make_auction(seller=seller, title="standby-app").pk)
client = Client()
client.force_login(bidder)
from accounts.services import device_token_create
_, token = device_token_create(actor=bidder, name="standby phone")
print("SEED" + json.dumps({"auctions": auctions, "session": client.cookies["sessionid"].value, "token": token}))
"""


@pytest.fixture(scope="module")
def pair():
    """A migrated primary + standby with one seller, one funded bidder (signed in: a session
    cookie), three local auctions and a national (live) one."""
    # not pytest's tmp dir: it is private to root (0700) and the servers run as postgres
    root = Path(tempfile.mkdtemp(prefix="nb-standby-"))
    root.chmod(0o755)
    pair = Pair(root)
    pair.pg_sh("start")
    try:
        # a prefix of this run's own: a user's remembered write position (30 s in Redis) belongs to
        # this pair; the same user id of the last run's pair must not hold its reads on the primary
        prefix = f"{settings.BUS_PREFIX}-standby-{uuid.uuid4().hex[:8]}"
        env = server_env(redis_url=settings.REDIS_URL, bus_prefix=prefix)
        env["DATABASE_URL"] = pair.url(pair.primary_port)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=BASE_DIR, check=True, timeout=60)  # noqa: S603
        seeded = subprocess.run(  # noqa: S603
            [*manage, "shell", "-c", SEED], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=60
        )
        line = next((x for x in seeded.stdout.splitlines() if x.startswith("SEED")), None)
        assert line, seeded.stdout + seeded.stderr
        pair.seed = json.loads(line[4:])
        pair.server_env = {**env, "DATABASE_REPLICA_URL": pair.url(pair.standby_port), "STANDBY_MAX_LAG_S": "3"}
        yield pair
    finally:
        pair.pg_sh("stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def web(pair, tmp_path_factory):
    """A Daphne with standby reads: the standby's state asked every 0.15 s."""
    logs = tmp_path_factory.mktemp("logs")
    server = Daphne(free_ports(1, start=8400, stop=8460)[0], pair.server_env, logs / "web.log").start().wait()
    try:
        yield server
    finally:
        server.stop()


class Answer:
    def __init__(self, status: int, headers, body: str) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def reads(self) -> str | None:
        return self.headers.get(replica.HEADER)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def request(url: str, *, session: str | None = None, data: dict | None = None, csrf: str | None = None) -> Answer:
    cookies = {"sessionid": session} if session else {}
    if csrf:
        cookies["csrftoken"] = csrf
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body)  # noqa: S310 - our own server
    if cookies:
        req.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
    if csrf:
        req.add_header("X-CSRFToken", csrf)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=20) as response:
            return Answer(response.status, response.headers, response.read().decode())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers, exc.read().decode(errors="replace"))


def bid(server: Daphne, auction_id: int, amount: int, session: str) -> Answer:
    page = request(f"{server.url}/auctions/{auction_id}/", session=session)
    jar = http.cookies.SimpleCookie()
    for header in page.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    csrf = (
        jar["csrftoken"].value
        if "csrftoken" in jar
        else re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body).group(1)
    )  # type: ignore[union-attr]  # noqa: E501
    return request(
        f"{server.url}/auctions/{auction_id}/bid/",
        session=session,
        csrf=csrf,
        data={"amount": str(amount), "request_id": uuid.uuid4().hex, "confirmed": "on"},
    )


def shows(answer: Answer, amount: int) -> bool:
    return f"{amount:,}" in answer.body


@contextlib.contextmanager
def replay_paused(pair, server: Daphne, page: str) -> Iterator[None]:
    """Given a server reading the standby, and a standby that stops replaying right after catching
    up; replay resumes afterwards whatever happened."""
    reading_the_standby(server, page)
    pair.caught_up()
    pair.sql(pair.standby_port, "SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        pair.sql(pair.standby_port, "SELECT pg_wal_replay_resume()")


def reading_the_standby(server: Daphne, page: str, timeout: float = 10) -> None:
    """Wait until `server` answers `page` from the standby again (past a "down" mark an earlier
    test's stopped standby left in it)."""
    deadline = time.monotonic() + timeout
    while request(server.url + page).reads != "standby":
        assert time.monotonic() < deadline, f"{server.url} never read the standby again"
        time.sleep(0.2)


@pytest.mark.multiprocess
def test_a_caught_up_standby_answers_the_public_pages_for_everyone(pair, web):
    # given: a standby that has replayed everything, a signed-in user with no recent write
    pair.caught_up()
    auction = pair.seed["auctions"][0]
    pages = ["/", f"/auctions/{auction}/", f"/auctions/{auction}/bids/"]
    time.sleep(0.3)  # past the server's check interval

    # when: they and an anonymous visitor read the public pages
    anonymous = [request(web.url + page) for page in pages]
    signed_in = [request(web.url + page, session=pair.seed["session"]) for page in pages]

    # then: every page is answered from the standby
    assert [(a.status, a.reads) for a in anonymous + signed_in] == [(200, "standby")] * 6
    # and pages outside the scope never are (a user's own page)
    mine = request(f"{web.url}/me/", session=pair.seed["session"])
    assert (mine.status, mine.reads) == (200, None)


@pytest.mark.multiprocess
def test_a_bidder_sees_their_own_bid_while_the_standby_lags_and_anonymous_pages_keep_answering(pair, web):
    auction = pair.seed["auctions"][1]
    session = pair.seed["session"]
    # given: a server reading the standby, and a standby that stops replaying right after catching up
    with replay_paused(pair, web, f"/auctions/{auction}/"):
        # when: the bidder bids (on the primary)
        placed = bid(web, auction, 17_000, session)
        assert placed.status == 302, placed.body[:500]
        assert pair.sql(pair.primary_port, f"SELECT current_price FROM auctions_auction WHERE id = {auction}") == 17_000  # noqa: S608

        # then: the bidder's next page shows the bid: it was read from the primary
        mine = request(f"{web.url}/auctions/{auction}/", session=session)
        assert (mine.status, mine.reads, shows(mine, 17_000)) == (200, "primary", True)
        # and an anonymous visitor is answered by the standby, which does not have it yet (the API too)
        anonymous = request(f"{web.url}/auctions/{auction}/")
        assert (anonymous.status, anonymous.reads, shows(anonymous, 17_000)) == (200, "standby", False)
        api = request(f"{web.url}/api/v1/auctions/{auction}")
        assert (api.status, json.loads(api.body)["state"]["current_price"]) == (200, 10_000)

        # when: the standby falls behind more than the bound (STANDBY_MAX_LAG_S=3)
        time.sleep(3.5)
        # then: everyone reads the primary, and sees the bid
        late = request(f"{web.url}/auctions/{auction}/")
        assert (late.status, late.reads, shows(late, 17_000)) == (200, "primary", True)

    # when: the standby has replayed past the bid
    pair.caught_up()
    time.sleep(0.3)
    # then: the bidder's reads go back to the standby, and it shows their bid
    again = request(f"{web.url}/auctions/{auction}/", session=session)
    assert (again.status, again.reads, shows(again, 17_000)) == (200, "standby", True)


@pytest.mark.multiprocess
def test_a_bid_over_the_socket_is_on_the_bidders_next_page_while_the_standby_lags(pair, web):
    from tests.realtime.test_multiprocess import Socket

    auction = pair.seed["auctions"][3]
    session = pair.seed["session"]
    # given: a server reading the standby, and a standby that stops replaying right after catching up
    with replay_paused(pair, web, f"/auctions/{auction}/"):
        # when: the bidder bids on the live page's socket
        async def bid_live() -> dict:
            sock = await Socket.open(web, auction, cookie=f"{settings.SESSION_COOKIE_NAME}={session}")
            try:
                return await sock.request({"type": "bid", "amount": 19_000, "request_id": uuid.uuid4().hex})
            finally:
                await sock.conn.close()

        reply = asyncio.run(bid_live())
        assert reply["type"] == "ack", reply

        # then: their next page (HTTP) has the bid: read from the primary
        mine = request(f"{web.url}/auctions/{auction}/", session=session)
        assert (mine.status, mine.reads, shows(mine, 19_000)) == (200, "primary", True)
        # while an anonymous visitor is still answered by the standby
        anonymous = request(f"{web.url}/auctions/{auction}/")
        assert (anonymous.status, anonymous.reads, shows(anonymous, 19_000)) == (200, "standby", False)


@pytest.mark.multiprocess
def test_an_app_bid_with_a_device_token_is_on_the_apps_next_read_while_the_standby_lags(pair, web):
    """A phone app signs in with a device token, not the session: its write must hold its own
    reads on the primary too (the middleware must see the token's user under ASGI)."""
    auction = pair.seed["auctions"][4]
    headers = {"Authorization": f"Bearer {pair.seed['token']}", "Content-Type": "application/json"}
    with replay_paused(pair, web, f"/auctions/{auction}/"):
        # when: the app bids through the API
        req = urllib.request.Request(  # noqa: S310 - our own server
            f"{web.url}/api/v1/auctions/{auction}/bids",
            data=json.dumps({"amount": 21_000}).encode(),
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        with urllib.request.urlopen(req, timeout=20) as response:  # noqa: S310
            assert response.status in (200, 201)
        # then: the app's next read of the auction has its bid (from the primary)
        req = urllib.request.Request(f"{web.url}/api/v1/auctions/{auction}", headers=headers)  # noqa: S310
        with urllib.request.urlopen(req, timeout=20) as response:  # noqa: S310
            assert json.loads(response.read())["state"]["current_price"] == 21_000
        # while an anonymous app still reads the standby, without it
        anonymous = request(f"{web.url}/api/v1/auctions/{auction}")
        assert json.loads(anonymous.body)["state"]["current_price"] == 10_000


@pytest.mark.multiprocess
def test_a_stopped_standby_sends_reads_to_the_primary_and_the_pages_keep_answering(pair, web, tmp_path):
    auction = pair.seed["auctions"][2]
    # given: a second server that asks the standby's state only every 30 s, so it still believes in
    # a standby that has just died (the read itself fails, not the check)
    env = {**pair.server_env, "STANDBY_CHECK_S": "30"}
    trusting = Daphne(free_ports(1, start=8460, stop=8520)[0], env, tmp_path / "trusting.log").start().wait()
    try:
        pair.caught_up()
        time.sleep(0.3)
        page = f"/auctions/{auction}/"
        warm = [request(server.url + page) for server in (web, trusting)]
        assert [(a.status, a.reads) for a in warm] == [(200, "standby")] * 2

        # when: the standby stops (immediate: as a crash)
        pair.stop_standby()
        time.sleep(0.3)

        # then: both servers answer every page from the primary: the checking one after its check
        # failed, the trusting one by answering the failed read again from the primary
        started = time.monotonic()
        after = [request(server.url + p) for server in (trusting, web) for p in (page, "/", page)]
        assert [(a.status, a.reads) for a in after] == [(200, "primary")] * 6
        assert time.monotonic() - started < 10
        assert "standby reads off" in trusting.log()
    finally:
        trusting.stop()
        pair.pg_sh("start")  # the standby back (pg.sh start starts what is down)


@pytest.mark.multiprocess
def test_primary_failover_by_hand_the_runbook(pair, web, tmp_path):
    """docs/operations.md "Primary failover by hand", once: promote, point the app at the promoted
    standby, restart, audit. The last test of the module: the pair is split afterwards."""
    auction = pair.seed["auctions"][0]
    session = pair.seed["session"]
    # given: a server that would read a standby however far behind (a promotion can take seconds:
    # the lag bound alone must not be what keeps its reads off the promoted server)
    patient = Daphne(
        free_ports(1, start=8580, stop=8640)[0], {**pair.server_env, "STANDBY_MAX_LAG_S": "600"}, tmp_path / "p.log"
    ).start()
    # and a bid committed on the primary and replayed by the standby
    assert bid(web, auction, 12_000, session).status == 302
    pair.caught_up()
    patient.wait()
    try:
        assert request(f"{patient.url}/auctions/{auction}/").reads == "standby"

        # when: the standby is promoted (runbook step 1)
        assert "promoted" in pair.pg_sh("promote")

        # then: the running server no longer reads from it (it follows nobody now: not a standby)
        time.sleep(0.3)
        old = request(f"{patient.url}/auctions/{auction}/")
        assert (old.status, old.reads) == (200, "primary")
    finally:
        patient.stop()

    # when: the app is pointed at the promoted server and started again (steps 2 and 3)
    env = {**pair.server_env, "DATABASE_URL": pair.url(pair.standby_port)}
    env.pop("DATABASE_REPLICA_URL")
    promoted = Daphne(free_ports(1, start=8520, stop=8580)[0], env, tmp_path / "promoted.log").start().wait()
    try:
        # then: the bid committed before the failover is there, and writes resume on the new primary
        before = request(f"{promoted.url}/auctions/{auction}/", session=session)
        assert (before.status, shows(before, 12_000)) == (200, True)
        assert bid(promoted, auction, 13_000, session).status == 302
        after = request(f"{promoted.url}/auctions/{auction}/", session=session)
        assert (after.status, after.reads, shows(after, 13_000)) == (200, None, True)
    finally:
        promoted.stop()
    # and the ledger audit passes on it (step 4)
    audit = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "audit_ledger"], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
