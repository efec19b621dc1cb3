"""A line of bids decided together (auctions.services.bid_batch, issue 25): each bid gets
exactly what bid_place would have answered had the bids been placed one after another in that
order, and the same rows are written, whether the batch wrote them in one round trip or had to
go back to one by one. Two identical worlds side by side: the batch, and bid_place one by one."""

from __future__ import annotations

import pytest
from django.db import connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auctions.models import Auction, Bid
from auctions.rules import min_next_bid
from auctions.services import BidAsk, bid_batch, bid_place, bid_place_many, bidding
from neighborbid.errors import DomainError
from tests.auctions.test_bid_writers import snapshot
from tests.factories import fund, make_auction, make_user, rid
from tests.money import assert_books_balance
from wallets.models import LedgerEntry

pytestmark = pytest.mark.django_db

PEOPLE = "abcd"


@pytest.fixture(autouse=True)
def _compare_and_set(monkeypatch):
    """The batch of reads and compare-and-set writes, on both sides (a line's plain bids would
    otherwise be decided inside PostgreSQL: tests/auctions/test_bid_decide.py holds that side
    against this file's scripts)."""
    monkeypatch.setattr(bidding, "SQL_DECIDE", False)


def world(balance: int = 100_000):
    seller = make_user(nickname="판매자")
    people = {who: make_user(nickname=f"이웃{who}", balance=balance) for who in PEOPLE}
    auction = make_auction(seller=seller, title="원목 식탁", start_price=10_000, buy_now_price=90_000, is_national=True)
    roles = {seller.pk: "seller", **{u.pk: who for who, u in people.items()}}
    return seller, people, auction, roles


def asks_of(script, people, seller) -> list[BidAsk]:
    """(who, amount, max or None[, request key]) → asks; the same key is the same request id."""
    ids: dict[str, str] = {}
    asks = []
    for step in script:
        who, amount, maximum = step[:3]
        request = ids.setdefault(step[3], rid()) if len(step) > 3 else rid()
        actor = seller if who == "seller" else people[who]
        asks.append(BidAsk(actor_id=actor.pk, amount=amount, max_amount=maximum, request_id=request))
    return asks


def outcome_of(outcome) -> tuple:
    if isinstance(outcome, DomainError):
        return ("refused", outcome.code)
    state = outcome.state
    return (
        "ok",
        outcome.bid.amount,
        outcome.bid.max_amount,
        outcome.duplicate,
        outcome.leading,
        outcome.my_max,
        outcome.receipt is not None,
        state["seq"],
        state["current_price"],
        state["bid_count"],
        state["min_next_bid"],
    )


def one_by_one(auction, asks) -> list:
    outcomes = []
    for ask in asks:
        try:
            outcomes.append(
                bid_place(
                    auction_id=auction.pk,
                    actor=type(auction.seller)(pk=ask.actor_id),
                    amount=ask.amount,
                    max_amount=ask.max_amount,
                    request_id=ask.request_id,
                )
            )
        except DomainError as refusal:
            outcomes.append(refusal)
    return outcomes


def rows(auction, roles) -> dict:
    """Every row written, times as the order of the clocks the bids carry."""
    stamps = sorted(set(Bid.objects.filter(auction=auction).values_list("created_at", flat=True)))
    return snapshot(auction, roles, stamps)


STEP = min_next_bid(current_price=10_000, has_bids=True) - 10_000

SCRIPTS = {
    "a chain of minimum bids": [("a", 10_000, None), ("b", 11_000, None), ("c", 12_000, None), ("d", 13_000, None)],
    "a bid the one before made too low": [("a", 12_000, None), ("b", 11_000, None), ("c", 13_000, None)],
    "a maximum answers the next bids at once": [("a", 10_000, 30_000), ("b", 15_000, None), ("c", 20_000, None)],
    "the leader raises their maximum between bids": [("a", 10_000, 20_000), ("a", 10_000, 35_000), ("b", 25_000, None)],
    "not enough money, then enough": [("a", 10_000, None), ("b", 150_000, None), ("c", 11_000, None)],
    "the seller's own bid and a maximum below the amount": [
        ("seller", 10_000, None),
        ("a", 10_000, 9_000),
        ("b", 10_000, None),
    ],
    "buy-now's price is refused in a bid": [("a", 10_000, None), ("b", 95_000, None), ("c", 11_000, None)],
    "the same request twice in one line": [("a", 10_000, None, "x"), ("b", 11_000, None), ("a", 10_000, None, "x")],
    "a maximum that loses at once to a higher one": [("a", 10_000, 50_000), ("b", 20_000, 30_000), ("c", 51_000, None)],
    "the same request id with another amount": [
        ("a", 10_000, None, "x"),
        ("b", 11_000, None),
        ("a", 12_000, None, "x"),
    ],
}

# scripts that start on an auction someone already leads: (the bids before, the line)
LED = {
    "a new maximum takes the lead and answers the next bid": (
        [("d", 10_000, 20_000)],
        [("a", 21_000, 40_000), ("b", 30_000, None), ("c", 45_000, None)],
    ),
    "the leader's maximum answers, then is overtaken": (
        [("d", 10_000, 30_000)],
        [("a", 15_000, None), ("b", 31_000, None), ("d", 40_000, None)],
    ),
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_a_batch_answers_and_writes_as_the_bids_one_by_one(name):
    # given the same bids on two identical worlds
    # when one world takes them as one batch and the other one by one
    (batched, batch_rows), (single, single_rows) = both_ways(SCRIPTS[name])
    # then every bid got the same answer, and the same rows were written
    assert batched == single
    assert batch_rows == single_rows


@pytest.mark.parametrize("name", list(LED))
def test_a_batch_on_a_led_auction_answers_and_writes_as_one_by_one(name):
    before, line = LED[name]
    (batched, batch_rows), (single, single_rows) = both_ways(line, before=before)
    assert batched == single
    assert batch_rows == single_rows


def test_a_bidder_linked_to_the_seller_is_refused_in_a_batch_too():
    # given d leading, and a signed in on the seller's browser (the hard shill link)
    from django.utils import timezone

    from accounts.models import DeviceSighting

    results = []
    for batched in (True, False):
        seller, people, auction, roles = world()
        one_by_one(auction, asks_of([("a", 10_000, 30_000)], people, seller))
        now = timezone.now()
        for user in (seller, people["a"]):
            DeviceSighting.objects.create(user=user, device_hash="f" * 64, first_seen=now, last_seen=now)
        # when the linked leader raises the maximum in a line with another bid
        asks = asks_of([("a", 10_000, 60_000), ("b", 32_000, None)], people, seller)
        got = bid_place_many(auction_id=auction.pk, bids=asks) if batched else one_by_one(auction, asks)
        results.append(([outcome_of(o) for o in got], rows(auction, roles)))
    # then the raise is refused as bid_place refuses it, and b is decided on the old maximum
    assert results[0] == results[1]
    assert results[0][0][0] == ("refused", "seller_linked")
    assert results[0][0][1][0] == "ok" and results[0][0][1][4] is True  # b leads on a's old maximum
    assert results[0][1]["auction"][1:4] == (32_000, "b", 32_000)


def test_a_bid_only_bid_place_can_decide_keeps_its_place_in_the_line(monkeypatch):
    # given a line whose second bid comes with an app's device credential (its session is not
    # part of the batch's read), between two web bids of the same amount as the first
    from accounts.services import device_token_create

    results = []
    for batched in (True, False):
        seller, people, auction, roles = world()
        token, _raw = device_token_create(actor=people["b"], name="폰")
        asks = asks_of([("a", 10_000, None), ("b", 11_000, None), ("c", 11_000, None)], people, seller)
        asks[1] = BidAsk(
            actor_id=people["b"].pk, amount=11_000, request_id=asks[1].request_id, session_key=f"device:{token.pk}"
        )
        if batched:
            got = bid_place_many(auction_id=auction.pk, bids=asks)
        else:
            got = []
            for ask in asks:
                got += bid_place_many(auction_id=auction.pk, bids=[ask])
        results.append(([outcome_of(o) for o in got], rows(auction, roles)))
    # then b's bid was decided in its place: b leads at 11,000 and c's same amount is too low
    assert results[0] == results[1]
    assert [o[0] for o in results[0][0]] == ["ok", "ok", "refused"]


def test_a_repeat_of_an_accepted_request_is_answered_with_its_first_outcome():
    # given a bid already accepted, and a batch that sends it again among new bids
    seller, people, auction, roles = world()
    first = BidAsk(actor_id=people["a"].pk, amount=10_000, request_id=rid())
    bid_place_many(auction_id=auction.pk, bids=[first])
    again = [BidAsk(actor_id=people["b"].pk, amount=11_000, request_id=rid()), first]
    # when the batch runs
    answers = bid_place_many(auction_id=auction.pk, bids=again)
    # then the repeat is the first outcome (a duplicate), nothing written for it twice
    assert answers[1].duplicate is True and answers[1].bid.amount == 10_000
    assert Bid.objects.filter(auction=auction, client_request_id=first.request_id).count() == 1
    assert answers[0].leading is True and answers[0].state["current_price"] == 11_000


def test_the_accepted_bids_are_written_in_one_transaction_of_one_round_trip(monkeypatch):
    # given four bids that are all accepted, and a count of the writes
    seller, people, auction, _roles = world()
    sent, singles = [], []
    real_sent, real_single = bid_batch.execute_in_one_transaction, bidding.bid_write_sql
    monkeypatch.setattr(
        bid_batch,
        "execute_in_one_transaction",
        lambda statements: sent.append([sql.split(" ", 3)[:3] for sql, _params in statements]) or real_sent(statements),
    )
    monkeypatch.setattr(bidding, "bid_write_sql", lambda *a, **k: singles.append(1) or real_single(*a, **k))
    asks = asks_of(SCRIPTS["a chain of minimum bids"], people, seller)
    # when they go as one batch
    answers = bid_place_many(auction_id=auction.pk, bids=asks)
    # then one call locked the auction, then the wallets, and carried all four writes; none
    # went one by one; all were accepted
    assert sent == [[["SELECT", "id", "FROM"], ["SELECT", "count(*)", "FROM"], *[["WITH", "cas_auction", "AS"]] * 4]]
    assert singles == []
    assert [a.state["seq"] for a in answers] == [1, 2, 3, 4]
    assert Auction.objects.get(pk=auction.pk).current_price == 13_000


def meddle_before_the_write(monkeypatch, meddle):
    """Run `meddle` once between the batch's reads and its write (another writer in the gap)."""
    real = bid_batch.execute_in_one_transaction

    def gap(statements):
        meddle()
        return real(statements)

    monkeypatch.setattr(bid_batch, "execute_in_one_transaction", gap)


def both_ways(script, *, before=None, gap=None, at: int = 0, monkeypatch=None) -> tuple[tuple, tuple]:
    """The script on two identical worlds: as one batch, and one by one. Returns (outcomes,
    rows) of each. With `gap(seller, people, auction)` (another writer): run between the batch's
    reads and its write, and one by one before the script's bid number `at`."""
    results = []
    for batched in (True, False):
        seller, people, auction, roles = world()
        if before:
            one_by_one(auction, asks_of(before, people, seller))
        asks = asks_of(script, people, seller)

        def meddle(seller=seller, people=people, auction=auction):
            if gap is not None:
                gap(seller, people, auction)

        if batched:
            if gap is not None:
                meddle_before_the_write(monkeypatch, meddle)
            got = bid_place_many(auction_id=auction.pk, bids=asks)
            if gap is not None:
                monkeypatch.undo()
        else:
            got = one_by_one(auction, asks[:at])
            meddle()
            got += one_by_one(auction, asks[at:])
        results.append(([outcome_of(o) for o in got], rows(auction, roles)))
    assert_books_balance()
    return results[0], results[1]


def test_a_bid_by_someone_else_in_the_gap_sends_the_whole_line_one_by_one(monkeypatch):
    # given a line of bids, and another bidder's bid committed between its reads and its write
    def rival(seller, people, auction):
        one_by_one(auction, asks_of([("d", 11_000, None)], people, seller))

    # when the line runs
    batched, single = both_ways(
        [("a", 11_000, None), ("b", 12_000, None), ("c", 13_000, None)], gap=rival, monkeypatch=monkeypatch
    )
    # then the batch's first write found the auction changed and wrote nothing; each bid was
    # decided again after the rival's, exactly as one by one after it
    assert batched == single
    assert batched[0][0] == ("refused", "bid_too_low")


def test_a_listing_hidden_in_the_gap_gets_no_bid_of_the_line(monkeypatch):
    # given d leading with 30,000 held, and a moderator hiding the listing in the gap
    from auctions.services import auction_hide
    from tests.factories import make_moderator

    def hide(seller, people, auction):
        auction_hide(auction_id=auction.pk, staff_user=make_moderator(), reason="규정 위반")

    batched, single = both_ways(
        [("a", 11_000, None), ("b", 12_000, None)], gap=hide, monkeypatch=monkeypatch, before=[("d", 10_000, 30_000)]
    )
    # then nothing of the line was written on the hidden listing: refused as one by one after it
    assert batched == single
    assert all(outcome[0] == "refused" for outcome in batched[0])


def test_a_leaders_raise_in_the_gap_is_kept_and_the_line_decided_after_it(monkeypatch):
    # given d leading with a maximum of 30,000, a line of bids below it (each answered at once
    # by d's maximum: no wallet moves), and d raising the maximum to 50,000 in the gap (no
    # public change, no bid log leaf: only the auction row's maximum and d's wallet move)
    def raise_(seller, people, auction):
        one_by_one(auction, asks_of([("d", 10_000, 50_000)], people, seller))

    batched, single = both_ways(
        [("b", 15_000, None), ("c", 20_000, None)], gap=raise_, monkeypatch=monkeypatch, before=[("d", 10_000, 30_000)]
    )
    # then the raise stands (the auction's maximum is d's new one) and the line was decided
    # after it, exactly as one by one
    assert batched == single
    assert batched[1]["auction"][3] == 50_000


def test_a_refusal_decided_after_a_write_that_conflicted_is_decided_again(monkeypatch):
    # given a line where b's bid is too low only because of a's before it, and a bid by a on
    # another auction in the gap that leaves a's wallet too short for a's bid here
    def spend(seller, people, auction):
        elsewhere = make_auction(seller=seller, title="다른 물건", start_price=85_000, is_national=True)
        one_by_one(elsewhere, asks_of([("a", 85_000, None)], people, seller))

    batched, single = both_ways([("a", 20_000, None), ("b", 15_000, None)], gap=spend, monkeypatch=monkeypatch)
    # then a's write found a's wallet changed, and b was decided again: accepted, as one by one
    assert batched == single
    assert [o[0] for o in batched[0]] == ["refused", "ok"]


def test_a_deposit_in_the_gap_keeps_the_bids_before_it_and_redoes_the_rest(monkeypatch):
    # given a line where the second bid is the first to touch b's wallet, and a deposit into
    # b's wallet between the batch's reads and its write
    def deposit(seller, people, auction):
        fund(people["b"], 5_000)

    batched, single = both_ways(
        [("a", 10_000, None), ("b", 11_000, None), ("c", 12_000, None)], gap=deposit, monkeypatch=monkeypatch, at=1
    )
    # then all three were accepted as one by one with the deposit after the first
    assert batched == single
    assert [o[0] for o in batched[0]] == ["ok", "ok", "ok"]


def test_an_error_in_the_write_undoes_it_all_and_the_bids_go_one_by_one(monkeypatch):
    # given a batch whose one transaction fails after its bids' statements ran (a statement
    # added at its end divides by zero)
    (single, single_rows) = both_ways(SCRIPTS["a chain of minimum bids"])[1]
    real = bid_batch.execute_in_one_transaction
    failed = []

    def failing(statements):
        try:
            return real([*statements, ("SELECT 1 / 0", [])])
        except Exception as exc:
            failed.append(exc)
            raise

    monkeypatch.setattr(bid_batch, "execute_in_one_transaction", failing)
    seller, people, auction, roles = world()
    got = bid_place_many(auction_id=auction.pk, bids=asks_of(SCRIPTS["a chain of minimum bids"], people, seller))
    # then the failed transaction left nothing, and the bids one by one wrote what they write
    assert failed
    assert [outcome_of(o) for o in got] == single
    assert rows(auction, roles) == single_rows
    assert LedgerEntry.objects.filter(auction=auction).count() == len(single_rows["ledger"])
    assert_books_balance()


def test_without_the_pipeline_the_bids_go_one_by_one(monkeypatch):
    # given a connection that logs its queries (DEBUG): no pipeline
    seller, people, auction, _roles = world()
    monkeypatch.setattr(connections["default"], "force_debug_cursor", True)
    called = []
    monkeypatch.setattr(bid_batch, "execute_in_one_transaction", lambda s: called.append(s))
    # when a batch runs
    answers = bid_place_many(auction_id=auction.pk, bids=asks_of(SCRIPTS["a chain of minimum bids"], people, seller))
    # then every bid was placed, none through the one transaction
    assert called == [] and [a.state["seq"] for a in answers] == [1, 2, 3, 4]


bids = st.lists(
    st.tuples(
        st.sampled_from(PEOPLE),
        st.integers(min_value=0, max_value=12),  # steps above the start price
        st.one_of(st.none(), st.integers(min_value=0, max_value=15)),  # a maximum, steps above the amount
    ),
    min_size=2,
    max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=bids)
def test_any_line_of_bids_is_answered_and_written_as_one_by_one(script):
    # given any line of bids (amounts and maximums in ladder steps, some too low, some raises)
    steps = [(who, 10_000 + up * STEP, None if top is None else 10_000 + (up + top) * STEP) for who, up, top in script]
    # when one world takes them as a batch and the other one by one
    (batched, batch_rows), (single, single_rows) = both_ways(steps)
    # then every answer and every row is the same
    assert batched == single
    assert batch_rows == single_rows


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_the_batch_sends_the_events_one_by_one_sends_after_its_commit(monkeypatch):
    # given the production path (no caller's transaction: BEGIN … COMMIT in one round trip), and
    # the events as they leave for the bus and the channel layer
    from neighborbid import bus
    from realtime import layer

    sent: list[tuple] = []
    real_publish, real_send = bus.publish, layer.send_event

    def publish(channel, message):
        sent.append(("state", message["seq"], message["current_price"], message["bid_count"]))
        return real_publish(channel, message)

    def send_event(groups, event, **kwargs):
        sent.append(("user", event["kind"], event["current_price"], event.get("released")))
        return real_send(groups, event, **kwargs)

    monkeypatch.setattr(bus, "publish", publish)
    monkeypatch.setattr(layer, "send_event", send_event)
    real_one, transactions = bid_batch.execute_in_one_transaction, []
    monkeypatch.setattr(bid_batch, "execute_in_one_transaction", lambda s: transactions.append(len(s)) or real_one(s))
    script = [("a", 10_000, 30_000), ("b", 15_000, None), ("c", 31_000, None), ("a", 40_000, None)]
    events = []
    for batched in (True, False):
        sent.clear()
        seller, people, auction, roles = world()
        asks = asks_of(script, people, seller)
        got = bid_place_many(auction_id=auction.pk, bids=asks) if batched else one_by_one(auction, asks)
        events.append(([outcome_of(o) for o in got], list(sent), rows(auction, roles)))
    # when each ran, then the same answers, the same events in the same order, the same rows
    assert transactions == [2 + 4]  # the batch's one transaction: two locks, four writes (b lost at once)
    assert events[0] == events[1]
    assert [e[0] for e in events[0][1]].count("state") == 4 and ("user", "outbid", 31_000, 30_000) in events[0][1]
