"""Amounts typed the way people write them (issue 18 #19): "5만" was refused. Typed into the
real fields of the HTTP page and of the live page, pressed with the real buttons, checked in
the database; the preview reads them the same way and has no semicolon."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from auctions.models import Bid
from tests import factories as f
from tests.browser.test_live import live_pages, live_site, static_root  # noqa: F401  (fixtures)
from tests.money import wallet_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-tests-1234"


def test_the_local_page_takes_5man_and_its_preview_reads_it(site, new_page):
    auction = f.make_auction(start_price=10_000, title="원목 책상")
    f.make_user(username="minji", balance=500_000)
    page = new_page(width=1280, height=900)
    page.goto(f"{site}/accounts/login/?next=/auctions/{auction.pk}/")
    page.fill("#id_username", "minji")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{site}/auctions/{auction.pk}/")

    page.fill("#bid-amount", "5만")
    expect(page.locator("[data-bid-preview]")).to_have_text("50,000원에 입찰해요.")
    page.fill("#bid-amount-max", "10만원")
    expect(page.locator("[data-bid-preview]")).to_have_text(
        "최대 100,000원까지 자동으로 입찰해요. 지금 가격은 50,000원이 돼요."
    )
    page.locator("#bid-form [data-bid-mode='bid'] button[type=submit]").click()
    # the page asks once more (five times the minimum), with the amounts as it read them
    expect(page.locator("main")).to_contain_text("이 금액이 맞나요?")
    expect(page.locator("main")).to_contain_text("100,000원")
    page.get_by_role("button", name="네, 이 금액으로 입찰할게요").click()
    page.wait_for_url(f"{site}/auctions/{auction.pk}/")

    bid = Bid.objects.get(auction=auction)
    assert (bid.amount, bid.max_amount) == (50_000, 100_000)


def test_the_live_page_sends_5man_3cheon_over_the_socket(live_site, new_page):  # noqa: F811
    auction = f.make_auction(is_national=True, start_price=10_000, title="한정판 운동화")
    bidder = f.make_user(nickname="박하늘", balance=500_000)
    (page,) = live_pages(new_page, live_site, f"{live_site.url}/auctions/{auction.pk}/", [bidder])
    page.on("dialog", lambda dialog: dialog.accept())

    page.fill("#bid-amount", "5만 3천")
    page.fill("#bid-amount-max", "10만")
    expect(page.locator("[data-bid-preview]")).to_contain_text("최대 100,000원까지 자동으로 입찰해요.")
    page.locator("#bid-form [data-bid-mode='bid'] button[type=submit]").click()
    page.wait_for_selector(".live-toast--ok")

    bid = Bid.objects.get(auction=auction)
    assert (bid.amount, bid.max_amount) == (53_000, 100_000)
    assert wallet_of(bidder) == (400_000, 100_000)
    # and the screen says "지금 최고 입찰자예요" once (the toast, the live note and the page's
    # own note used to say it three times: issue 18 #19)
    page.wait_for_selector("[data-live-you-lead]:not([hidden])")
    assert page.locator("body").inner_text().count("지금 최고 입찰자예요") == 1
