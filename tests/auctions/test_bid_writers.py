"""The bid's writers hold each other to account (issues 17 #4, 19): the compare-and-set write
(PostgreSQL's hot path), the one-statement SQL writer under the locked transaction (its fallback)
and the ORM writer (the embedded SQLite default) run the same scripted bids on PostgreSQL, on
three identical worlds, and must write the same rows — bids, ledger,
wallets, notifications and the auction — each stamped with the one clock read under the lock."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from auctions.bidlog import chain_problem, micros, pseudonym
from auctions.models import Auction, Bid, BidLogLeaf
from auctions.services import auction_buy_now, bid_place, bidding
from neighborbid.errors import BidTooLow
from notifications.models import Notification
from tests.factories import make_auction, make_user, rid
from tests.money import assert_books_balance, server_decisions
from wallets.models import LedgerEntry, Wallet

pytestmark = pytest.mark.django_db

# (who, amount, max_amount or None) — "buy" is buy-now
SCRIPTS = {
    "first bid with a maximum": [("a", 10_000, 20_000)],
    "outbid: the leader's whole maximum comes back": [("a", 10_000, 20_000), ("b", 25_000, None)],
    "automatic answer: a higher maximum answers at once": [("a", 10_000, 30_000), ("b", 15_000, None)],
    "a higher maximum wins one step above the old one": [("a", 10_000, 20_000), ("b", 11_000, 40_000)],
    "the leader raises their maximum": [("a", 10_000, 20_000), ("a", 10_000, 35_000)],
    "buy-now after bids": [("a", 10_000, 20_000), ("b", 11_000, None), ("c", "buy", None)],
    # plain bids, the kind PostgreSQL decides itself (nb_bid_decide): first, outbid, outbid
    # again, a refusal below the minimum, and a maximum equal to its amount
    "plain bids outbid each other": [
        ("a", 10_000, None),
        ("b", 11_000, None),
        ("c", 11_500, None),
        ("a", 13_000, 13_000),
        ("b", 21_000, None),
    ],
}


def run(script, *, sql: bool, monkeypatch, cas: bool = True, decide: bool = False) -> dict:
    monkeypatch.setattr(bidding, "SQL_WRITER", sql)
    monkeypatch.setattr(bidding, "CAS_ATTEMPTS", 3 if cas else 0)
    monkeypatch.setattr(bidding, "SQL_DECIDE", decide)
    seller = make_user(nickname="판매자")
    people = {who: make_user(nickname=f"이웃{who}", balance=100_000) for who in "abc"}
    auction = make_auction(seller=seller, title="원목 식탁", start_price=10_000, buy_now_price=90_000, is_national=True)
    roles = {seller.pk: "seller", **{u.pk: who for who, u in people.items()}}
    stamps = []
    for who, amount, maximum in script:
        if amount == "buy":
            auction_buy_now(auction_id=auction.pk, actor=people[who], request_id=rid())
        else:
            try:
                bid_place(auction_id=auction.pk, actor=people[who], amount=amount, max_amount=maximum, request_id=rid())
            except BidTooLow:
                pass  # the same refusal on every path: nothing written (the rows below say so)
        stamps.append(Auction.objects.get(pk=auction.pk).updated_at)
    return snapshot(auction, roles, stamps)


def snapshot(auction: Auction, roles: dict[int, str], stamps: list[datetime]) -> dict:
    """Every row the script wrote, with ids as roles and positions and each time as the index
    of the step whose clock it carries (or "?" for a time that is no step's clock)."""
    step = {t: i for i, t in enumerate(stamps)}

    def when(t):
        return step.get(t, "?")

    bids = list(Bid.objects.filter(auction=auction).order_by("pk"))
    row_now = Auction.objects.get(pk=auction.pk)
    by_pseudonym = {pseudonym(row_now.log_salt, uid): role for uid, role in roles.items()}
    leaves = list(BidLogLeaf.objects.filter(auction=auction).order_by("seq"))
    chain = [(x.seq, x.body, x.hash) for x in leaves]
    assert chain_problem(chain, auction_id=auction.pk, head=row_now.log_head) is None
    step_micros = {micros(t): i for i, t in enumerate(stamps)}
    position = {b.pk: i for i, b in enumerate(bids)}
    wallet_role = {w.pk: roles[w.user_id] for w in Wallet.objects.filter(user_id__in=roles)}
    row = Auction.objects.get(pk=auction.pk)
    return {
        "bids": [
            (
                roles[b.bidder_id],
                b.amount,
                b.max_amount,
                b.kind,
                b.client_request_id.startswith("auto-"),
                when(b.created_at),
            )
            for b in bids
        ],
        "ledger": [
            (
                wallet_role[e.wallet_id],
                e.kind,
                e.balance_delta,
                e.locked_delta,
                e.balance_after,
                e.locked_after,
                position.get(e.bid_id),
                e.auction_id == auction.pk,
                e.trade_id is not None,
                when(e.created_at),
            )
            for e in LedgerEntry.objects.filter(wallet_id__in=wallet_role).exclude(kind="deposit").order_by("pk")
        ],
        "wallets": sorted(
            (wallet_role[w.pk], w.balance, w.locked_balance) for w in Wallet.objects.filter(pk__in=wallet_role)
        ),
        "notifications": [
            (roles[n.user_id], n.kind, n.message, n.auction_id == auction.pk, when(n.created_at))
            for n in Notification.objects.filter(user_id__in=roles).order_by("pk")
        ],
        "log": [
            (
                json.loads(x.body)["seq"],
                x.kind,
                json.loads(x.body)["amount"],
                by_pseudonym.get(json.loads(x.body)["bidder"]),
                step_micros.get(json.loads(x.body)["at"], "?"),
            )
            for x in leaves
        ],
        "auction": (
            row.status,
            row.current_price,
            roles.get(row.leader_id),
            row.leader_max,
            row.bid_count,
            row.seq,
            [(r["amount"], r["bidder"]) for r in row.recent_bids],
            row.ends_at == auction.ends_at or when(row.ends_at),
        ),
    }


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_sql_and_the_orm_writer_write_the_same_rows(name, monkeypatch):
    # given the same script on four identical worlds: the plain bids decided inside PostgreSQL
    # (the rest by compare-and-set), the compare-and-set write, the SQL writer under the locked
    # transaction, and the ORM writer
    by_server = run(SCRIPTS[name], sql=True, decide=True, monkeypatch=monkeypatch)
    by_cas = run(SCRIPTS[name], sql=True, monkeypatch=monkeypatch)
    by_sql = run(SCRIPTS[name], sql=True, cas=False, monkeypatch=monkeypatch)
    by_orm = run(SCRIPTS[name], sql=False, monkeypatch=monkeypatch)
    # then every row matches, and every bid, ledger row and notice of a step carries its clock
    assert by_server == by_cas == by_sql == by_orm
    # and the bid log: one leaf per public bid (a raise of one's own maximum is none), in order
    assert by_sql["log"] and all(role is not None or kind == "buy_now" for _, kind, _, role, _ in by_sql["log"])
    assert all(stamp != "?" for *_, stamp in by_sql["bids"])
    assert by_sql["bids"] and by_sql["ledger"]
    assert_books_balance()


def test_the_switch_really_changes_the_writer(monkeypatch):
    # the comparison above would prove nothing if both runs took the same path
    calls = []
    real_sql, real_orm = bidding.bid_write_sql, bidding.bid_write_orm
    monkeypatch.setattr(bidding, "bid_write_sql", lambda *a, **k: calls.append("sql") or real_sql(*a, **k))
    monkeypatch.setattr(bidding, "bid_write_orm", lambda *a, **k: calls.append("orm") or real_orm(*a, **k))
    run(SCRIPTS["first bid with a maximum"], sql=True, monkeypatch=monkeypatch)
    run(SCRIPTS["first bid with a maximum"], sql=False, monkeypatch=monkeypatch)
    assert calls == ["sql", "orm"]
    # and the compare-and-set run really compared (its write carried the expectation)
    expects = []
    monkeypatch.setattr(bidding, "bid_write_sql", lambda *a, **k: expects.append(k.get("expect")) or real_sql(*a, **k))
    run(SCRIPTS["first bid with a maximum"], sql=True, monkeypatch=monkeypatch)
    run(SCRIPTS["first bid with a maximum"], sql=True, cas=False, monkeypatch=monkeypatch)
    assert expects[0] is not None and expects[1] is None
    # and the run that lets PostgreSQL decide really did, for its plain bids only
    decided = server_decisions(monkeypatch)
    run(SCRIPTS["plain bids outbid each other"], sql=True, decide=True, monkeypatch=monkeypatch)
    assert decided == ["accepted", "accepted", "refused", "accepted", "accepted"]
    run(SCRIPTS["first bid with a maximum"], sql=True, decide=True, monkeypatch=monkeypatch)
    assert len(decided) == 5  # a bid with a maximum above its amount never asks
