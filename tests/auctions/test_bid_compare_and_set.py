"""The compare-and-set bid (issue 19): the rules decide on one committed snapshot, and the one
write applies the plan only if nothing it was decided on changed. These tests change the
auction or a wallet for real between the read and the write (another service call in the
gap), and check that the stale plan wrote nothing, that the bid was decided again on the new
state, and that after CAS_ATTEMPTS conflicts the locked transaction decides."""

from __future__ import annotations

import pytest

from auctions.models import Auction, Bid
from auctions.services import bid_place, bidding
from auctions.services.bid_writes import CasConflict
from neighborbid.errors import BidTooLow
from tests.factories import fund, make_auction, make_user, rid
from tests.money import assert_books_balance, wallet_of
from wallets.models import LedgerEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _compare_and_set(monkeypatch):
    """These bids take the compare-and-set path (a plain bid would otherwise be decided inside
    PostgreSQL in one call: tests/auctions/test_bid_decide.py)."""
    monkeypatch.setattr(bidding, "SQL_DECIDE", False)


@pytest.fixture
def gap(monkeypatch):
    """Run `meddle` after each of the next `times` reads of a bid (between its read and its
    write); counts the compare-and-set writes and how many of them wrote nothing."""
    state = {"meddle": None, "times": 0, "reads": 0, "writes": [], "locked": 0}
    real_read, real_write, real_atomic = bidding._bid_read, bidding.bid_write_sql, bidding._bid_atomic

    def read(**kwargs):
        result = real_read(**kwargs)
        state["reads"] += 1
        if state["times"] > 0:
            state["times"] -= 1
            state["meddle"]()
        return result

    def write(*args, **kwargs):
        written = real_write(*args, **kwargs)
        if kwargs.get("expect") is not None:
            state["writes"].append(not isinstance(written, CasConflict))
        return written

    def atomic(**kwargs):
        state["locked"] += 1
        return real_atomic(**kwargs)

    monkeypatch.setattr(bidding, "_bid_read", read)
    monkeypatch.setattr(bidding, "bid_write_sql", write)
    monkeypatch.setattr(bidding, "_bid_atomic", atomic)
    return state


def test_a_price_that_moved_in_the_gap_is_decided_again_and_refused(gap):
    # given an auction led at 10,000, and a bidder who read it there
    auction = make_auction(start_price=10_000, is_national=True)
    leader, late, quick = (make_user(balance=50_000) for _ in range(3))
    bid_place(auction_id=auction.pk, actor=leader, amount=10_000, request_id=rid())
    gap["meddle"] = lambda: bid_place(auction_id=auction.pk, actor=quick, amount=12_000, request_id=rid())
    gap["times"], gap["writes"] = 1, []
    # when someone else's 12,000 commits between the late bidder's read and write
    with pytest.raises(BidTooLow):
        bid_place(auction_id=auction.pk, actor=late, amount=11_000, request_id=rid())
    # then the stale plan wrote nothing, and the refusal came from the write statement's own
    # snapshot: three reads (the leader's, the late bid's one, the quick bid's), no fourth
    assert gap["writes"] == [True, False]  # the quick bid's write, then the late bid's stale one
    assert gap["reads"] == 3
    assert not Bid.objects.filter(bidder=late).exists()
    assert wallet_of(late) == (50_000, 0)
    assert not LedgerEntry.objects.filter(wallet__user=late).exclude(kind="deposit").exists()
    row = Auction.objects.get(pk=auction.pk)
    assert (row.current_price, row.leader_id) == (12_000, quick.pk)
    assert_books_balance()


def test_a_bid_still_high_enough_after_the_gap_is_accepted_on_the_new_state(gap):
    auction = make_auction(start_price=10_000, is_national=True)
    leader, high, quick = (make_user(balance=50_000) for _ in range(3))
    bid_place(auction_id=auction.pk, actor=leader, amount=10_000, request_id=rid())
    gap["meddle"] = lambda: bid_place(auction_id=auction.pk, actor=quick, amount=11_000, request_id=rid())
    gap["times"], gap["writes"] = 1, []
    # when 11,000 commits in the gap of a 15,000 bid
    result = bid_place(auction_id=auction.pk, actor=high, amount=15_000, request_id=rid())
    # then the 15,000 leads, and the escrow moved from the quick bidder (not from the first leader twice)
    assert gap["writes"] == [True, False, True]
    assert result.leading and result.state["current_price"] == 15_000
    assert wallet_of(leader) == (50_000, 0) and wallet_of(quick) == (50_000, 0) and wallet_of(high) == (35_000, 15_000)
    assert Auction.objects.get(pk=auction.pk).seq == 3
    assert_books_balance()


def test_a_wallet_that_changed_in_the_gap_stops_the_whole_write(gap):
    # given a bidder whose wallet gets a top-up between their read and their write
    auction = make_auction(start_price=10_000, is_national=True)
    leader, bidder = make_user(balance=50_000), make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=leader, amount=10_000, request_id=rid())
    before = Auction.objects.get(pk=auction.pk)
    gap["meddle"] = lambda: fund(bidder, 5_000)
    gap["times"], gap["writes"] = 1, []
    # when they bid
    result = bid_place(auction_id=auction.pk, actor=bidder, amount=11_000, request_id=rid())
    # then the first write found the wallet changed and wrote nothing at all (the auction was
    # unchanged, so only the wallet check stopped it); the second wrote everything once
    assert gap["writes"] == [False, True]
    assert result.leading
    assert wallet_of(bidder) == (44_000, 11_000) and wallet_of(leader) == (50_000, 0)
    assert LedgerEntry.objects.filter(wallet__user=bidder, kind="bid_hold").count() == 1
    assert Bid.objects.filter(bidder=bidder).count() == 1
    assert Auction.objects.get(pk=auction.pk).seq == before.seq + 1
    assert_books_balance()


def test_after_every_attempt_conflicts_the_locked_transaction_decides(gap):
    auction = make_auction(start_price=10_000, is_national=True)
    bidder = make_user(balance=50_000)
    gap["meddle"] = lambda: fund(bidder, 1_000)
    gap["times"] = bidding.CAS_ATTEMPTS
    result = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    # then every compare-and-set lost, and the locked transaction accepted the bid once
    assert gap["writes"] == [False] * bidding.CAS_ATTEMPTS
    assert gap["locked"] == 1
    assert result.leading
    assert wallet_of(bidder) == (50_000 + 1_000 * bidding.CAS_ATTEMPTS - 10_000, 10_000)
    assert Bid.objects.filter(bidder=bidder).count() == 1
    assert_books_balance()


def _led_at_10_000_with_a_quick_bid_in_the_gap(gap, quick_amount):
    """An auction led at 10,000 (minimum next 11,000); the next bid's read is followed by
    someone else's `quick_amount`, committed before that bid is written."""
    auction = make_auction(start_price=10_000, is_national=True)
    leader, late, quick = (make_user(balance=50_000) for _ in range(3))
    bid_place(auction_id=auction.pk, actor=leader, amount=10_000, request_id=rid())
    gap["meddle"] = lambda: bid_place(auction_id=auction.pk, actor=quick, amount=quick_amount, request_id=rid())
    gap["times"] = 1
    return auction, late, quick


def test_an_overtaken_bid_is_refused_with_the_newer_state(gap):
    # given a quick 15,000 in the gap of a late bidder's 11,000
    auction, late, _quick = _led_at_10_000_with_a_quick_bid_in_the_gap(gap, 15_000)
    seq_before = Auction.objects.get(pk=auction.pk).seq
    # when the late bid is written
    with pytest.raises(BidTooLow) as refused:
        bid_place(auction_id=auction.pk, actor=late, amount=11_000, request_id=rid())
    # then the refusal carries the state that overtook it (price, seq, minimum), read by no
    # fourth statement, and nothing of the late bidder's was written
    error = refused.value
    assert error.details["current_price"] == 15_000 and error.details["seq"] == seq_before + 1
    assert error.details["min_next_bid"] == 16_000
    assert gap["reads"] == 3  # the leader's, the late bid's, the quick bid's
    assert not Bid.objects.filter(bidder=late).exists() and wallet_of(late) == (50_000, 0)
    assert_books_balance()


def test_a_bid_still_above_the_overtaking_price_is_decided_again_and_accepted(gap):
    # given a quick 11,000 in the gap of a late bidder's 13,000 (still above the new minimum)
    auction, late, quick = _led_at_10_000_with_a_quick_bid_in_the_gap(gap, 11_000)
    # when the late bid is written
    result = bid_place(auction_id=auction.pk, actor=late, amount=13_000, request_id=rid())
    # then the write's snapshot did not refuse it: a new read decided, and it leads
    assert result.leading and gap["reads"] == 4  # leader, late (stale), quick, late again
    assert wallet_of(late) == (37_000, 13_000) and wallet_of(quick) == (50_000, 0)
    assert_books_balance()


def test_a_twin_in_the_writes_snapshot_is_answered_with_its_outcome_even_when_overtaken(gap):
    # given a request whose twin (the same request id) is accepted between its read and its
    # write, and then overtaken by someone else's 15,000
    auction = make_auction(start_price=10_000, is_national=True)
    bidder, rival = make_user(balance=50_000), make_user(balance=50_000)
    request_id = rid()

    def twin_then_rival():
        bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=request_id)
        bid_place(auction_id=auction.pk, actor=rival, amount=15_000, request_id=rid())

    gap["meddle"], gap["times"] = twin_then_rival, 1
    # when the first copy's write finds the auction moved past its amount
    result = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=request_id)
    # then it is not refused as too low (its snapshot holds its twin): it answers with the
    # twin's bid, placed once, now outbid
    assert result.bid.client_request_id == request_id and not result.leading
    assert Bid.objects.filter(bidder=bidder).count() == 1 and wallet_of(bidder) == (50_000, 0)
    assert wallet_of(rival) == (35_000, 15_000)
    assert_books_balance()
