"""Races on one trade, real threads behind a barrier: 구매확정, the automatic release, a dispute
and a seller's refund at the same instant give exactly one outcome, one payout, and the books
balance. Without the trade's row lock the same race pays out twice (the last test)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from auctions.audit import audit_ledger
from neighborbid.errors import TradeStateError
from tests.money import assert_books_balance, wallet_of
from tests.races.conftest import overlapped
from tests.trades.conftest import local_deal
from trades.models import Trade
from trades.services import (
    trade_confirm,
    trade_dispute_open,
    trade_mark_handed_over,
    trade_refund,
    trades_auto_release_due,
)
from wallets.models import LedgerEntry

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]


def _due_handed_over_deal():
    deal = local_deal()
    trade_mark_handed_over(trade_id=deal.trade.pk, actor=deal.seller)
    Trade.objects.filter(pk=deal.trade.pk).update(auto_release_at=timezone.now() - timedelta(seconds=1))
    return deal


def _four_way(deal):
    t = deal.trade.pk
    return [
        lambda: trade_confirm(trade_id=t, actor=deal.buyer),
        lambda: trades_auto_release_due(),
        lambda: trade_dispute_open(trade_id=t, actor=deal.buyer, reason="물건이 안 왔어요"),
        lambda: trade_refund(trade_id=t, actor=deal.seller),
    ]


def test_confirm_auto_release_dispute_and_refund_give_one_outcome(concurrently):
    seen = set()
    rounds = overlapping = 0
    while rounds < 8 or (overlapping < 4 and rounds < 24):  # until enough rounds really raced
        rounds += 1
        # given a handed-over trade whose automatic release is due
        deal = _due_handed_over_deal()
        # when the buyer confirms, the worker releases, the buyer disputes and the seller refunds at once
        confirm, auto, dispute, refund = outcomes = concurrently(_four_way(deal))
        overlapping += overlapped(outcomes)
        # then every loser was refused cleanly (or the worker found nothing to do)
        for outcome in (confirm, dispute, refund):
            assert outcome.ok or isinstance(outcome.error, TradeStateError), outcome.error
        assert auto.ok, auto.error
        paid = [confirm.ok, auto.value == 1, refund.ok]
        assert sum(paid) == 1, (confirm.error, auto.value, dispute.error, refund.error)
        trade = deal.fresh()
        entries = list(
            LedgerEntry.objects.filter(trade=trade).exclude(kind="trade_escrow").values_list("kind", flat=True)
        )
        if refund.ok:
            assert trade.status == "refunded" and entries == ["trade_refund"]
            assert wallet_of(deal.buyer) == (100_000, 0) and wallet_of(deal.seller) == (0, 0)
        else:
            assert not dispute.ok  # a dispute first would have stopped both releases
            assert trade.status == "completed" and entries == ["trade_release"]
            assert wallet_of(deal.seller) == (20_000, 0) and wallet_of(deal.buyer) == (80_000, 0)
        seen.add(("confirm", "auto", "refund")[paid.index(True)] + ("+dispute" if dispute.ok else ""))
    print("outcomes seen:", sorted(seen), f"{overlapping}/{rounds} rounds overlapped")
    assert overlapping >= 4, f"only {overlapping} of {rounds} rounds ran their four calls at the same time"
    assert_books_balance()


def test_two_workers_release_every_due_trade_exactly_once(concurrently):
    deals = [_due_handed_over_deal() for _ in range(12)]
    outcomes = concurrently([trades_auto_release_due for _ in range(2)])
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert sum(o.value for o in outcomes) == 12
    assert Trade.objects.filter(status="completed").count() == 12
    assert LedgerEntry.objects.filter(kind="trade_release").count() == 12
    for deal in deals:
        assert wallet_of(deal.seller) == (20_000, 0)
    assert_books_balance()


def _trade_without_lock(*, trade_id, skip_locked=False):
    """The services' trade lock with the lock taken out: a plain read."""
    return Trade.objects.filter(pk=trade_id).first()


def test_the_race_has_teeth_without_the_trade_lock_it_pays_twice(concurrently, monkeypatch):
    # given the trade services with the trade row lock removed
    from trades.services import _common, release

    for module in (_common, release):  # every module that takes the trade's row lock
        monkeypatch.setattr(module, "trade_lock", _trade_without_lock)
    symptoms = []
    for _ in range(10):
        deal = _due_handed_over_deal()
        # when the same four-way race runs
        concurrently(_four_way(deal))
        # then money goes wrong: more than one payout, and the audit sees it
        symptoms += audit_ledger().violations
        if symptoms:
            break
    print("\n".join(symptoms)[:2000])
    assert symptoms, "the race found nothing wrong even without the trade lock: it has no teeth"
