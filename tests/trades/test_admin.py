"""Disputes in the admin, as a moderator (not a superuser): read-only trade pages, disputes
filterable, resolution only through the action (reason required, money through the service)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from tests.factories import make_moderator
from tests.money import assert_books_balance, wallet_of, world
from tests.web.conftest import signed_in
from trades.services import trade_dispute_open

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:trades_trade_changelist")


@pytest.fixture
def moderator():
    return make_moderator()


@pytest.fixture
def disputed(deal):
    trade_dispute_open(trade_id=deal.trade.pk, actor=deal.buyer, reason="깨져서 왔어요")
    return deal


def resolve(client, trade, **form):
    data = {"action": "resolve_disputes", "_selected_action": [str(trade.pk)]}
    first = client.post(CHANGELIST, data)
    assert first.status_code == 200 and b'name="apply"' in first.content
    return client.post(CHANGELIST, {**data, "apply": "yes", **form})


def test_disputes_are_listed_and_filterable_read_only(moderator, disputed):
    client = signed_in(moderator)
    page = client.get(CHANGELIST + "?status__exact=disputed")
    assert page.status_code == 200 and disputed.trade.auction.title in page.content.decode()
    change = client.get(reverse("admin:trades_trade_change", args=[disputed.trade.pk]))
    assert change.status_code == 200
    assert b'name="amount"' not in change.content and b'name="seller_payout"' not in change.content
    before = world()
    client.post(reverse("admin:trades_trade_change", args=[disputed.trade.pk]), {"amount": "1", "status": "completed"})
    assert world() == before


def test_a_split_through_the_admin_pays_both_and_logs_the_reason(moderator, disputed):
    response = resolve(signed_in(moderator), disputed.trade, outcome="split", buyer_amount="5000", reason="일부 파손")
    assert response.status_code == 302
    trade = disputed.fresh()
    assert (trade.status, trade.buyer_refund, trade.seller_payout, trade.resolved_by_id) == (
        "split",
        5_000,
        15_000,
        moderator.pk,
    )
    assert wallet_of(disputed.buyer) == (85_000, 0) and wallet_of(disputed.seller) == (15_000, 0)
    assert "일부 파손" in LogEntry.objects.get(object_id=str(trade.pk)).change_message
    assert_books_balance()


def test_bad_resolutions_change_nothing(moderator, disputed):
    client = signed_in(moderator)
    before = world()
    resolve(client, disputed.trade, outcome="refunded", reason="")  # no reason: the form again
    resolve(client, disputed.trade, outcome="split", buyer_amount="20000", reason="x")  # not a split
    resolve(client, disputed.trade, outcome="split", reason="x")  # no amount
    assert world() == before
    # a user without the permission has no such action
    stranger = signed_in(disputed.stranger)
    assert stranger.get(CHANGELIST).status_code == 302  # not staff: to the admin login


def test_the_dispute_form_shows_the_amount_and_a_refused_split_keeps_what_was_typed(moderator, disputed):
    # issue 18 #21: the form hid the trade's amount, and an invalid split went back to the list
    client = signed_in(moderator)
    data = {"action": "resolve_disputes", "_selected_action": [str(disputed.trade.pk)]}
    first = client.post(CHANGELIST, data).content.decode()
    assert "보관 중인 거래 금액 20,000원" in first
    before = world()
    # when: a split larger than the amount (the service refuses it)
    again = client.post(
        CHANGELIST, {**data, "apply": "yes", "outcome": "split", "buyer_amount": "25,000", "reason": "반반"}
    )
    # then: the same page, the refusal, the typed amount and reason still in the fields, nothing paid
    page = again.content.decode()
    assert again.status_code == 200 and 'name="apply"' in page
    assert 'value="25,000"' in page and "반반" in page and "20,000원" in page
    assert world() == before and disputed.fresh().status == "disputed"


@pytest.mark.parametrize("typed", ["١٢٣", "１２３", "5000.0", "-5000", "5e3"])
def test_a_split_amount_the_one_parser_refuses_is_refused_and_nothing_changes(moderator, disputed, typed):
    # given: a disputed trade; when: a moderator types an amount only int() would take
    before = world()
    response = resolve(signed_in(moderator), disputed.trade, outcome="split", buyer_amount=typed, reason="일부 파손")
    # then: the form again, nothing paid
    assert response.status_code == 200
    assert disputed.fresh().status == "disputed"
    assert world() == before


def test_a_split_amount_with_commas_and_won_is_read_as_everywhere(moderator, disputed):
    response = resolve(
        signed_in(moderator), disputed.trade, outcome="split", buyer_amount="5,000원", reason="일부 파손"
    )
    assert response.status_code == 302
    assert disputed.fresh().buyer_refund == 5_000
