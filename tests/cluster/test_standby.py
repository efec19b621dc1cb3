"""Issue 23 #3, the PostgreSQL half, on the `make cluster` topology: the public pages read from the
standby, a bidder sees their own bid while the standby's replay is paused, pages keep answering
with the standby stopped, and the primary is failed over by hand (the runbook) with writes and
the books intact. Each request goes through nginx as a browser's would; `X-NB-Reads` says which
server answered a page's reads (neighborbid/replica.py)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
import uuid

import psycopg
import requests

from tests.cluster.conftest import NGINX, ROOT
from tests.cluster.live import Chain, LiveSocket

LOCAL_SEED = """
import json
from django.conf import settings
from django.test import Client
from tests import factories as f

seller = f.make_user()
auction = f.make_auction(seller=seller, start_price=12_340)
bidder = f.make_user(balance=1_000_000)
client = Client()
client.force_login(bidder)
print(json.dumps({"auction": auction.pk, "session": client.cookies[settings.SESSION_COOKIE_NAME].value}))
"""


def standby(cluster) -> psycopg.Connection:
    return psycopg.connect("postgresql://postgres@127.0.0.1:15433/neighborbid", autocommit=True)


def page(path: str, session: requests.Session | None = None) -> requests.Response:
    response = (session or requests).get(NGINX + path, timeout=10)
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return response


def until(predicate, what: str, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def signed_in(session_key: str) -> requests.Session:
    session = requests.Session()
    session.cookies.set("sessionid", session_key, domain="127.0.0.1", path="/")
    return session


def bid_by_form(session: requests.Session, auction_id: int, amount: int) -> requests.Response:
    """What the detail page's bid form posts (the CSRF token from the page, as the browser has it)."""
    form = page(f"/auctions/{auction_id}/", session).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    return session.post(
        f"{NGINX}/auctions/{auction_id}/bid/",
        data={"amount": str(amount), "request_id": uuid.uuid4().hex, "confirmed": "on", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{NGINX}/auctions/{auction_id}/"},
        allow_redirects=False,
        timeout=10,
    )


def test_paused_replay_a_bidder_sees_their_bid_and_anonymous_pages_answer_from_the_standby(cluster):
    seeded = cluster.python(LOCAL_SEED)
    auction, bidder = seeded["auction"], signed_in(seeded["session"])
    history = f"/auctions/{auction}/bids/"
    # given a caught-up standby answering the public pages
    until(lambda: page(history).headers.get("X-NB-Reads") == "standby", "the standby to serve the bid history")
    with standby(cluster) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        try:
            # when the bidder bids through the page's form while the standby replays nothing
            response = bid_by_form(bidder, auction, 15_670)
            assert response.status_code == 302, response.text[:500]
            # then their next page comes from the primary and shows their bid
            mine = page(history, bidder)
            assert mine.headers["X-NB-Reads"] == "primary" and "15,670" in mine.text
            # and an anonymous page still answers, from the standby, without it (stale, not an error)
            anonymous = page(history)
            assert anonymous.headers["X-NB-Reads"] == "standby" and "15,670" not in anonymous.text
            assert page("/").status_code == 200
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")
    # once replayed, the standby shows it to everyone
    until(lambda: "15,670" in page(history).text, "the standby to replay the bid")


def test_a_stopped_standby_leaves_every_page_answering_from_the_primary(cluster):
    seeded = cluster.python(LOCAL_SEED)
    auction = seeded["auction"]
    pg_ctl = (
        subprocess.run(
            ["bash", "-c", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        + "/pg_ctl"
    )
    data = str(cluster.dir / "pg-standby")
    subprocess.run(
        ["runuser", "-u", "postgres", "--", pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"],
        check=True,
        capture_output=True,
    )
    try:
        for path in ("/", "/?tab=national", f"/auctions/{auction}/", f"/auctions/{auction}/bids/"):
            for _ in range(3):  # every process of the three, whichever nginx picks
                response = page(path)
                assert response.headers.get("X-NB-Reads") == "primary", (path, response.headers)
    finally:  # start it again (pg.sh start is idempotent: it starts what is down)
        subprocess.run(
            [str(ROOT / "deploy" / "cluster" / "pg.sh"), "start", str(cluster.dir)], check=True, capture_output=True
        )


def test_primary_failover_by_hand_writes_resume_and_the_books_balance(cluster, live_auction):
    """The runbook (docs/operations.md "Primary failover by hand"), exercised: fence the primary,
    promote the standby, point the app at it, restart web and worker. Last in the module: the
    cluster runs on the promoted standby afterwards."""
    money_before = cluster.money_total()
    with cluster.primary() as conn:
        before = conn.execute("SELECT count(*) FROM wallets_ledgerentry").fetchone()[0]
    cluster.script("failover")
    assert cluster.env["DATABASE_URL"].endswith(":15433/neighborbid") and "DATABASE_REPLICA_URL" not in cluster.env
    with cluster.primary() as conn:  # the new primary: out of recovery, with every row of the old
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
        assert conn.execute("SELECT count(*) FROM wallets_ledgerentry").fetchone()[0] == before

    async def bids_after():
        bidders = [await LiveSocket(live_auction["auction"], cookie).open() for cookie in live_auction["cookies"]]
        chain = Chain(bidders)
        await chain.run(6, "after-failover")
        for sock in bidders:
            await sock.close()
        return chain.acked

    acked = asyncio.run(bids_after())
    assert len(acked) == 6  # writes resumed on the promoted standby
    assert page("/").status_code == 200
    cluster.audit()
    assert cluster.money_total() == money_before
