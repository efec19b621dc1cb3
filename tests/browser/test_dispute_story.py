"""A disputed trade resolved by a moderator in the admin, in a real browser (issue 10): the
buyer opens a dispute on the trade page, a moderator (not a superuser) finds it in the admin's
trade list filtered by 분쟁 중, runs 분쟁 해결 with a split and a reason, and both sides' money and
the trade page show the outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from auctions.services import auction_settle, bid_place
from tests.factories import make_auction, make_moderator, make_user, neighbourhood, rid, set_end
from tests.money import assert_books_balance, wallet_of
from trades.models import Trade
from trades.selectors import trade_for_auction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-1234"


def login(page, base: str, username: str, *, path: str = "/accounts/login/", then: str = "/") -> None:
    page.goto(f"{base}{path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_url(f"{base}{then}")


def test_a_disputed_trade_is_split_by_a_moderator_in_the_admin(site, new_page, shot):
    base = site
    seller = make_user(username="seller-d", nickname="판매자", place=neighbourhood("합정동"))
    buyer = make_user(username="buyer-d", nickname="구매자", balance=100_000, place=neighbourhood("서교동"))
    make_moderator(username="mod-d", nickname="운영자")
    auction = make_auction(seller=seller, title="블루투스 스피커", start_price=20_000)
    bid_place(auction_id=auction.pk, actor=buyer, amount=20_000, request_id=rid())
    set_end(auction, timezone.now() - timedelta(seconds=1))
    auction_settle(auction_id=auction.pk)
    trade = trade_for_auction(auction_id=auction.pk)

    # the buyer opens a dispute on the trade page
    buyer_page = new_page()
    login(buyer_page, base, "buyer-d")
    buyer_page.goto(f"{base}/trades/{trade.pk}/")
    buyer_page.locator("details.report summary", has_text="분쟁 신청").click()
    buyer_page.fill("textarea[name=reason]", "소리가 한쪽만 나와요.")
    buyer_page.locator("form[action$='/dispute/'] [type=submit]").click()
    buyer_page.wait_for_url(f"{base}/trades/{trade.pk}/")
    assert Trade.objects.get(pk=trade.pk).status == Trade.Status.DISPUTED
    shot(buyer_page, "dispute-opened")

    # a moderator resolves it in the admin: filtered list, the action, a split with a reason
    mod_page = new_page(width=1280, height=900)
    login(mod_page, base, "mod-d", path="/admin/login/?next=/admin/", then="/admin/")
    mod_page.goto(f"{base}/admin/trades/trade/?status__exact=disputed")
    assert "블루투스 스피커" in mod_page.content()
    mod_page.check(f"input[name=_selected_action][value='{trade.pk}']")
    mod_page.select_option("select[name=action]", "resolve_disputes")
    mod_page.click("button[name=index], .actions button[type=submit]")
    mod_page.check("input[name=outcome][value=split]")
    mod_page.fill("input[name=buyer_amount]", "8000")
    mod_page.fill("textarea[name=reason], input[name=reason]", "한쪽 스피커 불량: 일부 환불")
    shot(mod_page, "dispute-resolve-form", full_page=False)
    mod_page.locator("form [type=submit]").last.click()
    mod_page.wait_for_url(f"{base}/admin/trades/trade/**")
    assert "해결했어요" in mod_page.content()

    # then the money went out once, split, and the trade page says so
    trade.refresh_from_db()
    assert (trade.status, trade.buyer_refund, trade.seller_payout) == ("split", 8_000, 12_000)
    assert wallet_of(buyer) == (88_000, 0) and wallet_of(seller) == (12_000, 0)
    buyer_page.goto(f"{base}/trades/{trade.pk}/")
    assert "분할 정산" in buyer_page.content()
    shot(buyer_page, "dispute-resolved")
    assert_books_balance()
