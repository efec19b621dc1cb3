"""The header as a newcomer sees it (issue 18 #16): orange unread badges with a spoken count,
one 로그인 on a desktop, 로그인 and 회원가입 on a phone."""

from __future__ import annotations

import re

import pytest

from auctions.services import bid_place
from tests.factories import make_auction, make_user, rid

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-1234"
BRAND_STRONG = "rgb(201, 79, 0)"


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def outbid_once(username: str) -> None:
    """Given one unread notification for `username` (outbid)."""
    auction = make_auction(start_price=10_000)
    me = make_user(username=username, balance=50_000)
    other = make_user(balance=50_000)
    bid_place(actor=me, auction_id=auction.pk, amount=10_000, request_id=rid())
    bid_place(actor=other, auction_id=auction.pk, amount=11_000, request_id=rid())


def test_desktop_unread_badge_is_orange_and_its_count_is_spoken(site, new_page):
    outbid_once("jiyoung")
    page = new_page(width=1280, height=800)
    login(page, site, "jiyoung")
    bell = page.get_by_role("link", name="알림, 읽지 않은 알림 1개")
    assert bell.is_visible()
    badge = bell.locator(".badge")
    assert badge.inner_text() == "1"
    assert badge.evaluate("el => getComputedStyle(el).backgroundColor") == BRAND_STRONG
    assert badge.evaluate("el => getComputedStyle(el).color") == "rgb(255, 255, 255)"


def test_phone_bell_badge_has_an_accessible_count(site, new_page):
    outbid_once("jiyoung")
    page = new_page(width=390, height=844)
    login(page, site, "jiyoung")
    bell = page.get_by_role("link", name="알림, 읽지 않은 알림 1개")
    assert bell.is_visible()
    assert bell.locator(".badge").evaluate("el => getComputedStyle(el).backgroundColor") == BRAND_STRONG


def visible(page, name: str) -> int:
    links = page.locator("header.topbar").get_by_role("link", name=re.compile(f"^{name}$"))
    return sum(1 for i in range(links.count()) if links.nth(i).is_visible())


def test_logged_out_header_offers_one_login_and_signup_at_every_size(site, new_page):
    desktop = new_page(width=1280, height=800)
    desktop.goto(f"{site}/")
    assert visible(desktop, "로그인") == 1
    assert visible(desktop, "회원가입") == 1

    phone = new_page(width=390, height=844)
    phone.goto(f"{site}/")
    assert visible(phone, "로그인") == 1
    assert visible(phone, "회원가입") == 1
    # a person signs up from the phone header
    phone.get_by_role("link", name="회원가입").click()
    phone.wait_for_url(f"{site}/accounts/signup/")
