"""The device cookie, the sightings recorded at login, and the hard shill-bidding rule: an
account seen on the seller's own browser may not bid on that seller's auctions."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import DeviceSighting
from accounts.selectors import users_share_device
from auctions.models import Bid
from auctions.services import bid_place
from neighborbid.errors import SellerLinked
from neighborbid.middleware import DEVICE_COOKIE
from tests.factories import make_auction, make_user, rid
from tests.money import assert_books_balance, world
from tests.web.conftest import follow_messages

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-1234"


def sign_in(client: Client, user) -> None:
    response = client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]


def test_a_browser_gets_one_device_cookie_and_login_records_only_its_hash():
    user = make_user()
    client = Client()

    client.get(reverse("accounts:login"))
    device = client.cookies[DEVICE_COOKIE].value
    sign_in(client, user)

    assert client.cookies[DEVICE_COOKIE].value == device  # not replaced once set
    assert client.cookies[DEVICE_COOKIE]["httponly"]
    (sighting,) = DeviceSighting.objects.filter(user=user)
    assert sighting.device_hash == hashlib.sha256(device.encode()).hexdigest() != device


def test_two_accounts_on_one_browser_are_linked_and_others_are_not():
    seller, second, stranger = make_user(), make_user(), make_user()
    shared = Client()
    sign_in(shared, seller)
    shared.post(reverse("accounts:logout"))
    sign_in(shared, second)
    sign_in(Client(), stranger)

    assert users_share_device(user_id=second.pk, other_id=seller.pk)
    assert users_share_device(user_id=seller.pk, other_id=second.pk)
    assert not users_share_device(user_id=stranger.pk, other_id=seller.pk)
    assert not users_share_device(user_id=seller.pk, other_id=seller.pk)


def test_a_linked_account_is_refused_on_the_sellers_auctions_and_nothing_changes(django_capture_on_commit_callbacks):
    # Given a seller whose second account signed in on the same browser
    seller = make_user()
    linked = make_user(balance=100_000)
    shared = Client()
    sign_in(shared, seller)
    shared.post(reverse("accounts:logout"))
    sign_in(shared, linked)
    auction = make_auction(seller=seller, start_price=10_000)
    before = world()

    # When the linked account bids
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(SellerLinked) as refused:
        bid_place(auction_id=auction.pk, actor=linked, amount=10_000, max_amount=20_000, request_id=rid())

    # Then it is refused with the reason, and nothing changed and nothing was announced
    assert "같은 기기" in refused.value.message
    assert world() == before and callbacks == []
    # while another seller's auction takes the same account's bid
    elsewhere = make_auction(start_price=10_000)
    bid_place(auction_id=elsewhere.pk, actor=linked, amount=10_000, request_id=rid())
    assert Bid.objects.filter(bidder=linked).count() == 1
    assert_books_balance()


def test_the_bid_page_says_why_and_keeps_the_money(django_capture_on_commit_callbacks):
    seller = make_user()
    linked = make_user(balance=100_000)
    browser = Client()
    sign_in(browser, seller)
    browser.post(reverse("accounts:logout"))
    sign_in(browser, linked)
    auction = make_auction(seller=seller, start_price=10_000)
    before = world()

    response = browser.post(reverse("auctions:bid", args=[auction.pk]), {"amount": "10,000", "request_id": rid()})

    assert any("같은 기기에서 로그인한 적이 있는 계정" in m for m in follow_messages(browser, response))
    assert world() == before
