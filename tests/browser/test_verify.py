"""The verify page in real Chromium (issue 24): a neighbour bids on the live page as a person
does, opens "기록 검증", and the page (recomputing every hash with WebCrypto) says the whole log
checks out and that their own receipt, kept by the live page, is in it; after a leaf is changed
in the database the same page names that leaf."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection

from auctions.models import Auction, BidLogLeaf
from auctions.services import bid_place
from neighborbid import verify
from tests import factories as f
from tests.browser.test_live import live_pages, live_site, static_root  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_bidder_checks_the_log_and_their_receipt_and_sees_a_forgery(live_site, new_page, shot):  # noqa: F811
    auction = f.make_auction(is_national=True, start_price=10_000, title="한정판 피규어")
    rival = f.make_user(nickname="박서준", balance=1_000_000)
    bid_place(auction_id=auction.pk, actor=rival, amount=10_000, request_id=f.rid())
    me = f.make_user(nickname="김민수", balance=1_000_000)
    url = f"{live_site.url}/auctions/{auction.pk}/"
    [page] = live_pages(new_page, live_site, url, [me])
    # when I bid the suggested amount with the real button
    page.click("#bid-form button[type=submit]:visible")
    page.wait_for_selector(".live-toast--ok")
    assert Auction.objects.get(pk=auction.pk).leader_id == me.pk
    # and open the log's check from the auction page
    page.get_by_role("link", name="기록 검증").click()
    page.wait_for_url(f"{url}verify/")
    page.wait_for_selector("#verify-result.verify__ok")
    # then the whole log checks out in my browser, and my own bid is in it
    assert page.locator("#verify-result").inner_text() == "모든 입찰 기록이 확인됐어요"
    assert page.locator("#verify-mine").inner_text() == "내 입찰 1건 확인"
    assert page.locator(".verify__list li.verify__ok").count() == 2
    shot(page, "verify-ok")
    # and the JSON the page offers for checking by hand is what the command verifies
    with page.expect_download() as download:
        page.get_by_role("link", name="JSON 내려받기").click()
    saved = download.value.path()
    assert verify.main([str(saved)]) == 0

    # when someone changes the first bid in the database (its trigger taken out)
    leaf = BidLogLeaf.objects.get(auction=auction, seq=1)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE auctions_bidlogleaf DISABLE TRIGGER auctions_bidlog_append_only")
        cursor.execute(
            "UPDATE auctions_bidlogleaf SET body = %s WHERE id = %s",
            [leaf.body.replace('"amount":10000', '"amount":9000'), leaf.pk],
        )
        cursor.execute("ALTER TABLE auctions_bidlogleaf ENABLE TRIGGER auctions_bidlog_append_only")
    page.reload()
    # then the page names that leaf
    page.wait_for_selector("#verify-result.verify__bad")
    assert page.locator("#verify-result").inner_text().startswith("1번 기록이 맞지 않아요")
    shot(page, "verify-forged")


def test_a_leaf_that_is_no_json_is_named_not_left_checking(live_site, new_page):  # noqa: F811
    # given a bid whose leaf someone replaced by text that is not JSON, with its hash recomputed
    auction = f.make_auction(is_national=True, start_price=10_000, title="원목 의자")
    bidder = f.make_user(nickname="이하늘", balance=1_000_000)
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=f.rid())
    leaf = BidLogLeaf.objects.get(auction=auction, seq=1)
    forged = "입찰 없음"
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE auctions_bidlogleaf DISABLE TRIGGER auctions_bidlog_append_only")
        cursor.execute(
            "UPDATE auctions_bidlogleaf SET body = %s, hash = %s WHERE id = %s",
            [forged, hashlib.sha256(forged.encode()).hexdigest(), leaf.pk],
        )
        cursor.execute("ALTER TABLE auctions_bidlogleaf ENABLE TRIGGER auctions_bidlog_append_only")
    # when a neighbour opens the check
    page = new_page()
    page.goto(f"{live_site.url}/auctions/{auction.pk}/verify/")
    # then the page names that leaf instead of stopping half-way
    page.wait_for_selector("#verify-result.verify__bad")
    assert page.locator("#verify-result").inner_text().startswith("1번 기록이 맞지 않아요")
