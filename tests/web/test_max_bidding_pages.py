"""Max bidding on the pages: the form says what will happen, the leader raises a maximum,
a slip of a zero is asked about, the history marks automatic bids, the price chart (issue 12)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from auctions.models import Bid
from auctions.services import bid_place
from tests.factories import make_auction, make_user, rid
from tests.money import wallet_of, world
from tests.web.conftest import follow_messages, signed_in

pytestmark = pytest.mark.django_db


def test_a_bid_with_a_maximum_leads_and_the_page_shows_my_maximum_and_the_raise_form():
    auction = make_auction(start_price=10_000)
    alice = make_user(balance=100_000)
    client = signed_in(alice)
    response = client.post(
        reverse("auctions:bid", args=[auction.pk]), {"amount": "10,000", "max_amount": "18,000", "request_id": rid()}
    )
    assert any("최대 18,000원까지 자동으로 입찰해요" in m for m in follow_messages(client, response))
    assert wallet_of(alice) == (82_000, 18_000)
    page = client.get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    assert "최대 입찰가 올리기" in page and 'data-my-max="18000"' in page
    # others never see the maximum
    other = signed_in(make_user()).get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    assert "18,000" not in other and "data-my-max" not in other


def test_a_plain_bid_against_a_higher_maximum_is_told_it_lost_at_once():
    auction = make_auction(start_price=10_000)
    bid_place(
        auction_id=auction.pk, actor=make_user(balance=100_000), amount=10_000, max_amount=30_000, request_id=rid()
    )
    bob = make_user(balance=100_000)
    client = signed_in(bob)
    response = client.post(reverse("auctions:bid", args=[auction.pk]), {"amount": "12,000", "request_id": rid()})
    assert any("자동 입찰로 밀렸어요" in m and "13,000원" in m for m in follow_messages(client, response))
    assert wallet_of(bob) == (100_000, 0)


def test_far_above_the_minimum_asks_once_more_and_changes_nothing_until_confirmed():
    auction = make_auction(start_price=10_000)
    alice = make_user(balance=1_000_000)
    client = signed_in(alice)
    before = world()
    request_id = rid()
    response = client.post(reverse("auctions:bid", args=[auction.pk]), {"amount": "100,000", "request_id": request_id})
    assert response.status_code == 200 and "0을 하나 더 누르지 않았는지" in response.content.decode()
    assert world() == before
    client.post(
        reverse("auctions:bid", args=[auction.pk]), {"amount": "100000", "request_id": request_id, "confirmed": "1"}
    )
    assert Bid.objects.filter(auction=auction, bidder=alice).count() == 1


def test_the_history_marks_automatic_bids_and_hides_others_raises():
    auction = make_auction(start_price=10_000)
    alice, bob = make_user(balance=100_000), make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=20_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=25_000, request_id=rid())  # a raise
    bid_place(auction_id=auction.pk, actor=bob, amount=11_000, request_id=rid())  # alice's maximum answers
    page = signed_in(bob).get(reverse("auctions:bids", args=[auction.pk])).content.decode()
    assert "자동" in page and "12,000원" in page
    assert "25,000원" not in page and "최대 입찰가 변경" not in page
    own = signed_in(alice).get(reverse("auctions:bids", args=[auction.pk])).content.decode()
    assert "내 최대 입찰가 변경" in own and "25,000원" in own


def test_the_price_chart_appears_after_two_prices():
    auction = make_auction(start_price=10_000)
    bid_place(auction_id=auction.pk, actor=make_user(balance=100_000), amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=make_user(balance=100_000), amount=11_000, request_id=rid())
    page = signed_in(make_user()).get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    assert "<polyline" in page and "10,000원에서 11,000원까지" in page
    # the axes' words (issue 18 #18): highest and lowest price, first and last time
    assert 'data-chart="ymax">11,000원<' in page and 'data-chart="ymin">10,000원<' in page
    assert re.search(r'data-chart="t1" datetime="[^"]+">\d\d:\d\d<', page)
