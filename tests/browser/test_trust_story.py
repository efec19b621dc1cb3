"""Trust in a real browser: a local auction won, the trade handed over and confirmed on the
trade page, both sides review each other (from the notification and from the trade page), and
both profiles show the new 매너온도. Only the auction's end is simulated (set_end + settle)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import User
from auctions.models import Auction
from reviews import rules
from tests.factories import make_auction, make_user, neighbourhood
from tests.money import assert_books_balance
from trades.selectors import trade_for_auction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-1234"


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_won_trade_reviewed_by_both_sides_moves_both_temperatures(site, new_page, shot):
    base = site
    seller = make_user(username="minsu", nickname="민수네", place=neighbourhood("합정동"))
    buyer = make_user(username="jiyoung", nickname="지영", balance=100_000, place=neighbourhood("서교동"))
    auction = make_auction(seller=seller, title="원목 식탁 의자 2개", start_price=20_000)

    # the buyer bids on the auction page, where the seller's name leads to the profile
    buyer_page = new_page()
    login(buyer_page, base, "jiyoung")
    buyer_page.goto(f"{base}/auctions/{auction.pk}/")
    assert "36.5°C" in buyer_page.locator(".seller__name").inner_text()
    buyer_page.fill("#bid-form [name=amount]", "20,000")
    buyer_page.locator("#bid-form button[type=submit]").click()
    buyer_page.wait_for_url(f"{base}/auctions/{auction.pk}/")

    # the auction ends and the worker settles it: the money waits in the trade's escrow
    from datetime import timedelta

    from django.utils import timezone

    from auctions.services import auction_settle
    from tests.factories import set_end

    set_end(auction, timezone.now() - timedelta(seconds=1))
    auction_settle(auction_id=auction.pk)
    assert Auction.objects.get(pk=auction.pk).winner_id == buyer.pk
    trade = trade_for_auction(auction_id=auction.pk)
    trade_url = f"{base}/trades/{trade.pk}/"

    # the seller hands it over on the trade page, where the buyer's 매너온도 shows
    seller_page = new_page()
    login(seller_page, base, "minsu")
    seller_page.goto(trade_url)
    assert "36.5°C" in seller_page.content()
    assert seller_page.locator("[data-review-link]").count() == 0  # not before completion
    seller_page.locator("form[action$='/hand-over/'] button[type=submit]").click()
    seller_page.wait_for_url(trade_url)
    # the buyer confirms (구매확정)
    buyer_page.goto(trade_url)
    buyer_page.once("dialog", lambda dialog: dialog.accept())
    buyer_page.locator("form[action$='/confirm/'] button[type=submit]").click()
    buyer_page.wait_for_url(trade_url)
    assert buyer_page.locator("[data-trade-status]").get_attribute("data-trade-status") == "completed"

    # the buyer is asked for a review and leaves one from the 후기 남기기 list
    buyer_page.goto(f"{base}/notifications/")
    assert "거래 후기를 남겨 주세요" in buyer_page.content()
    buyer_page.get_by_role("link", name="후기 남기기").first.click()
    buyer_page.wait_for_url(f"{base}/reviews/pending/")
    buyer_page.locator(f"[data-pending-trade='{trade.pk}'] a").click()
    buyer_page.wait_for_url(f"{base}/reviews/trade/{trade.pk}/")
    buyer_page.get_by_role("radio", name="좋아요", exact=True).check()
    buyer_page.get_by_label(rules.POSITIVE_TAGS[0]).check()
    buyer_page.get_by_label(rules.POSITIVE_TAGS[1]).check()
    buyer_page.fill("#id_text", "약속 시간에 딱 맞춰 나오셨어요. <b>감사해요</b>!")
    shot(buyer_page, "trust-01-review-form")
    buyer_page.locator("form.stack button[type=submit]").click()
    buyer_page.wait_for_url(f"{base}/u/{seller.pk}/")
    assert "민수네님께 후기를 남겼어요" in buyer_page.locator(".messages").inner_text()

    # the seller reviews the buyer from the trade page
    seller_page.goto(trade_url)
    seller_page.locator("[data-review-link]").click()
    seller_page.wait_for_url(f"{base}/reviews/trade/{trade.pk}/")
    seller_page.get_by_role("radio", name="보통이에요", exact=True).check()
    seller_page.locator("form.stack button[type=submit]").click()
    seller_page.wait_for_url(f"{base}/u/{buyer.pk}/")

    # then both temperatures moved and both profiles say so
    assert User.objects.get(pk=seller.pk).manner_temperature == Decimal("37.2")
    assert User.objects.get(pk=buyer.pk).manner_temperature == Decimal("36.6")
    buyer_page.goto(f"{base}/u/{seller.pk}/")
    profile = buyer_page.locator("main").inner_text() if buyer_page.locator("main").count() else buyer_page.content()
    assert "37.2°C" in profile and "판매 완료" in profile
    assert buyer_page.locator("[data-count=sales]").inner_text() == "1회"
    assert buyer_page.locator(".review__text").first.inner_text() == "약속 시간에 딱 맞춰 나오셨어요. <b>감사해요</b>!"
    shot(buyer_page, "trust-02-seller-profile")
    seller_page.goto(f"{base}/u/{buyer.pk}/")
    assert "36.6°C" in seller_page.locator("[data-temperature]").inner_text()
    assert seller_page.locator("[data-count=purchases]").inner_text() == "1회"
    shot(seller_page, "trust-03-buyer-profile")
    assert_books_balance()
