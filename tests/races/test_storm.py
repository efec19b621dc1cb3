"""The storm: many threads, many users, several auctions, random bids, buy-nows, deposits,
withdrawals, settlements and trade steps (hand-over, 구매확정, refunds, disputes, the automatic
release) at once. Afterwards the books must balance, every auction must
have one leader and prices must strictly increase in bid order.

The second test removes the auction row lock and shows that the same storm then breaks the
books (the audit catches it), so the first test has teeth."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from auctions.audit import audit_ledger
from auctions.models import Auction, Bid
from auctions.selectors import auction_min_next_bid
from auctions.services import auction_buy_now, auction_settle, bid_place, bid_writes, bidding, buy_now, lifecycle
from neighborbid.errors import DomainError
from tests.factories import make_auction, make_user, rid, set_end
from tests.races.conftest import overlapped
from trades.models import Trade
from trades.services import (
    trade_confirm,
    trade_dispute_open,
    trade_mark_handed_over,
    trade_refund,
    trades_auto_release_due,
)
from wallets.services import wallet_deposit, wallet_withdraw

pytestmark = [pytest.mark.race, pytest.mark.storm, pytest.mark.django_db(transaction=True)]

THREADS = 24
OPS_PER_THREAD = 40


def build_market():
    seller = make_user()
    users = [make_user(balance=2_000_000) for _ in range(12)]
    auctions = [
        make_auction(seller=seller, start_price=10_000, is_national=True),
        make_auction(seller=seller, start_price=10_000, is_national=True),
        make_auction(seller=seller, start_price=50_000, buy_now_price=400_000, is_national=True),
        make_auction(seller=seller, start_price=1_000, buy_now_price=200_000),  # local, same 동
        make_auction(seller=seller, start_price=5_000, is_national=True, soft_close_window_s=0),
        make_auction(seller=seller, start_price=5_000, soft_close_window_s=0),
    ]
    # two auctions end while the storm runs (soft close off, so bids cannot keep them alive)
    for auction in auctions[4:]:
        set_end(auction, timezone.now() + timedelta(seconds=2))
    return seller, users, auctions


def trade_step(rng, auctions, users_by_id):
    """One random step on one of the market's trades, by the right party."""
    trades = list(
        Trade.objects.filter(auction_id__in=[a.pk for a in auctions]).values_list("id", "buyer_id", "seller_id")
    )
    if not trades:
        return
    trade_id, buyer_id, seller_id = rng.choice(trades)
    buyer, seller = users_by_id[buyer_id], users_by_id[seller_id]
    roll = rng.random()
    if roll < 0.25:
        trade_mark_handed_over(trade_id=trade_id, actor=seller)
    elif roll < 0.50:
        trade_confirm(trade_id=trade_id, actor=buyer)
    elif roll < 0.65:
        trade_refund(trade_id=trade_id, actor=seller)
    elif roll < 0.80:
        trade_dispute_open(trade_id=trade_id, actor=buyer, reason="폭풍 속 분쟁")
    else:
        # as if the deadline had passed for this one, then the worker's step
        Trade.objects.filter(pk=trade_id, auto_release_at__isnull=False).update(
            auto_release_at=timezone.now() - timedelta(seconds=1)
        )
        trades_auto_release_due()


def storm(users, auctions, seed, seller=None):
    rng = random.Random(seed)
    database_errors = []
    users_by_id = {u.pk: u for u in users}
    if seller is not None:
        users_by_id[seller.pk] = seller

    def one_thread(thread_no):
        local_rng = random.Random(rng.random() + thread_no)
        for _ in range(OPS_PER_THREAD):
            user = local_rng.choice(users)
            auction = local_rng.choice(auctions)
            roll = local_rng.random()
            try:
                if roll < 0.64:
                    fresh = Auction.objects.get(pk=auction.pk)
                    amount = auction_min_next_bid(fresh) + local_rng.choice([0, 0, 0, 500, 1_000, 5_000])
                    # half the bids carry a maximum (max bidding), the rest are plain
                    extra = local_rng.choice([0, 0, 0, 1_000, 3_000, 12_000])
                    maximum = amount + extra if extra else None
                    bid_place(auction_id=auction.pk, actor=user, amount=amount, max_amount=maximum, request_id=rid())
                elif roll < 0.68:
                    auction_buy_now(auction_id=auction.pk, actor=user, request_id=rid())
                elif roll < 0.76:
                    wallet_deposit(actor=user, amount=local_rng.choice([1_000, 10_000, 50_000]))
                elif roll < 0.84:
                    wallet_withdraw(actor=user, amount=local_rng.choice([1_000, 10_000, 100_000]))
                elif roll < 0.90:
                    auction_settle(auction_id=auction.pk)
                else:
                    trade_step(local_rng, auctions, users_by_id)
            except DomainError:
                pass  # refusals are part of a storm
            except DatabaseError as exc:
                database_errors.append(exc)
        return thread_no

    return one_thread, database_errors


def run_storm(concurrently, seed, *, must_succeed=True):
    seller, users, auctions = build_market()
    one_thread, database_errors = storm(users, auctions, seed, seller=seller)
    outcomes = concurrently([lambda n=n: one_thread(n) for n in range(THREADS)], timeout=300)
    assert overlapped(outcomes), "the storm's threads ran one after the other: nothing raced"
    if must_succeed:
        assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return seller, users, auctions, database_errors, outcomes


def prices_strictly_increase(auction) -> bool:
    rows = list(
        Bid.objects.filter(auction=auction).exclude(kind=Bid.Kind.RAISE).order_by("id").values_list("amount", "kind")
    )
    return all(a[0] < b[0] or (a[0] == b[0] and b[1] == Bid.Kind.AUTO) for a, b in zip(rows, rows[1:], strict=False))


def settle_everything(auctions):
    for auction in auctions:
        auction.refresh_from_db()
        if not auction.is_ended:
            set_end(auction, timezone.now() - timedelta(seconds=1))
            auction_settle(auction_id=auction.pk)


def leader_wallet_guards(monkeypatch) -> list[str]:
    """nb_bid_decide's guard, as wallet_moves_plan's AssertionError is the Python path's: a plan
    decided on a stale row that would release a maximum the leader's wallet no longer holds is
    handed back ("leader wallet") instead of written. With the function's auction lock it never
    trips; without it, that is what most lost races come to (the wallets' own lock serialises
    them), so it is a symptom like the Python guard's."""
    guards: list[str] = []
    real_execute = bidding.execute_repeated

    def execute(sql, params):
        row = real_execute(sql, params)
        if row is not None and row[:2] == ("pass", "leader wallet"):
            guards.append("guard: the leader's wallet no longer holds the maximum")
        return row

    monkeypatch.setattr(bidding, "execute_repeated", execute)
    return guards


def test_storm_keeps_the_books_balanced(concurrently, monkeypatch):
    guards = leader_wallet_guards(monkeypatch)
    seller, users, auctions, database_errors, _ = run_storm(concurrently, seed=20261124)
    # zero deadlocks or lock timeouts, and the server's guard never tripped
    assert database_errors == []
    assert guards == []
    report = audit_ledger()
    assert report.ok, "\n".join(report.lines())
    assert Bid.objects.count() > THREADS  # the storm really bid
    for auction in auctions:
        auction.refresh_from_db()
        # a leader's bid again raises their maximum (a `raise` row at the unchanged price)
        bids = Bid.objects.filter(auction=auction).exclude(kind=Bid.Kind.RAISE)
        rows = list(bids.order_by("id").values_list("amount", "bidder_id", "kind"))
        amounts = [(amount, bidder) for amount, bidder, _ in rows]
        # prices strictly increase in bid order, except at a tie of maximums: the earlier
        # maximum's automatic bid answers at the same amount (and keeps the lead)
        assert all(
            a[0] < b[0] or (a[0] == b[0] and b[2] == Bid.Kind.AUTO) for a, b in zip(rows, rows[1:], strict=False)
        ), rows
        if amounts and auction.end_reason != Auction.EndReason.BUY_NOW:
            # one leader: the last bidder, at the last price
            assert (auction.current_price, auction.leader_id) == amounts[-1]
    # the two auctions that ended during the storm were settled at most once, and after
    # settling the rest the books still balance
    settle_everything(auctions)
    report = audit_ledger()
    assert report.ok, "\n".join(report.lines())
    assert Auction.objects.filter(pk__in=[a.pk for a in auctions], status__in=["open", "scheduled"]).count() == 0
    print(
        "trades after the storm:",
        dict(Counter(Trade.objects.filter(auction__in=auctions).values_list("status", flat=True))),
    )
    # every sale has its trade, and each trade was paid out at most once (the audit's per-trade check)
    assert (
        Trade.objects.filter(auction__in=auctions).count()
        == Auction.objects.filter(pk__in=[a.pk for a in auctions], status="sold").count()
    )


def _auction_without_lock(*, auction_id, skip_locked=False):
    """The service's auction lock with the lock taken out: a plain read."""
    return Auction.objects.filter(pk=auction_id).first()


def _auction_row_without_lock(*, auction_id):
    """The bid's hot-path row lock (auctions.locks.auction_row_lock) without FOR UPDATE."""
    from auctions.locks import auction_row_lock

    return auction_row_lock(auction_id=auction_id, for_update=False)


@pytest.mark.parametrize("path", ["in-server", "compare-and-set", "locked"])
def test_the_storm_has_teeth_without_the_auction_lock_the_audit_fails(path, concurrently, monkeypatch, decide_without):
    # given the services with the auction row lock removed: inside PostgreSQL (the plain bids
    # nb_bid_decide decides) the function's lock; on the bid's compare-and-set path its compare
    # (the write no longer checks that the auction is as the plan found it); on the locked path
    # the lock
    guards = leader_wallet_guards(monkeypatch)
    if path == "in-server":
        decide_without("auction")  # only the function's own lock: every other path keeps its locks
    else:
        for module in (bidding, buy_now, lifecycle):
            monkeypatch.setattr(module, "auction_lock", _auction_without_lock)
        monkeypatch.setattr(bidding, "auction_row_lock", _auction_row_without_lock)
    if path == "locked":
        monkeypatch.setattr(bidding, "CAS_ATTEMPTS", 0)
    elif path == "compare-and-set":
        monkeypatch.setattr(bidding, "SQL_DECIDE", False)
        monkeypatch.setattr(bid_writes, "cas_auction_unchanged", lambda expect: ("TRUE", []))
    symptoms = []
    for attempt in range(3):
        # when the same storm runs
        _, _, auctions, _, outcomes = run_storm(concurrently, seed=attempt, must_succeed=False)
        # then money goes wrong: the wallet guard trips, the audit fails or prices go backwards
        symptoms += [f"guard: {o.error}" for o in outcomes if isinstance(o.error, AssertionError)]
        symptoms += guards
        symptoms += audit_ledger().violations
        symptoms += [f"auction {a.pk}: prices not increasing" for a in auctions if not prices_strictly_increase(a)]
        if symptoms:
            break
    guards = sum(x.startswith("guard:") for x in symptoms)
    print(f"without the auction lock: {guards} guard trip(s), {len(symptoms) - guards} audit/price violation(s)")
    print("\n".join(x for x in symptoms if not x.startswith("guard:"))[:2000])
    assert symptoms, "the storm found nothing wrong even without the lock: it has no teeth"
