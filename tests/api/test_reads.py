"""Reads: neighbourhoods, the auction list (filters, sort, cursor), detail, bid history, wallet
and ledger, notifications; IDOR: another user's things are 404 and stay as they were."""

from __future__ import annotations

import pytest

from auctions.services import bid_place
from notifications.models import Notification
from tests.api.conftest import ApiClient, app_client
from tests.factories import make_auction, make_user, neighbourhood, rid
from tests.money import world
from wallets.services import wallet_deposit

pytestmark = pytest.mark.django_db


def test_neighbourhood_search_and_nearest(app):
    response = ApiClient().get("/api/v1/neighbourhoods?q=합정")
    assert "합정동".encode() in response.content  # UTF-8, not \uXXXX escapes
    found = response.json()
    assert any(n["name"] == "합정동" for n in found)
    hapjeong = neighbourhood()
    near = app.post_json(
        "/api/v1/neighbourhoods/nearest", {"latitude": hapjeong.latitude, "longitude": hapjeong.longitude}
    )
    assert near.status_code == 200
    assert near.json()[0]["neighbourhood"]["id"] == hapjeong.pk and near.json()[0]["in_range"] is True
    at_sea = app.post_json("/api/v1/neighbourhoods/nearest", {"latitude": 33.0, "longitude": 131.0})
    assert at_sea.json() == []


def test_the_list_pages_by_cursor_with_the_pages_sort(user):
    seller = make_user()
    made = [make_auction(seller=seller, start_price=1_000 * (i + 1), title=f"물건 {i}") for i in range(25)]
    client = ApiClient()
    first = client.get("/api/v1/auctions?sort=price").json()
    assert [a["current_price"] for a in first["items"]] == [1_000 * (i + 1) for i in range(20)]
    assert first["prev_cursor"] is None and first["next_cursor"] == first["items"][-1]["id"]
    second = client.get(f"/api/v1/auctions?sort=price&after={first['next_cursor']}").json()
    assert [a["current_price"] for a in second["items"]] == [1_000 * (i + 1) for i in range(20, 25)]
    assert second["next_cursor"] is None
    desc = client.get("/api/v1/auctions?sort=price_desc").json()["items"]
    assert desc[0]["id"] == made[-1].pk
    assert client.get("/api/v1/auctions?q=물건 3").json()["items"][0]["title"] == "물건 3"
    assert client.get("/api/v1/auctions?tab=national").json()["items"] == []


def test_the_local_tab_is_my_range_with_distances(user, app):
    make_auction(title="가까운 것")
    far_seller = make_user(place=neighbourhood("정자동", "경기도 성남시 분당구"))
    make_auction(seller=far_seller, title="먼 것")
    titles = [a["title"] for a in app.get("/api/v1/auctions").json()["items"]]
    assert titles == ["가까운 것"]
    assert app.get("/api/v1/auctions").json()["items"][0]["distance_km"] == 0.0
    assert len(ApiClient().get("/api/v1/auctions").json()["items"]) == 2  # signed out: every 동


def test_detail_and_history_mask_names_and_hide_maxima(user, app):
    auction = make_auction(start_price=10_000)
    rival = make_user(nickname="김민수", balance=1_000_000)
    bid_place(auction_id=auction.pk, actor=rival, amount=10_000, max_amount=90_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=user, amount=11_000, request_id=rid())
    detail = ApiClient().get(f"/api/v1/auctions/{auction.pk}").json()
    assert detail["state"]["leader"] == "김*수" and "90000" not in str(detail)
    history = app.get(f"/api/v1/auctions/{auction.pk}/bids").json()["items"]
    assert [(b["bidder"], b["kind"], b["mine"]) for b in history][:2] == [
        ("김*수", "auto", False),
        (history[1]["bidder"], "bid", True),
    ]
    assert "*" in history[1]["bidder"]
    assert all(b["amount"] <= 12_000 for b in history)


def test_a_hidden_auction_is_404(app):
    auction = make_auction()
    type(auction).objects.filter(pk=auction.pk).update(is_hidden=True)
    assert app.get(f"/api/v1/auctions/{auction.pk}").status_code == 404
    assert app.get(f"/api/v1/auctions/{auction.pk}/bids").status_code == 404
    before = world()
    assert app.post_json(f"/api/v1/auctions/{auction.pk}/bids", {"amount": 10_000}, key=rid()).status_code in (404, 409)
    assert world() == before


def test_wallet_and_ledger_are_mine_only(user, app):
    other = make_user(balance=77_000)
    mine = app.get("/api/v1/wallet").json()
    assert mine == {"balance": 1_000_000, "locked_balance": 0}
    ledger = app.get("/api/v1/wallet/ledger").json()
    assert [e["kind"] for e in ledger["items"]] == ["deposit"] and ledger["items"][0]["label"] == "충전"
    theirs = app_client(other).get("/api/v1/wallet/ledger").json()["items"]
    assert {e["id"] for e in theirs}.isdisjoint({e["id"] for e in ledger["items"]})
    # a cursor from someone else's ledger shows nothing of theirs
    assert all(
        e["balance_after"] != 77_000
        for e in app.get(f"/api/v1/wallet/ledger?before={theirs[0]['id'] + 1}").json()["items"]
    )


def test_ledger_pages_by_cursor(user, app):
    for _ in range(22):
        wallet_deposit(actor=user, amount=1_000)
    first = app.get("/api/v1/wallet/ledger").json()
    assert len(first["items"]) == 20 and first["next_cursor"] is not None
    rest = app.get(f"/api/v1/wallet/ledger?before={first['next_cursor']}").json()
    assert len(rest["items"]) == 3  # 22 top-ups and the factory's one and rest["next_cursor"] is None


def _outbid(user):
    auction = make_auction(start_price=10_000)
    bid_place(auction_id=auction.pk, actor=user, amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=make_user(balance=100_000), amount=11_000, request_id=rid())
    return Notification.objects.filter(user=user).latest("id")


def test_notifications_list_and_mark_read(user, app):
    note = _outbid(user)
    listed = app.get("/api/v1/notifications").json()
    assert listed["unread"] == 1 and listed["items"][0]["id"] == note.pk and listed["items"][0]["read"] is False
    assert app.post_json(f"/api/v1/notifications/{note.pk}/read").json() == {"marked": 1}
    assert app.get("/api/v1/notifications").json()["unread"] == 0
    _outbid(user)
    assert app.post_json("/api/v1/notifications/read-all").json() == {"marked": 1}


def test_someone_elses_notification_is_404_and_stays_unread(user, app):
    victim = make_user(balance=100_000)
    note = _outbid(victim)
    response = app.post_json(f"/api/v1/notifications/{note.pk}/read")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    note.refresh_from_db()
    assert note.read_at is None
    assert app.get("/api/v1/notifications").json()["items"] == []


def test_openapi_and_docs_are_served():
    client = ApiClient()
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.1")
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger-ui-bundle.js" in docs.content and b"cdn" not in docs.content.lower()


def test_verify_my_neighbourhood_where_i_stand_and_set_my_range():
    me = make_user(verified=False)
    app = app_client(me)
    hapjeong = neighbourhood()
    assert app.get("/api/v1/me").json()["location_verified"] is False
    far = app.post_json(
        "/api/v1/me/verify", {"neighbourhood_id": hapjeong.pk, "latitude": 35.1, "longitude": 129.0}
    )  # in 부산
    assert (
        far.status_code == 403 and far.json()["code"] == "not_eligible" and "가장 가까운 동네" in far.json()["detail"]
    )
    assert app.get("/api/v1/me").json()["location_verified"] is False
    ok = app.post_json(
        "/api/v1/me/verify",
        {"neighbourhood_id": hapjeong.pk, "latitude": hapjeong.latitude, "longitude": hapjeong.longitude},
    )
    assert ok.status_code == 200 and ok.json()["me"]["location_verified"] is True and ok.json()["km"] < 0.1
    assert (
        app.put("/api/v1/me/radius", {"radius_km": 10}, content_type="application/json").json()["search_radius_km"]
        == 10
    )
    bad = app.put("/api/v1/me/radius", {"radius_km": 7}, content_type="application/json")
    assert bad.status_code == 400 and app.get("/api/v1/me").json()["search_radius_km"] == 10
