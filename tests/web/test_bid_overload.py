"""Overload is a clear answer, never a 500 (issue 13, item 4): many simultaneous HTTP bids on one
local auction whose row lock is busy, against a real Daphne with a tiny pool. Only a bounded few
wait for the lock (auctions/admission.py); the rest are answered 503 with Retry-After at once and
change nothing, and the pool is not held hostage: other pages are still served meanwhile."""

from __future__ import annotations

import http.client
import secrets
import threading
import time
import uuid

import pytest
from django.conf import settings
from django.test import Client

from auctions.models import Auction, Bid
from tests import factories as f
from tests.money import assert_books_balance, wallet_of
from tests.realtime.servers import Daphne, free_ports, server_env, subprocess_database_url

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]

BIDDERS = 24
POOL = 6  # BID_WAITERS_PER_AUCTION defaults to half the pool: 3


@pytest.fixture
def server(tmp_path):
    env = server_env(
        redis_url=settings.REDIS_URL,
        bus_prefix=f"{settings.BUS_PREFIX}-ovl",
        DB_POOL_MAX_SIZE=str(POOL),
        DB_POOL_TIMEOUT="2",
        DB_LOCK_TIMEOUT_MS="20000",  # the held lock below never times a bid out
    )
    daphne = Daphne(free_ports(1, start=8421, stop=8480)[0], env, tmp_path / "daphne.log").start().wait()
    try:
        yield daphne
    finally:
        daphne.stop()


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def request(server: Daphne, method: str, path: str, *, body: str = "", headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        conn.close()


def test_simultaneous_bids_on_a_locked_auction_get_503_not_500_and_the_pool_stays_free(server):
    # given: a local auction whose row lock another transaction holds, and many signed-in bidders
    import psycopg

    auction = f.make_auction(start_price=10_000)
    bidders = [f.make_user(balance=1_000_000) for _ in range(BIDDERS)]
    cookies = {b.pk: session_cookie(b) for b in bidders}
    request_ids = {b.pk: uuid.uuid4().hex for b in bidders}
    holder = psycopg.connect(subprocess_database_url())
    holder.execute(f"SELECT 1 FROM {Auction._meta.db_table} WHERE id = %s FOR UPDATE", [auction.pk])

    results: dict[int, tuple[int, dict]] = {}
    barrier = threading.Barrier(BIDDERS)

    def bid(index: int, bidder) -> None:
        csrf = secrets.token_hex(16)  # 32 characters: a valid unmasked CSRF secret
        # confirmed: bids far above the minimum are otherwise asked about first (issue 12)
        body = f"amount={10_000 + index * 1_000}&request_id={request_ids[bidder.pk]}&confirmed=1"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={cookies[bidder.pk]}; {settings.CSRF_COOKIE_NAME}={csrf}",
            "X-CSRFToken": csrf,
        }
        barrier.wait()
        try:
            results[bidder.pk] = request(server, "POST", f"/auctions/{auction.pk}/bid/", body=body, headers=headers)
        except Exception as exc:  # a dropped connection is a failure too
            results[bidder.pk] = (-1, {"error": repr(exc)})

    threads = [threading.Thread(target=bid, args=(i, b)) for i, b in enumerate(bidders)]
    try:
        # when: they all bid at once while the lock is held
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 8  # only bounds the wait for the quick answers
        while len(results) < BIDDERS - POOL // 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        # then (while the lock is still held): other pages are served, the pool is not hostage
        home_status, _ = request(server, "GET", "/")
        detail_status, _ = request(server, "GET", f"/auctions/{auction.pk}/")
    finally:
        holder.rollback()
        holder.close()
        for thread in threads:
            thread.join(60)

    statuses = [status for status, _ in results.values()]
    assert len(results) == BIDDERS
    assert 500 not in statuses and -1 not in statuses, (statuses, server.log())
    assert all(200 <= s < 500 or s == 503 for s in statuses), statuses
    assert (home_status, detail_status) == (200, 200), server.log()
    refused = [pk for pk, (status, _) in results.items() if status == 503]
    assert len(refused) >= BIDDERS - POOL // 2, statuses
    for pk in refused:
        # the 503s changed nothing and say when to come back
        assert int(results[pk][1]["Retry-After"]) > 0
        assert not Bid.objects.filter(client_request_id=request_ids[pk]).exists()
        assert wallet_of(bidders[[b.pk for b in bidders].index(pk)]) == (1_000_000, 0)
    auction.refresh_from_db()
    assert auction.bid_count == Bid.objects.filter(auction=auction).count() >= 1
    assert_books_balance()
