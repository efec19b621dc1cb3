"""axe-core over the main pages at phone (390 px) and desktop (1280 px) size: no violation.

axe-core is pinned in package.json / package-lock.json; scripts/test.sh runs `npm ci` for it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from auctions.services import auction_settle
from tests.factories import make_auction, make_user, neighbourhood, set_end
from trades.selectors import trade_for_auction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "pw-for-tests-1234"
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}


def violations(page) -> list[str]:
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` (scripts/test.sh does)"
    found = []
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        found.append(f"overflow: the page is {overflow}px wider than the screen")
    page.evaluate(AXE.read_text(encoding="utf-8"))  # a DevTools evaluation: the site's CSP stays on
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return found + [
        f"{v['id']} ({v['impact']}): {v['help']} -> " + "; ".join(str(n["target"]) for n in v["nodes"][:4])
        for v in result["violations"]
    ]


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.mark.parametrize("size", SIZES)
def test_main_pages_have_no_axe_violations(site, new_page, size):
    base = site
    width, height = SIZES[size]
    seller = make_user(username="minsu", nickname="민수네", place=neighbourhood("합정동"))
    buyer = make_user(username="jiyoung", nickname="지영", balance=200_000, place=neighbourhood("서교동"))
    local = make_auction(seller=seller, title="원목 식탁 의자 2개", start_price=20_000)
    national = make_auction(seller=seller, title="미개봉 무선 이어폰", start_price=30_000, is_national=True)
    won = make_auction(seller=seller, title="캠핑 의자", start_price=10_000)
    from auctions.services import bid_place

    bid_place(actor=buyer, auction_id=won.pk, amount=10_000, request_id="a11y-won-1")
    set_end(won, timezone.now() - timedelta(seconds=1))
    auction_settle(auction_id=won.pk)
    trade = trade_for_auction(auction_id=won.pk)

    found: dict[str, list[str]] = {}

    page = new_page(width=width, height=height)
    for path in ["/", "/accounts/login/", "/accounts/signup/", f"/auctions/{local.pk}/"]:
        page.goto(f"{base}{path}")
        found[f"(logged out) {path}"] = violations(page)

    login(page, base, "jiyoung")
    for path in [
        "/",
        f"/auctions/{local.pk}/",
        f"/auctions/{national.pk}/",
        "/notifications/",
        "/me/",
        "/trades/",
        f"/trades/{trade.pk}/",
        f"/chat/trade/{trade.pk}/",
        "/chat/",
        "/wallet/",
        "/accounts/profile/",
        f"/u/{seller.pk}/",
        "/auctions/new/",
    ]:
        page.goto(f"{base}{path}")
        found[path] = violations(page)

    bad = {path: v for path, v in found.items() if v}
    assert not bad, "\n".join(f"{path}:\n  " + "\n  ".join(v) for path, v in bad.items())
