"""Issue 9 #19: local pages re-check the truth over plain HTTP: the auction's public state as
JSON (conditional on its seq) and the header badge's unread count."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from auctions.models import Auction
from auctions.selectors import auction_public_state
from auctions.services import bid_place
from notifications.services import notification_create
from tests.factories import make_auction, make_user, rid
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db

PER_RESPONSE = {"server_time"}


def _public(state: dict) -> dict:
    return {k: v for k, v in state.items() if k not in PER_RESPONSE}


def test_anonymous_get_the_same_public_state_as_the_socket_with_an_etag():
    auction = make_auction(start_price=10_000)
    bid_place(
        auction_id=auction.pk, actor=make_user(nickname="김민수", balance=50_000), amount=10_000, request_id=rid()
    )
    response = Client().get(reverse("auctions:state_json", args=[auction.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    auction.refresh_from_db()
    assert _public(response.json()) == _public(auction_public_state(Auction.objects.get(pk=auction.pk)))
    assert response.json()["leader"] == "김*수" and response.json()["min_next_bid"] == 11_000
    assert response["ETag"] == f'"{auction.pk}-{auction.seq}"'
    assert "no-cache" in response["Cache-Control"]


def test_an_unchanged_auction_answers_304_and_a_changed_one_the_new_state():
    auction = make_auction(start_price=10_000)
    client = Client()
    url = reverse("auctions:state_json", args=[auction.pk])
    etag = client.get(url)["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    # a bid moves the seq: the same ETag now gets the new state
    bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["current_price"] == 10_000 and changed.json()["bid_count"] == 1


def test_a_hidden_or_unknown_auction_is_404_even_for_staff():
    auction = make_auction()
    Auction.objects.filter(pk=auction.pk).update(is_hidden=True)
    staff = signed_in(make_user(is_staff=True))
    assert staff.get(reverse("auctions:state_json", args=[auction.pk])).status_code == 404
    assert Client().get(reverse("auctions:state_json", args=[auction.pk])).status_code == 404
    assert Client().get(reverse("auctions:state_json", args=[987654])).status_code == 404
    assert Client().post(reverse("auctions:state_json", args=[auction.pk])).status_code == 405


def test_the_unread_count_for_the_header_badge():
    user = make_user()
    url = reverse("auctions:unread_json")
    assert Client().get(url).json() == {"signed_in": False, "unread": 0}
    client = signed_in(user)
    assert client.get(url).json() == {"signed_in": True, "unread": 0}
    notification_create(user_ids=[user.pk], kind="outbid", message="더 높은 입찰이 들어왔어요.")
    response = client.get(url)
    assert response.json() == {"signed_in": True, "unread": 1}
    assert "no-store" in response["Cache-Control"]
