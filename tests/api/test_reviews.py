"""Public profiles and reviews through the API."""

from __future__ import annotations

import pytest

from reviews.models import Review
from tests.api.conftest import ApiClient, app_client
from tests.factories import make_auction, make_user, rid
from trades.models import Trade

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed(user, app):
    seller = make_user(nickname="판매왕")
    auction = make_auction(seller=seller, start_price=10_000, buy_now_price=30_000)
    app.post_json(f"/api/v1/auctions/{auction.pk}/buy-now", key=rid())
    trade = Trade.objects.get(auction=auction)
    app.post_json(f"/api/v1/trades/{trade.pk}/confirm")
    return seller, trade


def test_review_once_edit_it_and_see_it_on_the_profile(user, app, completed):
    seller, trade = completed
    assert [p["trade_id"] for p in app.get("/api/v1/reviews/pending").json()] == [trade.pk]
    body = {"rating": "good", "tags": ["응답이 빨라요"], "text": "친절하셨어요"}
    first = app.put(f"/api/v1/trades/{trade.pk}/review", body, content_type="application/json")
    assert first.status_code == 200, first.content
    again = app.put(
        f"/api/v1/trades/{trade.pk}/review", {**body, "text": "정말 친절하셨어요"}, content_type="application/json"
    )
    assert again.json()["id"] == first.json()["id"] and again.json()["text"] == "정말 친절하셨어요"
    assert Review.objects.count() == 1
    assert app.get("/api/v1/reviews/pending").json() == []
    assert app.get(f"/api/v1/trades/{trade.pk}/review").json()["rating"] == "good"
    profile = ApiClient().get(f"/api/v1/users/{seller.pk}").json()
    assert profile["nickname"] == "판매왕" and profile["manner_temperature"] > 36.5
    assert profile["trust"]["sales"] == 1 and profile["trust"]["ratings"]["good"] == 1
    texts = ApiClient().get(f"/api/v1/users/{seller.pk}/reviews").json()["items"]
    assert [(r["text"], r["reviewer_role"]) for r in texts] == [("정말 친절하셨어요", "buyer")]


def test_a_tag_against_the_rating_is_refused(app, completed):
    _seller, trade = completed
    response = app.put(
        f"/api/v1/trades/{trade.pk}/review", {"rating": "good", "tags": ["불친절해요"]}, content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"
    assert not Review.objects.exists()


def test_a_stranger_cannot_review_or_read_my_review(completed):
    _seller, trade = completed
    stranger = app_client(make_user())
    response = stranger.put(f"/api/v1/trades/{trade.pk}/review", {"rating": "bad"}, content_type="application/json")
    assert response.status_code == 404 and response.json()["code"] == "trade_not_found"
    assert stranger.get(f"/api/v1/trades/{trade.pk}/review").status_code == 404
    assert not Review.objects.exists()


def test_an_unknown_profile_is_404():
    response = ApiClient().get("/api/v1/users/999999999")
    assert response.status_code == 404 and response.json()["code"] == "user_not_found"
