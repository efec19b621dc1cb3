"""My page, notifications (badge, mark read, permissions), wallet (top-up, withdraw, history)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from auctions.services import auction_settle, bid_place
from notifications.models import Notification
from tests.factories import make_auction, make_user, rid, set_end
from tests.money import wallet_of, world
from tests.web.conftest import follow_messages, signed_in

pytestmark = pytest.mark.django_db


def titles(response):
    return sorted(a.title for a in response.context["page"].object_list)


def test_my_bids_are_split_into_leading_outbid_won_lost():
    me = make_user(balance=1_000_000)
    rival = make_user(balance=1_000_000)
    leading = make_auction(title="이기는 중")
    outbid = make_auction(title="추월당함")
    won = make_auction(title="낙찰")
    lost = make_auction(title="놓침")
    for auction in (leading, outbid, won, lost):
        bid_place(auction_id=auction.pk, actor=me, amount=10_000, request_id=rid())
    for auction in (outbid, lost):
        bid_place(auction_id=auction.pk, actor=rival, amount=11_000, request_id=rid())
    from django.utils import timezone

    for auction in (won, lost):
        set_end(auction, timezone.now())
        auction_settle(auction_id=auction.pk)
    mine = make_auction(seller=me, title="내가 파는 것")
    client = signed_in(me)
    url = reverse("auctions:my")
    assert titles(client.get(url)) == sorted(["이기는 중", "추월당함", "낙찰", "놓침"])
    assert titles(client.get(url, {"filter": "leading"})) == ["이기는 중"]
    assert titles(client.get(url, {"filter": "outbid"})) == ["추월당함"]
    assert titles(client.get(url, {"filter": "won"})) == ["낙찰"]
    assert titles(client.get(url, {"filter": "lost"})) == ["놓침"]
    assert titles(client.get(url, {"tab": "won"})) == ["낙찰"]
    assert titles(client.get(url, {"tab": "listings"})) == [mine.title]
    page = client.get(url).content.decode()
    assert "최고 입찰 중" in page and "추월당함" in page and "내 최고 입찰 10,000원" in page
    assert client.get(url, {"tab": "nonsense", "filter": "zzz", "page": "x"}).status_code == 200


def test_notifications_badge_mark_read_and_mark_all():
    auction = make_auction(start_price=10_000)
    me = make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=me, amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=make_user(balance=100_000), amount=11_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=me, amount=12_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=make_user(balance=100_000), amount=13_000, request_id=rid())
    notes = list(Notification.objects.filter(user=me).order_by("id"))
    assert len(notes) == 2
    client = signed_in(me)
    page = client.get(reverse("auctions:notifications"))
    assert page.status_code == 200 and page.context["unread_count"] == 2
    assert "새 알림" in page.content.decode()
    response = client.post(reverse("auctions:notification_read", args=[notes[0].pk]))
    assert response.status_code == 302
    notes[0].refresh_from_db()
    assert notes[0].read_at is not None
    assert client.get("/").context["unread_count"] == 1
    response = client.post(reverse("auctions:notification_read", args=[notes[1].pk]), {"open": "1"})
    assert response.url == reverse("auctions:detail", args=[auction.pk])
    assert client.get("/").context["unread_count"] == 0
    client.post(reverse("auctions:notifications_read_all"))


def test_someone_elses_notification_is_404_and_stays_unread():
    auction = make_auction(start_price=10_000)
    victim = make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=victim, amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=make_user(balance=100_000), amount=11_000, request_id=rid())
    note = Notification.objects.get(user=victim)
    intruder = signed_in(make_user())
    assert intruder.post(reverse("auctions:notification_read", args=[note.pk])).status_code == 404
    intruder.post(reverse("auctions:notifications_read_all"))
    note.refresh_from_db()
    assert note.read_at is None
    assert "더 높은 입찰" not in intruder.get(reverse("auctions:notifications")).content.decode()
    assert signed_in(victim, csrf=True).post(reverse("auctions:notification_read", args=[note.pk])).status_code == 403
    note.refresh_from_db()
    assert note.read_at is None


def test_wallet_page_shows_balances_and_labelled_history():
    auction = make_auction(start_price=10_000, title="원목 식탁")
    me = make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=me, amount=10_000, request_id=rid())
    page = signed_in(me).get(reverse("wallets:wallet"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "40,000원" in text and "10,000원" in text
    assert "충전" in text and "입찰금 보관" in text and "원목 식탁" in text
    assert "-10,000원" in text and "보관 +10,000원" in text


def test_wallet_history_is_paginated():
    me = make_user()
    from wallets.services import wallet_deposit

    for _ in range(25):
        wallet_deposit(actor=me, amount=1_000)
    client = signed_in(me)
    assert len(client.get(reverse("wallets:wallet")).context["page"].object_list) == 20
    assert len(client.get(reverse("wallets:wallet"), {"page": 2}).context["page"].object_list) == 5


def test_top_up_accepts_korean_style_amounts():
    me = make_user()
    client = signed_in(me)
    response = client.post(reverse("wallets:deposit"), {"amount": "12,000"})
    assert "12,000원을 충전했어요." in follow_messages(client, response)
    client.post(reverse("wallets:deposit"), {"amount": "3000원"})
    assert wallet_of(me) == (15_000, 0)


@pytest.mark.parametrize(
    "amount",
    ["-5000", "0", "1000.5", "1e4", "NaN", "inf", "abc", "", "10,00", "999999999999999999", "500", "20,000,000"],
)
def test_top_up_bad_amounts_change_nothing(amount):
    me = make_user(balance=10_000)
    client = signed_in(me)
    before = world()
    response = client.post(reverse("wallets:deposit"), {"amount": amount})
    assert response.status_code == 400
    assert response.context["deposit_form"].errors
    assert world() == before


@pytest.mark.parametrize("amount", ["١٢٠٠٠", "۱۲۰۰۰", "１２０００", "१२०००", "１２,０００원"])
@pytest.mark.parametrize("form", ["deposit", "withdraw"])
def test_wallet_forms_refuse_non_ascii_digits_and_change_nothing(form, amount):
    me = make_user(balance=50_000)
    client = signed_in(me)
    before = world()
    response = client.post(reverse(f"wallets:{form}"), {"amount": amount})
    assert response.status_code == 400
    assert response.context[f"{form}_form"].errors["amount"]
    assert world() == before


def test_withdraw_and_its_refusals():
    me = make_user(balance=20_000)
    auction = make_auction(start_price=10_000)
    bid_place(auction_id=auction.pk, actor=me, amount=10_000, request_id=rid())
    client = signed_in(me)
    before = world()
    response = client.post(reverse("wallets:withdraw"), {"amount": "15,000"})  # 10,000 is locked in a bid
    assert response.status_code == 400 and "출금 가능한 잔액이 부족해요" in response.content.decode()
    for bad in ["-1", "0", "1.5", "x", "", "999"]:
        assert client.post(reverse("wallets:withdraw"), {"amount": bad}).status_code == 400
    assert world() == before
    response = client.post(reverse("wallets:withdraw"), {"amount": "10,000"})
    assert response.status_code == 302
    assert wallet_of(me) == (0, 10_000)


def test_wallet_forms_need_login_and_csrf():
    me = make_user(balance=10_000)
    before = world()
    from django.test import Client

    assert Client().post(reverse("wallets:deposit"), {"amount": "5,000"}).status_code == 302
    assert signed_in(me, csrf=True).post(reverse("wallets:deposit"), {"amount": "5,000"}).status_code == 403
    assert signed_in(me, csrf=True).post(reverse("wallets:withdraw"), {"amount": "5,000"}).status_code == 403
    assert signed_in(me).get(reverse("wallets:deposit")).status_code == 405
    assert world() == before
