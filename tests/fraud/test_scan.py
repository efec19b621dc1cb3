"""The shill scan on PostgreSQL, fed by the real bid and settlement services.

A deterministic simulator runs one seller's auctions with honest bidders, a loyal neighbour
who buys most things from that seller, and one shill account that probes the leaders' hidden
maximums; the scan must put exactly the shill pair in the moderators' queue."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from auctions.models import Auction, Bid
from auctions.rules import min_next_bid
from auctions.services import auction_settle, bid_place
from fraud.models import ShillCase
from fraud.services import shill_case_resolve, shill_scan
from neighborbid.errors import InvalidRequest, PermissionDenied
from tests.factories import make_auction, make_moderator, make_user, neighbourhood, rid

pytestmark = pytest.mark.django_db


def long_time_member(**kw) -> User:
    user = make_user(balance=3_000_000, **kw)
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=400))
    return user


def place(auction: Auction, who: User, amount: int, maximum: int | None = None) -> None:
    bid_place(auction_id=auction.pk, actor=who, amount=amount, max_amount=maximum, request_id=rid())


def minimum(auction: Auction) -> int:
    auction.refresh_from_db()
    return min_next_bid(current_price=auction.current_price, has_bids=auction.bid_count > 0)


def run_auction(seller: User, *, early: list, late: list, probe_by: User | None = None) -> Auction:
    """early/late: (bidder, maximum) placed as max bids in the first / second half. The prober
    bids the minimum, plainly, while it stays under the leader's hidden maximum (the automatic
    answers push the price to within one step of it)."""
    auction = make_auction(seller=seller, start_price=10_000)
    first = timezone.now()
    for who, maximum in early:
        place(auction, who, minimum(auction), maximum)
    if probe_by is not None:
        auction.refresh_from_db()
        while minimum(auction) < (auction.leader_max or 0):
            place(auction, probe_by, minimum(auction))
            auction.refresh_from_db()
    time.sleep(0.01)
    middle = timezone.now()
    time.sleep(0.01)
    for who, maximum in late:
        place(auction, who, minimum(auction), maximum)
    # As if the hours had passed: the auction ran from before the first bid to after the last,
    # with `middle` halfway; then it ends and the worker settles it.
    span = max(middle - first, timezone.now() - middle) + timedelta(seconds=1)
    Auction.objects.filter(pk=auction.pk).update(
        starts_at=middle - span, original_ends_at=middle + span, ends_at=timezone.now() - timedelta(seconds=1)
    )
    assert auction_settle(auction_id=auction.pk) is not None
    return auction


@pytest.fixture
def market():
    """Seller 한결 in 합정동 runs six auctions; two other sellers three each."""
    rng = random.Random(20261205)
    home = neighbourhood()
    elsewhere = neighbourhood("서교동", "서울특별시 마포구")  # next door, within 3 km
    seller = long_time_member(place=home, nickname="한결")
    others = [long_time_member(place=elsewhere) for _ in range(2)]
    honest = [long_time_member(place=rng.choice([home, elsewhere])) for _ in range(6)]
    loyal = long_time_member(place=home, nickname="단골")
    shill = make_user(place=home, balance=3_000_000, nickname="새얼굴")  # joined today, next door
    for i in range(6):
        a, b = rng.sample(honest, 2)
        early = [(a, 20_000 + 1_000 * rng.randrange(10))]
        if i < 4:  # the loyal neighbour wins four, with one maximum each, late
            late = [(loyal, 60_000)]
        else:
            late = [(b, 45_000 + 1_000 * rng.randrange(10))]
        run_auction(seller, early=early, late=late, probe_by=shill)
    for other in others:
        for _ in range(3):
            a, b = rng.sample(honest, 2)
            run_auction(other, early=[(a, 15_000 + 500 * rng.randrange(10))], late=[(b, 30_000)])
    run_auction(others[0], early=[(loyal, 12_000)], late=[(honest[0], 40_000)])
    return dict(seller=seller, shill=shill, loyal=loyal, honest=honest, others=others)


def test_the_shill_pair_reaches_the_queue_and_the_loyal_neighbour_does_not(market):
    # Given the simulated market (settlements already scanned their seller, on commit) ...
    ShillCase.objects.all().delete()

    # When the nightly scan runs
    result = shill_scan()

    # Then exactly the shill pair is open, with the evidence of each signal
    cases = list(ShillCase.objects.filter(status=ShillCase.Status.OPEN))
    assert [(c.seller_id, c.bidder_id) for c in cases] == [(market["seller"].pk, market["shill"].pk)]
    codes = {s["code"] for s in cases[0].signals}
    assert {"concentration", "never_wins", "max_probing", "tiny_increments", "fresh_account"} <= codes
    assert all(s["detail"] and s["label"] for s in cases[0].signals)
    assert len(cases[0].auction_ids) == 6 and cases[0].signal_count == len(codes)
    assert result.opened == 1 and result.pairs >= 10
    # and nothing was cancelled, refunded or hidden
    assert not Auction.objects.filter(status=Auction.Status.CANCELLED).exists()
    assert not Auction.objects.filter(is_hidden=True).exists()


def test_a_second_scan_opens_nothing_new(market):
    shill_scan()
    before = list(ShillCase.objects.values_list("id", "status", "signals"))
    again = shill_scan()
    assert again.opened == 0 and again.updated == 0
    assert list(ShillCase.objects.values_list("id", "status", "signals")) == before


def test_a_dismissed_pair_is_not_put_back_with_the_same_evidence(market):
    shill_scan()
    case = ShillCase.objects.get(status=ShillCase.Status.OPEN)
    moderator = make_moderator()
    shill_case_resolve(case_id=case.pk, staff_user=moderator, status=ShillCase.Status.DISMISSED, note="지인 확인")

    result = shill_scan()

    assert result.opened == 0
    assert list(ShillCase.objects.values_list("status", flat=True)) == ["dismissed"]
    case.refresh_from_db()
    assert case.handled_by_id == moderator.pk and case.handled_note == "지인 확인"


@pytest.mark.django_db(transaction=True)
def test_settlement_scans_the_seller_once_it_has_committed():
    # Given a newcomer next door who probed one of a seller's auctions
    home = neighbourhood()
    seller = long_time_member(place=home)
    honest = [long_time_member() for _ in range(3)]
    shill = make_user(place=home, balance=3_000_000)
    run_auction(seller, early=[(honest[0], 30_000)], late=[], probe_by=shill)
    assert not ShillCase.objects.exists()  # one auction is not a pattern (one signal: a new account)

    # When a second probed auction settles (the settlement's on-commit hook runs the scan)
    run_auction(seller, early=[(honest[1], 30_000)], late=[], probe_by=shill)

    # Then the pair is in the queue without any nightly run
    assert list(ShillCase.objects.values_list("seller_id", "bidder_id")) == [(seller.pk, shill.pk)]
    assert {s["code"] for s in ShillCase.objects.get().signals} == {"max_probing", "fresh_account"}


def test_only_a_moderator_closes_a_case_and_only_once(market):
    shill_scan()
    case = ShillCase.objects.get(status=ShillCase.Status.OPEN)
    with pytest.raises(PermissionDenied):
        shill_case_resolve(case_id=case.pk, staff_user=market["loyal"], status=ShillCase.Status.ACTIONED)
    moderator = make_moderator()
    with pytest.raises(InvalidRequest):
        shill_case_resolve(case_id=case.pk, staff_user=moderator, status="open")
    case.refresh_from_db()
    assert case.status == ShillCase.Status.OPEN and case.handled_by_id is None

    shill_case_resolve(case_id=case.pk, staff_user=moderator, status=ShillCase.Status.ACTIONED)
    with pytest.raises(InvalidRequest):
        shill_case_resolve(case_id=case.pk, staff_user=moderator, status=ShillCase.Status.DISMISSED)
    assert ShillCase.objects.get(pk=case.pk).status == ShillCase.Status.ACTIONED


def test_bid_rows_of_the_simulation_are_real(market):
    # The simulator drives the real bid service: the shill's probes were answered automatically.
    shill_bids = Bid.objects.filter(bidder=market["shill"], kind="bid")
    assert shill_bids.count() >= 12
    assert Bid.objects.filter(kind="auto").count() >= shill_bids.count()
