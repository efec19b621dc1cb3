"""Friendly error pages."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client

from tests.factories import make_user
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db


def test_404_page_is_friendly():
    response = Client().get("/this/does/not/exist/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "페이지를 찾을 수 없어요" in page and "홈으로 가기" in page


def test_500_template_renders_without_context():
    page = render_to_string("500.html")
    assert "잠시 문제가 생겼어요" in page


def test_csrf_failure_page_is_friendly():
    user = make_user()
    response = signed_in(user, csrf=True).post("/wallet/deposit/", {"amount": "5,000"})
    assert response.status_code == 403
    assert "보안 확인에 실패했어요" in response.content.decode()


def test_unknown_method_is_405_not_500():
    assert Client().put("/").status_code == 405


def test_out_of_range_ids_are_404_not_500():
    huge = "9" * 25
    client = signed_in(make_user(balance=10_000))
    assert client.get(f"/auctions/{huge}/").status_code == 404
    assert client.get(f"/auctions/{huge}/edit/").status_code == 404
    assert client.post(f"/auctions/{huge}/bid/", {"amount": "1,000", "request_id": "r1"}).status_code == 404
    assert client.post(f"/auctions/{huge}/buy-now/", {"request_id": "r2"}).status_code == 404
    assert client.post(f"/notifications/{huge}/read/").status_code == 404
    assert client.post(f"/auctions/{huge}/watch/").status_code in (302, 404)
    assert client.post(f"/auctions/{huge}/report/", {"reason": "fraud"}).status_code == 404


def test_tabs_mark_the_current_one():
    page = Client().get("/", {"tab": "national"}).content.decode()
    assert 'href="?tab=national" class="tabs__tab" aria-current="page"' in page
