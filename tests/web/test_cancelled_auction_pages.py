"""A bidder on a cancelled or hidden auction (issue 18 item 14): the page says it was cancelled
and the money came back, and no notification leads to a page that is not found."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from auctions.services import auction_cancel, auction_hide, bid_place
from notifications.models import Notification
from tests.factories import make_auction, make_moderator, make_user, rid
from tests.money import wallet_of
from tests.web.conftest import follow_messages, signed_in

pytestmark = pytest.mark.django_db


def test_the_leader_of_a_cancelled_auction_sees_why_and_that_the_money_came_back():
    # given: Bora leads an auction its seller then cancels
    seller, bora = make_user(), make_user(balance=100_000)
    auction = make_auction(seller=seller, start_price=10_000)
    bid_place(auction_id=auction.pk, actor=bora, amount=10_000, request_id=rid())
    auction_cancel(auction_id=auction.pk, actor=make_moderator(), reason="판매자 요청")
    # when: she opens the page
    html = signed_in(bora).get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    # then: cancelled, her money back, and she is nobody's leader any more
    assert "취소된 경매예요" in html and "잠겨 있던 내 입찰금은 지갑으로 돌아왔어요" in html
    assert "(나)" not in html
    assert wallet_of(bora) == (100_000, 0)


def test_a_hidden_auctions_notification_does_not_lead_to_a_missing_page():
    # given: Bora bid on an auction a moderator then hid
    bora = make_user(balance=100_000)
    auction = make_auction(start_price=10_000)
    bid_place(auction_id=auction.pk, actor=bora, amount=10_000, request_id=rid())
    auction_hide(auction_id=auction.pk, staff_user=make_moderator(), reason="신고 누적")
    note = Notification.objects.filter(user=bora, auction=auction).latest("id")
    client = signed_in(bora)
    # when: she reads her notifications; then: no "경매 보기" for it
    page = client.get(reverse("auctions:notifications")).content.decode()
    shown = escape(note.message)
    assert shown in page
    item = page.split(shown, 1)[1].split("</li>", 1)[0]
    assert "경매 보기" not in item and 'name="open"' not in item
    # when: she opens it anyway (an old page): then: back to the list with a word, never a 404
    response = client.post(reverse("auctions:notification_read", args=[note.pk]), {"open": "1"})
    assert response.status_code == 302 and response.url == reverse("auctions:notifications")
    assert any("숨겨진 경매" in m for m in follow_messages(client, response))
