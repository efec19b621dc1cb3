"""Trades through the API (every step the page offers, IDOR), the watchlist, and selling."""

from __future__ import annotations

import pytest

from tests.api.conftest import app_client
from tests.factories import make_auction, make_user, rid
from tests.money import world
from trades.models import Trade
from wallets.models import Wallet

pytestmark = pytest.mark.django_db


@pytest.fixture
def sale(user, app):
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000, buy_now_price=30_000)
    assert app.post_json(f"/api/v1/auctions/{auction.pk}/buy-now", key=rid()).status_code == 201
    return seller, Trade.objects.get(auction=auction)


def test_the_buyer_and_the_seller_see_the_trade_and_its_steps(user, app, sale):
    seller, trade = sale
    mine = app.get("/api/v1/trades").json()["items"]
    assert [t["id"] for t in mine] == [trade.pk] and mine[0]["role"] == "buyer"
    assert mine[0]["can"] == {"hand_over": False, "ship": False, "confirm": True, "dispute": True, "refund": False}
    theirs = app_client(seller).get(f"/api/v1/trades/{trade.pk}").json()
    assert theirs["role"] == "seller" and theirs["can"]["hand_over"] and theirs["can"]["refund"]


def test_hand_over_then_confirm_pays_the_seller_once(user, app, sale):
    seller, trade = sale
    seller_app = app_client(seller)
    handed = seller_app.post_json(f"/api/v1/trades/{trade.pk}/hand-over")
    assert handed.status_code == 200 and handed.json()["status"] == "handed_over"
    confirmed = app.post_json(f"/api/v1/trades/{trade.pk}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "completed"
    assert Wallet.objects.get(user=seller).balance == 30_000
    before = world()
    again = app.post_json(f"/api/v1/trades/{trade.pk}/confirm")
    assert again.status_code == 409 and again.json()["code"] == "trade_state"
    assert again.json()["status"] == 409 and again.json()["trade_state_status"] == "completed"
    assert world() == before


def test_a_stranger_gets_404_for_every_trade_call_and_nothing_changes(sale):
    _seller, trade = sale
    stranger = app_client(make_user())
    before = world()
    assert stranger.get(f"/api/v1/trades/{trade.pk}").status_code == 404
    for step in ("hand-over", "confirm", "refund"):
        response = stranger.post_json(f"/api/v1/trades/{trade.pk}/{step}")
        assert response.status_code == 404 and response.json()["code"] == "trade_not_found", step
    assert stranger.post_json(f"/api/v1/trades/{trade.pk}/dispute", {"reason": "가짜"}).status_code == 404
    assert (
        stranger.post_json(f"/api/v1/trades/{trade.pk}/ship", {"carrier": "a", "tracking_number": "1"}).status_code
        == 404
    )
    assert stranger.get("/api/v1/trades?tab=all").json()["items"] == []
    assert world() == before


def test_the_buyer_cannot_refund_and_the_seller_cannot_confirm(user, app, sale):
    seller, trade = sale
    before = world()
    assert app.post_json(f"/api/v1/trades/{trade.pk}/refund").status_code == 403
    assert app_client(seller).post_json(f"/api/v1/trades/{trade.pk}/confirm").status_code == 403
    assert world() == before


def test_a_dispute_stops_the_release_and_a_refund_returns_the_money(user, app, sale):
    seller, trade = sale
    disputed = app.post_json(f"/api/v1/trades/{trade.pk}/dispute", {"reason": "상품이 설명과 달라요"})
    assert disputed.status_code == 200 and disputed.json()["status"] == "disputed"
    assert disputed.json()["auto_release_at"] is None
    refunded = app_client(seller).post_json(f"/api/v1/trades/{trade.pk}/refund")
    assert refunded.json()["status"] == "refunded"
    assert Wallet.objects.get(user=user).balance == 1_000_000


def test_a_dispute_with_photos_keeps_them_for_the_moderator_and_a_stranger_gets_404(user, app, sale):
    from tests.web.conftest import upload

    seller, trade = sale
    stranger = app_client(make_user())
    before = world()
    refused = stranger.post(f"/api/v1/trades/{trade.pk}/dispute/photos", {"reason": "가짜", "photos": [upload()]})
    assert refused.status_code == 404 and world() == before
    junk = app.post(
        f"/api/v1/trades/{trade.pk}/dispute/photos", {"reason": "파손", "photos": [upload("x.png", content=b"no")]}
    )
    assert junk.status_code == 400 and junk["Content-Type"].startswith("application/problem+json")
    assert world() == before
    opened = app.post(
        f"/api/v1/trades/{trade.pk}/dispute/photos",
        {"reason": "받아 보니 다리가 부러져 있어요", "photos": [upload("a.png"), upload("b.png")]},
    )
    assert opened.status_code == 200 and opened.json()["status"] == "disputed", opened.content
    trade = Trade.objects.get(pk=trade.pk)
    assert trade.dispute_reason == "받아 보니 다리가 부러져 있어요" and trade.dispute_photos.count() == 2


def test_watch_is_idempotent_and_listed(app):
    auction = make_auction(title="찜할 물건")
    for _ in range(2):
        assert app.put(f"/api/v1/auctions/{auction.pk}/watch").json() == {"watching": True}
    assert [a["title"] for a in app.get("/api/v1/watchlist").json()] == ["찜할 물건"]
    assert app.get(f"/api/v1/auctions/{auction.pk}").json()["watching"] is True
    for _ in range(2):
        assert app.delete(f"/api/v1/auctions/{auction.pk}/watch").json() == {"watching": False}
    assert app.get("/api/v1/watchlist").json() == []
    assert app.put("/api/v1/auctions/999999999/watch").status_code == 404


def test_list_edit_and_cancel_an_auction(user, app):
    created = app.post_json(
        "/api/v1/auctions",
        {
            "title": "원목 의자",
            "start_price": 5_000,
            "buy_now_price": 20_000,
            "duration_hours": 24,
            "category": "furniture",
        },
    )
    assert created.status_code == 201, created.content
    auction_id = created.json()["id"]
    assert created.json()["seller"]["id"] == user.pk and created.json()["state"]["current_price"] == 5_000
    edited = app.patch(f"/api/v1/auctions/{auction_id}", {"title": "원목 의자 2개"}, content_type="application/json")
    assert edited.status_code == 200 and edited.json()["title"] == "원목 의자 2개"
    other = app_client(make_user())
    assert other.post_json(f"/api/v1/auctions/{auction_id}/cancel", {}).status_code == 403
    cancelled = app.post_json(f"/api/v1/auctions/{auction_id}/cancel", {"reason": "팔렸어요"})
    assert cancelled.status_code == 200 and cancelled.json()["state"]["status"] == "cancelled"


@pytest.mark.parametrize(
    "body",
    [
        {"title": "", "start_price": 5_000},
        {"title": "x", "start_price": 50},
        {"title": "x", "start_price": 5_000, "duration_hours": 0},
        {"title": "x", "start_price": 5_000, "duration_hours": 10**20},
        {"title": "x", "start_price": 5_000, "category": "weapons"},
        {"title": "x", "start_price": 5_000, "is_national": "yes"},
        {"title": "x", "start_price": "5000"},
        {"title": "x", "start_price": 5_000, "buy_now_price": 4_000},
    ],
)
def test_a_bad_listing_is_a_4xx_and_lists_nothing(app, body):
    before = world()
    response = app.post_json("/api/v1/auctions", body)
    assert 400 <= response.status_code < 500, (body, response.status_code, response.content)
    assert world() == before


def test_photos_are_uploaded_to_my_listing_only(user, app):
    from auctions.models import AuctionPhoto
    from tests.web.conftest import upload

    mine = make_auction(seller=user)
    response = app.post(f"/api/v1/auctions/{mine.pk}/photos", {"photos": [upload("a.png"), upload("b.png")]})
    assert response.status_code == 200, response.content
    assert len(response.json()["photos"]) == 2
    theirs = make_auction()
    refused = app.post(f"/api/v1/auctions/{theirs.pk}/photos", {"photos": [upload()]})
    assert refused.status_code == 403 and not AuctionPhoto.objects.filter(auction=theirs).exists()
    junk = app.post(f"/api/v1/auctions/{mine.pk}/photos", {"photos": [upload("x.png", content=b"not an image")]})
    assert junk.status_code == 400 and AuctionPhoto.objects.filter(auction=mine).count() == 2
    assert app.post(f"/api/v1/auctions/{mine.pk}/photos", {}).status_code == 422


def test_end_early_and_report(user, app):
    from auctions.models import Auction, Report

    mine = make_auction(seller=user)
    ended = app.post_json(f"/api/v1/auctions/{mine.pk}/end")
    assert ended.status_code == 200 and ended.json()["state"]["status"] == Auction.Status.UNSOLD
    theirs = make_auction()
    assert app.post_json(f"/api/v1/auctions/{theirs.pk}/end").status_code == 403
    reported = app.post_json(f"/api/v1/auctions/{theirs.pk}/report", {"reason": "spam", "text": "도배"})
    assert reported.status_code == 201 and Report.objects.get(pk=reported.json()["id"]).auction_id == theirs.pk
    assert app.post_json(f"/api/v1/auctions/{theirs.pk}/report", {"reason": "nonsense"}).status_code == 400
    assert app.post_json("/api/v1/auctions/999999999/report", {"reason": "spam"}).status_code == 404
