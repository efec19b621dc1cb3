"""The trade pages: who sees what, each button calls its service, refusals change nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_moderator
from tests.money import assert_books_balance, wallet_of, world
from tests.web.conftest import follow_messages, signed_in, upload

pytestmark = pytest.mark.django_db


def url(name, trade):
    return reverse(f"trades:{name}", args=[trade.pk])


def test_the_parties_see_the_trade_with_their_next_step(deal):
    buyer_page = signed_in(deal.buyer).get(url("detail", deal.trade))
    assert buyer_page.status_code == 200
    html = buyer_page.content.decode()
    assert "구매확정" in html and "분쟁 신청" in html and "전달 완료</button>" not in html
    assert deal.seller.neighbourhood.name in html  # the other party's 동
    assert "자동 환불 예정" in html
    seller_page = signed_in(deal.seller).get(url("detail", deal.trade)).content.decode()
    assert "전달 완료</button>" in seller_page and "환불하기" in seller_page and ">구매확정</button>" not in seller_page


def test_strangers_get_404_and_moderators_may_look(deal):
    assert signed_in(deal.stranger).get(url("detail", deal.trade)).status_code == 404
    assert signed_in(deal.stranger).get(reverse("trades:for_auction", args=[deal.trade.auction_id])).status_code == 404
    assert signed_in(make_moderator()).get(url("detail", deal.trade)).status_code == 200
    anonymous = signed_in(deal.buyer)
    anonymous.logout()
    assert anonymous.get(url("detail", deal.trade)).status_code == 302  # to the login page


def test_the_list_and_the_header_badge(deal):
    page = signed_in(deal.seller).get(reverse("trades:list"))
    assert page.status_code == 200
    assert deal.trade.auction.title in page.content.decode()
    assert page.context["trades_todo"] == 1  # the seller has to hand it over
    assert signed_in(deal.buyer).get(reverse("trades:list")).context["trades_todo"] == 0
    assert list(signed_in(deal.buyer).get(reverse("trades:list") + "?tab=done").context["page"].object_list) == []


def test_hand_over_then_confirm_through_the_pages(deal):
    seller = signed_in(deal.seller)
    response = seller.post(url("hand_over", deal.trade))
    assert any("전달 완료를 알렸어요" in m for m in follow_messages(seller, response))
    buyer = signed_in(deal.buyer)
    response = buyer.post(url("confirm", deal.trade))
    assert any("구매확정했어요" in m for m in follow_messages(buyer, response))
    assert deal.fresh().status == "completed"
    assert wallet_of(deal.seller) == (20_000, 0)
    # the same click again: refused with a message, nothing changes
    before = world()
    response = buyer.post(url("confirm", deal.trade))
    assert any("이미 끝난 거래" in m for m in follow_messages(buyer, response))
    assert world() == before
    assert_books_balance()


def test_refusals_at_the_door_change_nothing(deal, national):
    before = world()
    # the buyer cannot refund, a stranger cannot act (404), a GET is not allowed
    response = signed_in(deal.buyer).post(url("refund", deal.trade))
    assert response.status_code == 302
    assert signed_in(deal.stranger).post(url("confirm", deal.trade)).status_code == 404  # as for the page
    assert signed_in(deal.buyer).get(url("confirm", deal.trade)).status_code == 405
    assert signed_in(deal.buyer).post(reverse("trades:confirm", args=[999_999])).status_code == 404
    # shipping without a tracking number: 400 and the form again
    response = signed_in(national.seller).post(url("ship", national.trade), {"carrier": "우체국"})
    assert response.status_code == 400
    # a dispute without a reason: 400
    assert signed_in(deal.buyer).post(url("dispute", deal.trade), {"reason": ""}).status_code == 400
    assert world() == before


def test_shipping_and_a_dispute_with_a_photo(national):
    seller = signed_in(national.seller)
    seller.post(url("ship", national.trade), {"carrier": "CJ대한통운", "tracking_number": "1234"})
    assert national.fresh().status == "shipped"
    buyer = signed_in(national.buyer)
    response = buyer.post(url("dispute", national.trade), {"reason": "상자가 비어 있었어요", "photos": [upload()]})
    assert any("분쟁을 신청했어요" in m for m in follow_messages(buyer, response))
    trade = national.fresh()
    assert trade.status == "disputed" and trade.dispute_photos.count() == 1
    page = signed_in(national.seller).get(url("detail", trade)).content.decode()
    assert "상자가 비어 있었어요" in page and "분쟁 중이에요" in page


def test_wallet_page_shows_money_in_trades(deal):
    seller_wallet = signed_in(deal.seller).get(reverse("wallets:wallet")).content.decode()
    assert "정산 예정" in seller_wallet and "20,000원" in seller_wallet
    buyer_wallet = signed_in(deal.buyer).get(reverse("wallets:wallet")).content.decode()
    assert "거래 중인 금액" in buyer_wallet


def test_auction_page_and_notifications_link_to_the_trade(deal):
    buyer = signed_in(deal.buyer)
    page = buyer.get(reverse("auctions:detail", args=[deal.trade.auction_id])).content.decode()
    assert url("detail", deal.trade) in page
    stranger_page = signed_in(deal.stranger).get(reverse("auctions:detail", args=[deal.trade.auction_id]))
    assert url("detail", deal.trade) not in stranger_page.content.decode()
    notes = buyer.get(reverse("auctions:notifications")).content.decode()
    assert reverse("trades:for_auction", args=[deal.trade.auction_id]) in notes
    assert buyer.get(reverse("trades:for_auction", args=[deal.trade.auction_id])).url == url("detail", deal.trade)


def test_a_stranger_gets_404_from_every_step_as_for_a_missing_trade(deal, national):
    # given: a trade between two others
    before = world()
    stranger = signed_in(deal.stranger)
    steps = {
        "hand_over": {},
        "ship": {"carrier": "우체국", "tracking_number": "1234567890"},
        "confirm": {},
        "refund": {},
        "dispute": {"reason": "물건이 달라요"},
    }
    for name, data in steps.items():
        for trade in (deal.trade, national.trade):
            # when: the stranger posts the step; then: the same 404 as for no trade at all
            response = stranger.post(url(name, trade), data)
            assert response.status_code == 404, (name, response.status_code)
            assert "구매자만" not in response.content.decode() and "판매자만" not in response.content.decode()
        assert stranger.post(reverse(f"trades:{name}", args=[999_999]), data).status_code == 404
    assert world() == before
