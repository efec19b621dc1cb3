"""The money calls through the API: bid (with a maximum), buy-now, top-up, withdraw; idempotent by
Idempotency-Key; refusals as problem+json with nothing changed; the project's rate limits."""

from __future__ import annotations

import pytest

from accounts.models import User
from auctions.models import Auction, Bid, BidLogLeaf
from tests.api.conftest import app_client
from tests.factories import make_auction, make_user, rid
from tests.money import world
from wallets.models import Wallet

pytestmark = pytest.mark.django_db


def wallet_of(user) -> Wallet:
    return Wallet.objects.get(user=user)


def test_bid_with_a_maximum_holds_the_maximum_and_answers_the_state(user, app):
    auction = make_auction(start_price=10_000)
    response = app.post_json(f"/api/v1/auctions/{auction.pk}/bids", {"amount": 10_000, "max_amount": 50_000}, key=rid())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["leading"] is True and body["your_max"] == 50_000 and body["duplicate"] is False
    assert body["state"]["current_price"] == 10_000 and body["state"]["bid_count"] == 1
    assert wallet_of(user).locked_balance == 50_000
    # the bid's receipt in the verifiable bid log (issue 24, docs/trust.md)
    leaf = BidLogLeaf.objects.get(auction=auction, seq=1)
    assert body["receipt"] == {"seq": 1, "hash": leaf.hash}
    detail = app.get(f"/api/v1/auctions/{auction.pk}").json()
    assert detail["you_lead"] is True and detail["your_max"] == 50_000
    # a stranger sees the state but never the maximum
    stranger = app_client(make_user()).get(f"/api/v1/auctions/{auction.pk}").json()
    assert stranger["you_lead"] is False and stranger["your_max"] is None and "50000" not in str(stranger)


def test_the_same_key_and_body_answers_the_first_bid_again_and_another_body_is_422(user, app):
    auction = make_auction(start_price=10_000)
    url = f"/api/v1/auctions/{auction.pk}/bids"
    key = rid()
    first = app.post_json(url, {"amount": 10_000}, key=key)
    assert first.status_code == 201
    before = world()
    again = app.post_json(url, {"amount": 10_000}, key=key)
    assert again.status_code == 201 and again.json()["duplicate"] is True
    assert again.json()["bid_id"] == first.json()["bid_id"]
    other = app.post_json(url, {"amount": 20_000}, key=key)
    assert other.status_code == 422 and other.json()["code"] == "duplicate_request"
    assert world() == before


def test_a_money_call_without_an_idempotency_key_is_422_and_changes_nothing(app):
    auction = make_auction()
    before = world()
    for path, body in (
        (f"/api/v1/auctions/{auction.pk}/bids", {"amount": 10_000}),
        (f"/api/v1/auctions/{auction.pk}/buy-now", {}),
        ("/api/v1/wallet/top-ups", {"amount": 10_000}),
        ("/api/v1/wallet/withdrawals", {"amount": 10_000}),
    ):
        response = app.post_json(path, body)
        assert response.status_code == 422, (path, response.content)
        assert any("Idempotency-Key" in part for e in response.json()["errors"] for part in e["loc"])
    assert app.post_json("/api/v1/wallet/top-ups", {"amount": 10_000}, key="한글키").status_code == 422
    assert app.post_json("/api/v1/wallet/top-ups", {"amount": 10_000}, key="x" * 65).status_code == 422
    assert world() == before


def test_a_bid_too_low_names_the_minimum_and_changes_nothing(app):
    auction = make_auction(start_price=10_000)
    before = world()
    response = app.post_json(f"/api/v1/auctions/{auction.pk}/bids", {"amount": 9_000}, key=rid())
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "bid_too_low" and problem["min_next_bid"] == 10_000
    assert problem["type"] == "urn:neighborbid:problem:bid_too_low"
    assert problem["title"].endswith("요.") and "10,000원" in problem["detail"]
    assert world() == before


def test_bidding_on_my_own_auction_without_money_and_on_nothing(user, app):
    mine = make_auction(seller=user)
    before = world()
    own = app.post_json(f"/api/v1/auctions/{mine.pk}/bids", {"amount": 10_000}, key=rid())
    assert own.status_code == 403 and own.json()["code"] == "own_auction"
    poor = app_client(make_user(balance=0))
    broke = poor.post_json(f"/api/v1/auctions/{make_auction().pk}/bids", {"amount": 10_000}, key=rid())
    assert broke.status_code == 409 or broke.status_code == 400
    assert broke.json()["code"] == "insufficient_funds"
    missing = app.post_json("/api/v1/auctions/999999999/bids", {"amount": 10_000}, key=rid())
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    world_after = world()
    world_after["auctions"].pop(max(world_after["auctions"]))  # the auction made for the broke bidder
    assert world_after["bids"] == before["bids"] and world_after["wallets"].keys() >= before["wallets"].keys()


def test_buy_now_opens_the_trade_and_is_idempotent(user, app):
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    key = rid()
    first = app.post_json(f"/api/v1/auctions/{auction.pk}/buy-now", key=key)
    assert first.status_code == 201 and first.json()["price"] == 30_000
    before = world()
    again = app.post_json(f"/api/v1/auctions/{auction.pk}/buy-now", key=key)
    assert again.status_code == 201 and again.json()["duplicate"] is True
    assert world() == before
    auction.refresh_from_db()
    assert auction.status == Auction.Status.SOLD and auction.winner_id == user.pk
    assert wallet_of(user).balance == 1_000_000 - 30_000


def test_top_up_and_withdraw_are_idempotent_by_key(user, app):
    key = rid()
    first = app.post_json("/api/v1/wallet/top-ups", {"amount": 50_000}, key=key)
    assert first.status_code == 201 and first.json()["wallet"]["balance"] == 1_050_000
    before = world()
    again = app.post_json("/api/v1/wallet/top-ups", {"amount": 50_000}, key=key)
    assert again.status_code == 201 and again.json() == first.json()
    other = app.post_json("/api/v1/wallet/top-ups", {"amount": 60_000}, key=key)
    assert other.status_code == 422 and other.json()["code"] == "duplicate_request"
    as_withdrawal = app.post_json("/api/v1/wallet/withdrawals", {"amount": 50_000}, key=key)
    assert as_withdrawal.status_code == 422
    assert world() == before
    out_key = rid()
    out = app.post_json("/api/v1/wallet/withdrawals", {"amount": 20_000}, key=out_key)
    assert out.status_code == 201 and out.json()["wallet"]["balance"] == 1_030_000
    assert app.post_json("/api/v1/wallet/withdrawals", {"amount": 20_000}, key=out_key).json() == out.json()
    assert wallet_of(user).balance == 1_030_000


def test_a_key_is_per_user(app):
    key = rid()
    other = app_client(make_user())
    assert app.post_json("/api/v1/wallet/top-ups", {"amount": 10_000}, key=key).status_code == 201
    assert other.post_json("/api/v1/wallet/top-ups", {"amount": 20_000}, key=key).status_code == 201


def test_withdrawing_held_money_is_refused(user, app):
    auction = make_auction(start_price=10_000)
    app.post_json(f"/api/v1/auctions/{auction.pk}/bids", {"amount": 10_000, "max_amount": 1_000_000}, key=rid())
    before = world()
    response = app.post_json("/api/v1/wallet/withdrawals", {"amount": 10_000}, key=rid())
    assert response.json()["code"] == "insufficient_funds"
    assert world() == before


def test_a_suspended_user_cannot_bid_but_can_withdraw(user, app):
    auction = make_auction()
    User.objects.filter(pk=user.pk).update(is_suspended=True, suspended_reason="테스트")
    before = world()
    bid = app.post_json(f"/api/v1/auctions/{auction.pk}/bids", {"amount": 10_000}, key=rid())
    assert bid.status_code == 403 and bid.json()["code"] == "suspended"
    assert world() == before
    assert app.post_json("/api/v1/wallet/withdrawals", {"amount": 10_000}, key=rid()).status_code == 201


def test_the_bid_bucket_answers_429_with_retry_after(user, app, settings):
    settings.NEIGHBORBID_SECURITY = {
        **settings.NEIGHBORBID_SECURITY,
        "RATE_LIMITS": {
            **__import__("neighborbid.security", fromlist=["DEFAULTS"]).DEFAULTS["RATE_LIMITS"],
            "bid": {"rate": 0.5, "burst": 2, "per": "user"},
        },
    }
    auction = make_auction(start_price=10_000)
    url = f"/api/v1/auctions/{auction.pk}/bids"
    assert app.post_json(url, {"amount": 10_000}, key=rid()).status_code == 201
    assert app.post_json(url, {"amount": 11_000}, key=rid()).status_code == 201
    before = world()
    refused = app.post_json(url, {"amount": 12_000}, key=rid())
    assert refused.status_code == 429 and refused["Retry-After"] == "2"
    assert refused.json()["code"] == "rate_limited" and refused.json()["retry_after"] == 2
    assert world() == before
    assert Bid.objects.count() == 2
