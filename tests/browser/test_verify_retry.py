"""Neighbourhood verification retried on the same page: every press asks the browser for a
fresh position (issue 9, item 16: the old position used to be re-sent until a reload)."""

from __future__ import annotations

import pytest

from accounts.models import User
from tests.factories import make_user, neighbourhood

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-1234"
HAPJEONG = {"latitude": 37.5497, "longitude": 126.9139}
FAR_AWAY = {"latitude": 37.2636, "longitude": 127.0286}  # 수원, ~30 km away


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_a_retry_after_too_far_sends_the_new_position(site, new_page):
    user = make_user(username="retrier", verified=False, place=neighbourhood("합정동"))
    page = new_page(geolocation=FAR_AWAY)
    login(page, site, "retrier")
    page.goto(f"{site}/accounts/verify/")
    with page.expect_navigation():
        page.click("[data-geo-current]")
    assert "떨어져 있어요" in page.locator(".messages").inner_text()
    assert page.locator("input[name='latitude']").input_value() == ""  # the old position is not kept
    user.refresh_from_db()
    assert user.location_verified_at is None
    # the user walks home; on the same page, without a reload, they press again
    page.context.set_geolocation(HAPJEONG)
    with page.expect_navigation():
        page.click("[data-geo-current]")
    assert "인증을 마쳤어요" in page.locator(".messages").inner_text()
    assert User.objects.get(pk=user.pk).location_verified_at is not None


def test_a_retry_after_a_refused_permission_asks_again_and_clears_the_error(site, new_page):
    user = make_user(username="permless", verified=False, place=neighbourhood("합정동"))
    page = new_page()  # no permission yet
    login(page, site, "permless")
    page.goto(f"{site}/accounts/verify/")
    page.click("[data-geo-current]")
    page.wait_for_function("document.querySelector('[data-geo-status]').classList.contains('error')")
    assert page.locator("[data-geo-current]").get_attribute("aria-disabled") is None
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation(HAPJEONG)
    with page.expect_navigation():
        page.click("[data-geo-current]")
    assert "인증을 마쳤어요" in page.locator(".messages").inner_text()
    assert User.objects.get(pk=user.pk).location_verified_at is not None
