"""All of Korea (issue 20): a neighbour whose browser says Jeju verifies the nearest 동 in two
taps (allow the position, press the proposed 동) and bids on a Jeju listing."""

from __future__ import annotations

import pytest

from accounts.models import Neighbourhood, User
from auctions.models import Bid
from tests.factories import ensure_neighbourhoods, make_auction, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-1234"
JEJU = {"latitude": 33.4996, "longitude": 126.5312}  # 제주시, the test point


def test_a_neighbour_in_jeju_verifies_from_the_browser_position_and_bids(site, new_page, shot):
    # given a seller in 일도1동 with a local listing, and a newcomer not yet verified anywhere near
    ensure_neighbourhoods()  # a transaction test before this one flushed the table
    ildo = Neighbourhood.objects.get(code="5011051000")
    seller = make_user(username="halla", nickname="한라봉농부", place=None)
    User.objects.filter(pk=seller.pk).update(neighbourhood=ildo)
    auction = make_auction(seller=User.objects.get(pk=seller.pk), title="제주 감귤 따는 가위 세트", start_price=8_000)
    newcomer = make_user(username="newcomer", nickname="이주민", verified=False, balance=50_000)
    page = new_page(geolocation=JEJU)
    page.goto(f"{site}/accounts/login/")
    page.fill("#id_username", "newcomer")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{site}/")

    # when the verification page proposes the nearest 동 from the position, and the newcomer presses the first
    page.goto(f"{site}/accounts/verify/")
    first = page.locator("[data-geo-proposals] button").first
    first.wait_for()
    assert page.locator("[data-geo-proposals] button").count() == 3
    assert "제주특별자치도 제주시 이도1동" in first.inner_text()
    shot(page, "jeju-01-proposals")
    with page.expect_navigation():
        first.click()

    # then the newcomer is verified in 이도1동 (about 0.9 km from where the browser says they are)
    assert "이도1동 인증을 마쳤어요" in page.locator(".messages").inner_text()
    newcomer.refresh_from_db()
    assert newcomer.neighbourhood.code == "5011053000" and newcomer.location_verified_at is not None

    # and the Jeju listing is in their local list with its distance; they bid on it
    page.goto(f"{site}/?tab=local&km=3")
    card = page.locator(".card", has_text="제주 감귤 따는 가위 세트")
    assert card.locator(".distance").inner_text().endswith("km")
    card.click()
    page.wait_for_url(f"{site}/auctions/{auction.pk}/")
    page.fill("#bid-form input[name=amount]", "8,000")
    page.locator("#bid-form button[type=submit]").click()
    page.wait_for_url(f"{site}/auctions/{auction.pk}/")
    assert "8,000원에 입찰했어요" in page.locator(".messages").inner_text()
    assert list(Bid.objects.filter(auction=auction).values_list("bidder_id", "amount")) == [(newcomer.pk, 8_000)]
