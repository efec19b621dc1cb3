"""Bid and buy-now over plain HTTP: POST → redirect → a Korean message; bad input changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from auctions.models import Auction, Bid
from tests.factories import make_auction, make_user, neighbourhood, rid
from tests.money import assert_books_balance, wallet_of, world
from tests.web.conftest import follow_messages, signed_in

pytestmark = pytest.mark.django_db


def bid_url(auction):
    return reverse("auctions:bid", args=[auction.pk])


def test_bid_holds_money_and_says_so():
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    client = signed_in(bidder)
    response = client.post(bid_url(auction), {"amount": "12,000", "request_id": rid()})
    assert response.status_code == 302 and response.url == reverse("auctions:detail", args=[auction.pk])
    assert "12,000원에 입찰했어요." in follow_messages(client, response)
    assert wallet_of(bidder) == (38_000, 12_000)
    auction.refresh_from_db()
    assert (auction.current_price, auction.leader_id) == (12_000, bidder.pk)
    assert_books_balance()


def test_the_same_request_id_never_bids_twice():
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    client = signed_in(bidder)
    request_id = rid()
    client.post(bid_url(auction), {"amount": "10000", "request_id": request_id})
    response = client.post(bid_url(auction), {"amount": "10000", "request_id": request_id})
    assert any("이미 처리된 입찰" in m for m in follow_messages(client, response))
    assert Bid.objects.filter(auction=auction).count() == 1
    assert wallet_of(bidder) == (40_000, 10_000)


def test_outbid_releases_money_and_notifies():
    auction = make_auction(start_price=10_000)
    first = make_user(balance=50_000)
    second = make_user(balance=50_000)
    signed_in(first).post(bid_url(auction), {"amount": "10,000", "request_id": rid()})
    signed_in(second).post(bid_url(auction), {"amount": "11,000", "request_id": rid()})
    assert wallet_of(first) == (50_000, 0)
    client = signed_in(first)
    home = client.get("/").content.decode()
    assert 'class="badge"' in home
    page = client.get(reverse("auctions:notifications")).content.decode()
    assert "더 높은 입찰(11,000원)" in page
    wallet = client.get(reverse("wallets:wallet")).content.decode()
    assert "입찰금 반환" in wallet and "+10,000원" in wallet


@pytest.mark.parametrize(
    "amount",
    [
        "-10000",
        "0",
        "12000.5",
        "1.2e4",
        "NaN",
        "Infinity",
        "만이천원",
        "",
        "   ",
        "12,00",
        "0x2710",
        "99999999999999999999",
        "١٠٠٠٠",
        "۱۰۰۰۰",
        "１０,０００",
        "१००००",
    ],
)
def test_bad_amounts_change_nothing(amount):
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    client = signed_in(bidder)
    before = world()
    response = client.post(bid_url(auction), {"amount": amount, "request_id": rid()})
    messages = follow_messages(client, response)
    assert messages and any("금액" in m or "입찰가" in m for m in messages), messages
    assert world() == before


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("9,000", "최소 입찰가는 10,000원이에요."),
        ("5,000,000,000", "넘을 수 없어요"),
        ("30,000", "즉시구매를 이용해 주세요"),
        ("20,000", "잔액"),
    ],
)
def test_rule_refusals_are_messages_and_change_nothing(amount, message):
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    bidder = make_user(balance=15_000)
    client = signed_in(bidder)
    before = world()
    response = client.post(bid_url(auction), {"amount": amount, "request_id": rid()})
    assert any(message in m for m in follow_messages(client, response)), message
    assert world() == before


def test_missing_request_id_is_refused():
    auction = make_auction()
    client = signed_in(make_user(balance=50_000))
    before = world()
    response = client.post(bid_url(auction), {"amount": "10,000"})
    assert any("요청 번호" in m for m in follow_messages(client, response))
    response = client.post(bid_url(auction), {"amount": "10,000", "request_id": "x" * 65})
    assert follow_messages(client, response)
    assert world() == before


def test_eligibility_is_enforced_by_the_service_and_shown():
    auction = make_auction()
    unverified = signed_in(make_user(verified=False, balance=50_000))
    far = signed_in(make_user(place=neighbourhood("역삼1동", "서울특별시 강남구"), radius_km=10, balance=50_000))
    before = world()
    response = unverified.post(bid_url(auction), {"amount": "10,000", "request_id": rid()})
    assert any("동네 인증" in m for m in follow_messages(unverified, response))
    response = far.post(bid_url(auction), {"amount": "10,000", "request_id": rid()})
    assert any("범위" in m for m in follow_messages(far, response))
    own = signed_in(auction.seller)
    response = own.post(bid_url(auction), {"amount": "10,000", "request_id": rid()})
    assert any("본인이 등록한 경매" in m for m in follow_messages(own, response))
    assert world() == before


def test_national_auction_bid_over_http_for_unverified_user():
    auction = make_auction(is_national=True, start_price=10_000)
    bidder = make_user(verified=False, place=neighbourhood("역삼1동", "서울특별시 강남구"), balance=20_000)
    client = signed_in(bidder)
    client.post(bid_url(auction), {"amount": "10,000", "request_id": rid()})
    assert wallet_of(bidder) == (10_000, 10_000)


def test_suspended_user_cannot_bid():
    auction = make_auction()
    user = make_user(balance=50_000, is_suspended=True, suspended_reason="도배")
    client = signed_in(user)
    before = world()
    response = client.post(bid_url(auction), {"amount": "10,000", "request_id": rid()})
    assert any("정지" in m for m in follow_messages(client, response))
    assert world() == before


def test_anonymous_bid_goes_to_login_and_csrf_is_enforced():
    auction = make_auction()
    user = make_user(balance=50_000)
    before = world()
    response = Client().post(bid_url(auction), {"amount": "10,000", "request_id": rid()})
    assert response.status_code == 302 and "/accounts/login/" in response.url
    response = signed_in(user, csrf=True).post(bid_url(auction), {"amount": "10,000", "request_id": rid()})
    assert response.status_code == 403
    assert signed_in(user).get(bid_url(auction)).status_code == 405
    assert world() == before


def test_bid_on_missing_auction_is_404_and_on_ended_is_a_message():
    client = signed_in(make_user(balance=50_000))
    assert client.post("/auctions/987654/bid/", {"amount": "10,000", "request_id": rid()}).status_code == 404
    auction = make_auction()
    client2 = signed_in(auction.seller)
    client2.post(reverse("auctions:cancel", args=[auction.pk]))
    before = world()
    response = client.post(bid_url(auction), {"amount": "10,000", "request_id": rid()})
    assert any("종료" in m for m in follow_messages(client, response))
    assert world() == before


def test_buy_now_ends_the_auction_and_opens_the_trade():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    leader = make_user(balance=50_000)
    signed_in(leader).post(bid_url(auction), {"amount": "10,000", "request_id": rid()})
    buyer = make_user(balance=40_000)
    client = signed_in(buyer)
    request_id = rid()
    response = client.post(reverse("auctions:buy_now", args=[auction.pk]), {"request_id": request_id, "confirmed": "1"})
    assert any("30,000원에 즉시구매했어요" in m for m in follow_messages(client, response))
    auction.refresh_from_db()
    assert (auction.status, auction.winner_id) == (Auction.Status.SOLD, buyer.pk)
    assert wallet_of(buyer) == (10_000, 0) and wallet_of(leader) == (50_000, 0)
    assert wallet_of(auction.seller) == (0, 0)  # paid when the buyer confirms (the trade)
    assert auction.trade.amount == 30_000
    # the same click again: harmless
    response = client.post(reverse("auctions:buy_now", args=[auction.pk]), {"request_id": request_id, "confirmed": "1"})
    assert any("이미 즉시구매한" in m for m in follow_messages(client, response))
    assert wallet_of(buyer) == (10_000, 0)
    assert_books_balance()


def test_buy_now_refusals_change_nothing():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    poor = signed_in(make_user(balance=5_000))
    before = world()
    response = poor.post(reverse("auctions:buy_now", args=[auction.pk]), {"request_id": rid(), "confirmed": "1"})
    assert any("필요해요" in m for m in follow_messages(poor, response))
    response = poor.post(reverse("auctions:buy_now", args=[auction.pk]), {})
    assert any("요청 번호" in m for m in follow_messages(poor, response))
    no_buy_now = make_auction()
    before = world()
    response = poor.post(reverse("auctions:buy_now", args=[no_buy_now.pk]), {"request_id": rid(), "confirmed": "1"})
    assert any("즉시구매를 할 수 없는" in m for m in follow_messages(poor, response))
    assert world() == before


def test_buy_now_without_confirmation_asks_on_a_page_first():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    buyer = make_user(balance=40_000)
    client = signed_in(buyer)
    before = world()
    request_id = rid()
    page = client.post(reverse("auctions:buy_now", args=[auction.pk]), {"request_id": request_id})
    assert page.status_code == 200
    text = page.content.decode()
    assert "즉시구매할까요?" in text and "30,000원에 구매하기" in text and request_id in text
    assert world() == before
    response = client.post(reverse("auctions:buy_now", args=[auction.pk]), {"request_id": request_id, "confirmed": "1"})
    assert any("즉시구매했어요" in m for m in follow_messages(client, response))
    auction.refresh_from_db()
    assert auction.winner_id == buyer.pk
