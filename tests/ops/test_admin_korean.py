"""The admin reads as Korean (issue 18 #21): labels on every field, the moderation queue on the
first page, and /favicon.ico."""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.urls import reverse

from auctions.models import Report
from auctions.services import report_create
from tests.factories import make_auction, make_user

HANGUL = re.compile("[가-힣]")


@pytest.mark.parametrize("app", ["trades", "chat", "reviews"])
def test_every_model_and_field_has_a_korean_label(app):
    missing = [
        f"{model.__name__}.{field.name}"
        for model in apps.get_app_config(app).get_models()
        for field in model._meta.get_fields()
        if getattr(field, "concrete", False) and not field.primary_key and not HANGUL.search(str(field.verbose_name))
    ]
    missing += [
        model.__name__
        for model in apps.get_app_config(app).get_models()
        if not HANGUL.search(str(model._meta.verbose_name_plural))
    ]
    assert missing == []


@pytest.mark.django_db
def test_the_first_page_counts_what_waits_for_a_moderator(mod_client):
    auction = make_auction()
    report_create(actor=make_user(), reason=Report.Reason.values[0], auction_id=auction.pk)
    page = mod_client.get(reverse("admin:index"))
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.content.decode())
    assert "처리할 경매 신고</a></th><td data-queue-count>1건" in text
    assert "분쟁 중인 거래</a></th><td data-queue-count>0건" in text


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_logo(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith(".svg")


@pytest.mark.django_db
def test_admin_phrases_read_as_korean_and_bid_amounts_have_commas(mod_client):
    from auctions.services import bid_place
    from tests.factories import rid

    auction = make_auction(start_price=12_000)
    bid_place(actor=make_user(balance=50_000), auction_id=auction.pk, amount=12_000, request_id=rid())
    page = mod_client.get(reverse("admin:auctions_bid_changelist")).content.decode()
    assert "12,000원" in page
    reports = mod_client.get(reverse("admin:auctions_report_changelist")).content.decode()
    for bad in ("뷰 ", "(으)로", "볼 ", "변경할 "):
        assert bad not in reports, bad
