"""The live page's bid form as a person uses it (issue 18 items 1-5): typed into the real
fields, sent with the real buttons over a real Daphne socket, checked in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from auctions import services
from auctions.models import Auction, Bid
from auctions.rules import bid_needs_confirmation
from neighborbid.settings import channel_layers
from tests import factories as f
from tests.browser.test_live import live_pages, live_site, static_root  # noqa: F401  (fixtures)
from tests.money import wallet_of, world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BID = "#bid-form [data-bid-mode='bid'] button[type=submit]"
RAISE = "#bid-form [data-bid-mode='raise'] button[type=submit]"


def test_a_maximum_typed_on_the_live_page_is_held_then_the_leader_raises_it_from_the_raise_form(
    live_site,  # noqa: F811
    new_page,
    shot,
):
    # given: a national auction, two bidders on its live page
    auction = f.make_auction(is_national=True, start_price=10_000, title="기계식 키보드")
    alice = f.make_user(nickname="김민수", balance=1_000_000)
    bob = f.make_user(nickname="이지은", balance=1_000_000)
    page_a, page_b = live_pages(new_page, live_site, f"{live_site.url}/auctions/{auction.pk}/", [alice, bob])

    # when: Alice types 10,000 and a maximum of 30,000, presses 입찰하기 and confirms the
    # maximum (more than twice the minimum: the page asks once more)
    questions: list[str] = []
    page_a.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page_a.fill("#bid-amount", "10,000")
    page_a.fill("#bid-amount-max", "30,000")
    expect(page_a.locator("[data-bid-preview]")).to_contain_text("최대 30,000원까지 자동으로 입찰해요")
    page_a.click(BID)
    page_a.wait_for_selector(".live-toast--ok")

    # then: the maximum is hers and held (item 1)
    assert len(questions) == 1 and "30,000원(최대 입찰가)" in questions[0]
    bid = Bid.objects.get(auction=auction, bidder=alice)
    assert (bid.amount, bid.max_amount) == (10_000, 30_000)
    assert wallet_of(alice) == (970_000, 30_000)
    assert "최대 30,000원까지 자동으로 입찰해요" in page_a.locator(".live-toast--ok").inner_text()
    # and her page offers the leader's raise, not a bid against herself (item 5)
    expect(page_a.locator("[data-bid-mode='raise']")).to_be_visible()
    expect(page_a.locator("[data-bid-mode='bid']")).to_be_hidden()
    expect(page_a.locator("[data-my-max]")).to_contain_text("30,000원")

    # when: Bob bids 12,000 from his page: her maximum answers for her
    page_b.fill("#bid-amount", "12,000")
    page_b.click(BID)
    page_b.wait_for_selector(".live-toast--warn >> text=자동 입찰로 밀렸어요")
    auction.refresh_from_db()
    assert auction.leader_id == alice.pk and auction.current_price == 13_000
    # Bob's amount box is formatted and his preview follows it (item 5)
    expect(page_b.locator("#bid-amount")).to_have_value("14,000")
    expect(page_b.locator("[data-bid-preview]")).to_have_text("14,000원에 입찰해요.")

    # when: Alice raises her maximum to 80,000 with the raise form (item 2)
    page_a.wait_for_function("document.querySelector(\"[data-live='current_price']\").textContent === '13,000원'")
    page_a.fill("#bid-max", "80,000")
    page_a.click(RAISE)
    page_a.wait_for_selector(".live-toast--ok >> text=최대 80,000원까지")

    # then: the maximum is 80,000, the price did not move, only the difference was held
    auction.refresh_from_db()
    assert (auction.leader_id, auction.current_price, auction.leader_max) == (alice.pk, 13_000, 80_000)
    assert wallet_of(alice) == (920_000, 80_000)
    assert "13,000원" in page_a.locator(".live-toast--ok").inner_text()
    expect(page_a.locator("[data-my-max]")).to_contain_text("80,000원")
    shot(page_a, "live-raise")


def test_a_bid_far_above_the_minimum_is_asked_about_first_and_nothing_happens_when_declined(
    live_site,  # noqa: F811
    new_page,
):
    # given: a national auction at 300,000
    auction = f.make_auction(is_national=True, start_price=300_000, buy_now_price=5_000_000, title="카메라")
    bob = f.make_user(nickname="이지은", balance=3_000_000)
    (page,) = live_pages(new_page, live_site, f"{live_site.url}/auctions/{auction.pk}/", [bob])
    questions: list[str] = []

    # when: Bob types 2,500,000 and declines "이 금액이 맞나요?"
    before = world()
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.fill("#bid-amount", "2,500,000")
    page.click(BID)
    page.wait_for_function("document.querySelector('#bid-form').dataset.submitting === ''")

    # then: he was asked, nothing was sent or held
    assert questions and "이 금액이 맞나요?" in questions[0] and "300,000원" in questions[0]
    assert world() == before

    # when: he presses again and says yes
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.click(BID)
    page.wait_for_selector(".live-toast--ok")

    # then: the bid is placed once
    assert len(questions) == 2
    auction.refresh_from_db()
    assert (auction.leader_id, auction.current_price, auction.bid_count) == (bob.pk, 2_500_000, 1)

    # and the page decides by the server's rule (auctions.rules.bid_needs_confirmation)
    minimum = page.evaluate("window.neighborbidLive.minNext")
    for amount, maximum in [
        (minimum, None),
        (2 * minimum, None),
        (2 * minimum + 1, None),
        (minimum, 2 * minimum + 50_000),
        (4_999_999, None),
        (5_000_000, None),
        (minimum, 6_000_000),
    ]:
        expected = bid_needs_confirmation(
            amount=amount, maximum=maximum, minimum=minimum, buy_now_price=5_000_000, price_max=1_000_000_000
        )
        got = page.evaluate("([a, m]) => window.neighborbidLive.needsConfirmation(a, m)", [amount, maximum])
        assert got is expected, (amount, maximum)


def test_the_outbid_notice_is_not_hidden_by_the_extension_it_caused(live_site, new_page):  # noqa: F811
    # given: Alice leads a national auction in its soft-close window
    auction = f.make_auction(
        is_national=True, start_price=10_000, title="빈티지 램프", soft_close_window_s=300, soft_close_extension_s=600
    )
    f.set_end(auction, timezone.now() + timedelta(minutes=4))
    alice = f.make_user(nickname="김민수", balance=1_000_000)
    bob = f.make_user(nickname="이지은", balance=1_000_000)
    page_a, page_b = live_pages(new_page, live_site, f"{live_site.url}/auctions/{auction.pk}/", [alice, bob])
    page_a.click(BID)
    page_a.wait_for_selector(".live-toast--ok")
    page_a.evaluate("document.querySelector('[data-live-toasts]').replaceChildren()")
    ends_seen = page_a.evaluate("window.neighborbidLive.endsAt")
    # the next bid moves the end 15 minutes past it: a later end for sure
    Auction.objects.filter(pk=auction.pk).update(soft_close_extension_s=900, soft_close_window_s=900)

    # when: Bob outbids her
    page_b.click(BID)

    # then: once both the outbid notice and the later end reached her page, the notice still shows
    page_a.wait_for_function("(seen) => window.neighborbidLive.endsAt > seen + 60000", arg=ends_seen)
    page_a.wait_for_selector(".live-toast--warn")
    page_a.wait_for_timeout(50)  # the second of the two frames, whichever came last, is applied
    toast = page_a.locator(".live-toast")
    assert toast.count() == 1
    text = toast.inner_text()
    assert "더 높은 입찰" in text and "연장됐어요" in text
    auction.refresh_from_db()
    assert auction.leader_id == bob.pk


def test_no_money_shows_a_wallet_link_and_the_end_shows_the_trade_link(live_site, new_page, settings):  # noqa: F811
    # given: a national auction; Carol has no money, Dan has
    auction = f.make_auction(is_national=True, start_price=10_000, title="자전거")
    carol = f.make_user(nickname="최가을", balance=0)
    dan = f.make_user(nickname="한겨울", balance=100_000)
    page_c, page_d = live_pages(new_page, live_site, f"{live_site.url}/auctions/{auction.pk}/", [carol, dan])

    # when: Carol bids
    before = world()
    page_c.click(BID)

    # then: refused, nothing changed, and the notice links to the wallet
    page_c.wait_for_selector(".live-toast--error")
    assert world() == before
    link = page_c.locator(".live-toast--error a", has_text="지갑 충전하기")
    expect(link).to_have_attribute("href", "/wallet/#deposit")

    # when: Dan wins and the auction settles
    page_d.click(BID)
    page_d.wait_for_selector(".live-toast--ok")
    settings.BUS_PREFIX = live_site.env["BUS_PREFIX"]
    settings.CHANNEL_LAYERS = channel_layers(settings.REDIS_URL, settings.BUS_PREFIX)  # the server's layer too
    f.set_end(auction, timezone.now() - timedelta(seconds=1))
    assert services.auction_settle(auction_id=auction.pk) is not None

    # then: his page names him the winner and leads on to the trade, without a reload
    page_d.wait_for_selector(".live-toast--ok >> text=낙찰됐어요!")
    expect(page_d.locator("[data-live='leader']").locator("xpath=preceding-sibling::dt")).to_have_text("낙찰자")
    expect(page_c.locator("[data-live='leader']").locator("xpath=preceding-sibling::dt")).to_have_text("낙찰자")
    expect(page_c.locator("[data-live-trade-link]")).to_be_hidden()
    page_d.click("[data-live-trade-link]")
    page_d.wait_for_url(f"{live_site.url}/trades/{auction.trade.pk}/")
    # Carol's refused attempt is still the only thing her wallet saw
    assert wallet_of(carol) == (0, 0)
