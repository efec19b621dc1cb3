"""trades.services: every transition allowed and refused. A refusal changes nothing: no row,
no balance, no ledger entry, no notification (tests.money.world)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.services import user_suspend
from auctions.images import InvalidImage
from auctions.worker import worker_run_once
from neighborbid.errors import (
    AccountSuspended,
    InvalidAmount,
    InvalidRequest,
    LimitExceeded,
    LoginRequired,
    PermissionDenied,
    TradeNotFound,
    TradeStateError,
)
from notifications.models import Notification
from tests.factories import make_moderator, make_user
from tests.money import assert_books_balance, wallet_of, world
from tests.trades.conftest import local_deal
from trades.models import Trade, TradeDisputePhoto
from trades.selectors import trades_needing_action_count, wallet_trade_sums
from trades.services import (
    trade_confirm,
    trade_dispute_open,
    trade_dispute_resolve,
    trade_mark_handed_over,
    trade_mark_shipped,
    trade_refund,
    trades_auto_release_due,
)
from wallets.models import LedgerEntry
from wallets.services import wallet_deposit

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def refused(error, service, **kwargs):
    before = world()
    with pytest.raises(error):
        service(**kwargs)
    assert world() == before
    assert_books_balance()


def notes(user, kind):
    return list(Notification.objects.filter(user=user, kind=kind).values_list("message", flat=True))


def jpeg(name="photo.jpg"):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def make_due(trade):
    Trade.objects.filter(pk=trade.pk).update(auto_release_at=timezone.now() - timedelta(seconds=1))


def disputed(deal):
    trade_dispute_open(trade_id=deal.trade.pk, actor=deal.buyer, reason="상품이 설명과 달라요")
    return deal


# --- the sale opens the trade ----------------------------------------------------------------


def test_a_sale_moves_the_winners_hold_into_escrow(deal):
    trade = deal.trade
    assert (trade.status, trade.amount, trade.is_national) == ("awaiting_handover", 20_000, False)
    assert wallet_of(deal.buyer) == (80_000, 0)  # the hold left locked: it is the trade's now
    assert wallet_of(deal.seller) == (0, 0)
    entry = LedgerEntry.objects.get(trade=trade)
    assert (entry.kind, entry.balance_delta, entry.locked_delta) == ("trade_escrow", 0, -20_000)
    # never marked: refunded to the buyer after N + 3 days
    expected = trade.auction.ended_at + 10 * DAY
    assert abs((trade.auto_release_at - expected).total_seconds()) < 5
    assert trade.is_open
    assert wallet_trade_sums(user_id=deal.seller.pk) == {"incoming": 20_000, "in_trades": 0}
    assert wallet_trade_sums(user_id=deal.buyer.pk) == {"incoming": 0, "in_trades": 20_000}
    assert trades_needing_action_count(user_id=deal.seller.pk) == 1
    assert trades_needing_action_count(user_id=deal.buyer.pk) == 0
    assert_books_balance()


# --- the seller marks it ---------------------------------------------------------------------


def test_seller_marks_a_local_trade_handed_over(deal):
    trade = trade_mark_handed_over(trade_id=deal.trade.pk, actor=deal.seller)
    assert trade.status == "handed_over" and trade.handed_over_at is not None
    assert abs((trade.auto_release_at - trade.handed_over_at - 7 * DAY).total_seconds()) < 1
    assert trade.seq == deal.trade.seq + 1
    assert notes(deal.buyer, "trade_handed_over")
    assert trades_needing_action_count(user_id=deal.buyer.pk) == 1
    assert trades_needing_action_count(user_id=deal.seller.pk) == 0
    assert wallet_of(deal.seller) == (0, 0)
    assert_books_balance()


def test_marking_handed_over_is_refused_for_others_twice_national_and_suspended(deal, national):
    refused(PermissionDenied, trade_mark_handed_over, trade_id=deal.trade.pk, actor=deal.buyer)
    refused(PermissionDenied, trade_mark_handed_over, trade_id=deal.trade.pk, actor=deal.stranger)
    refused(TradeStateError, trade_mark_handed_over, trade_id=national.trade.pk, actor=national.seller)
    refused(LoginRequired, trade_mark_handed_over, trade_id=deal.trade.pk, actor=None)
    refused(TradeNotFound, trade_mark_handed_over, trade_id=999_999, actor=deal.seller)
    trade_mark_handed_over(trade_id=deal.trade.pk, actor=deal.seller)
    refused(TradeStateError, trade_mark_handed_over, trade_id=deal.trade.pk, actor=deal.seller)
    other = local_deal()
    user_suspend(user_id=other.seller.pk, staff_user=make_user(is_superuser=True, is_staff=True), reason="사기 의심")
    refused(AccountSuspended, trade_mark_handed_over, trade_id=other.trade.pk, actor=other.seller)


def test_seller_marks_a_national_trade_shipped(national):
    trade = trade_mark_shipped(
        trade_id=national.trade.pk, actor=national.seller, carrier=" CJ대한통운 ", tracking_number="6543-2100"
    )
    assert (trade.status, trade.carrier, trade.tracking_number) == ("shipped", "CJ대한통운", "6543-2100")
    assert abs((trade.auto_release_at - trade.shipped_at - 7 * DAY).total_seconds()) < 1
    assert "CJ대한통운 6543-2100" in notes(national.buyer, "trade_shipped")[0]
    assert_books_balance()


def test_shipping_is_refused_when_local_blank_by_others_or_twice(deal, national):
    kw = {"carrier": "우체국택배", "tracking_number": "1"}
    refused(TradeStateError, trade_mark_shipped, trade_id=deal.trade.pk, actor=deal.seller, **kw)
    refused(PermissionDenied, trade_mark_shipped, trade_id=national.trade.pk, actor=national.buyer, **kw)
    refused(
        InvalidRequest,
        trade_mark_shipped,
        trade_id=national.trade.pk,
        actor=national.seller,
        carrier=" ",
        tracking_number="1",
    )
    refused(
        InvalidRequest,
        trade_mark_shipped,
        trade_id=national.trade.pk,
        actor=national.seller,
        carrier="a",
        tracking_number="",
    )
    refused(
        InvalidRequest,
        trade_mark_shipped,
        trade_id=national.trade.pk,
        actor=national.seller,
        carrier="a",
        tracking_number="9" * 51,
    )
    trade_mark_shipped(trade_id=national.trade.pk, actor=national.seller, **kw)
    refused(TradeStateError, trade_mark_shipped, trade_id=national.trade.pk, actor=national.seller, **kw)


# --- the buyer confirms (구매확정) --------------------------------------------------------------


def test_buyer_confirms_and_the_seller_is_paid(deal):
    trade_mark_handed_over(trade_id=deal.trade.pk, actor=deal.seller)
    trade = trade_confirm(trade_id=deal.trade.pk, actor=deal.buyer)
    assert (trade.status, trade.seller_payout, trade.buyer_refund) == ("completed", 20_000, 0)
    assert trade.completed_at is not None and trade.auto_release_at is None and not trade.is_open
    assert wallet_of(deal.seller) == (20_000, 0)
    assert wallet_of(deal.buyer) == (80_000, 0)
    assert LedgerEntry.objects.get(trade=trade, kind="trade_release").wallet.user_id == deal.seller.pk
    assert "20,000원이 지갑에 들어왔어요" in notes(deal.seller, "trade_completed")[0]
    assert wallet_trade_sums(user_id=deal.seller.pk) == {"incoming": 0, "in_trades": 0}
    assert_books_balance()


def test_payouts_are_owed_so_the_wallet_ceiling_never_refuses_or_caps_them(deal, settings):
    """Issue 18 #11, decided: WALLET_MAX bounds what a user puts in (top-ups), not what the
    market owes them. A release or refund past the ceiling is paid in full (refusing it would
    strand escrow, capping it would lose money); the next top-up is refused, changing nothing."""
    settings.NEIGHBORBID = {**settings.NEIGHBORBID, "WALLET_MAX": 10_000}
    trade_mark_handed_over(trade_id=deal.trade.pk, actor=deal.seller)
    trade = trade_confirm(trade_id=deal.trade.pk, actor=deal.buyer)
    assert trade.seller_payout == 20_000
    assert wallet_of(deal.seller) == (20_000, 0)  # past the 10,000 ceiling, paid in full
    refused(LimitExceeded, wallet_deposit, actor=deal.seller, amount=1_000)
    assert_books_balance()


def test_a_refund_past_the_wallet_ceiling_is_paid_in_full(deal, settings):
    settings.NEIGHBORBID = {**settings.NEIGHBORBID, "WALLET_MAX": 10_000}
    trade = trade_refund(trade_id=deal.trade.pk, actor=deal.seller)
    assert trade.buyer_refund == 20_000
    assert wallet_of(deal.buyer) == (100_000, 0)
    assert_books_balance()


def test_a_local_buyer_may_confirm_before_the_seller_marks_it(deal):
    trade_confirm(trade_id=deal.trade.pk, actor=deal.buyer)
    assert wallet_of(deal.seller) == (20_000, 0)
    assert_books_balance()


def test_a_parcel_buyer_confirms_only_after_the_seller_shipped(national):
    # given: a 택배 trade not shipped yet; when: the buyer confirms; then: refused, nothing moved
    refused(TradeStateError, trade_confirm, trade_id=national.trade.pk, actor=national.buyer)
    # when: the seller ships; then: the buyer's 구매확정 pays the seller
    trade_mark_shipped(
        trade_id=national.trade.pk, actor=national.seller, carrier="우체국", tracking_number="1234567890"
    )
    trade_confirm(trade_id=national.trade.pk, actor=national.buyer)
    assert wallet_of(national.seller) == (30_000, 0)
    assert_books_balance()


def test_confirm_is_refused_for_others_twice_disputed_and_refunded(deal):
    refused(PermissionDenied, trade_confirm, trade_id=deal.trade.pk, actor=deal.seller)
    refused(PermissionDenied, trade_confirm, trade_id=deal.trade.pk, actor=deal.stranger)
    moderator = make_moderator()
    refused(PermissionDenied, trade_confirm, trade_id=deal.trade.pk, actor=moderator)
    second = local_deal()
    disputed(second)
    refused(TradeStateError, trade_confirm, trade_id=second.trade.pk, actor=second.buyer)
    trade_confirm(trade_id=deal.trade.pk, actor=deal.buyer)
    refused(TradeStateError, trade_confirm, trade_id=deal.trade.pk, actor=deal.buyer)
    third = local_deal()
    trade_refund(trade_id=third.trade.pk, actor=third.seller)
    refused(TradeStateError, trade_confirm, trade_id=third.trade.pk, actor=third.buyer)


# --- the seller refunds ----------------------------------------------------------------------


def test_seller_refunds_any_time_before_completion(deal, national):
    trade = trade_refund(trade_id=deal.trade.pk, actor=deal.seller)
    assert (trade.status, trade.buyer_refund, trade.seller_payout) == ("refunded", 20_000, 0)
    assert wallet_of(deal.buyer) == (100_000, 0)
    assert wallet_of(deal.seller) == (0, 0)
    assert "20,000원이 지갑으로 돌아왔어요" in notes(deal.buyer, "trade_refunded")[0]
    # also after shipping, and while disputed
    trade_mark_shipped(trade_id=national.trade.pk, actor=national.seller, carrier="a", tracking_number="1")
    disputed(national)
    trade = trade_refund(trade_id=national.trade.pk, actor=national.seller)
    assert trade.status == "refunded" and trade.resolved_at is not None
    assert wallet_of(national.buyer) == (100_000, 0)
    assert_books_balance()


def test_refund_is_refused_for_the_buyer_others_and_after_completion(deal):
    refused(PermissionDenied, trade_refund, trade_id=deal.trade.pk, actor=deal.buyer)
    refused(PermissionDenied, trade_refund, trade_id=deal.trade.pk, actor=deal.stranger)
    trade_confirm(trade_id=deal.trade.pk, actor=deal.buyer)
    refused(TradeStateError, trade_refund, trade_id=deal.trade.pk, actor=deal.seller)


def test_a_suspended_seller_may_still_refund(deal):
    user_suspend(user_id=deal.seller.pk, staff_user=make_user(is_superuser=True, is_staff=True), reason="사기 의심")
    trade_refund(trade_id=deal.trade.pk, actor=deal.seller)
    assert wallet_of(deal.buyer) == (100_000, 0)
    assert_books_balance()


# --- disputes --------------------------------------------------------------------------------


def test_buyer_opens_a_dispute_with_photos(deal, django_capture_on_commit_callbacks):
    trade_mark_handed_over(trade_id=deal.trade.pk, actor=deal.seller)
    with django_capture_on_commit_callbacks(execute=True):
        trade = trade_dispute_open(
            trade_id=deal.trade.pk, actor=deal.buyer, reason="  고장 나 있어요 ", photos=[jpeg()]
        )
    assert (trade.status, trade.dispute_reason, trade.auto_release_at) == ("disputed", "고장 나 있어요", None)
    photo = TradeDisputePhoto.objects.get(trade=trade)
    assert photo.image.name.startswith(f"trades/{trade.pk}/") and default_storage.exists(photo.image.name)
    assert "고장 나 있어요" in notes(deal.seller, "trade_disputed")[0]
    assert wallet_of(deal.seller) == (0, 0)
    assert trades_needing_action_count(user_id=deal.buyer.pk) == 0
    assert_books_balance()


def test_dispute_is_refused_for_the_seller_blank_bad_photos_twice_and_after_completion(deal):
    refused(PermissionDenied, trade_dispute_open, trade_id=deal.trade.pk, actor=deal.seller, reason="x")
    refused(InvalidRequest, trade_dispute_open, trade_id=deal.trade.pk, actor=deal.buyer, reason="   ")
    refused(InvalidRequest, trade_dispute_open, trade_id=deal.trade.pk, actor=deal.buyer, reason="x" * 1001)
    bad = SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")
    refused(InvalidImage, trade_dispute_open, trade_id=deal.trade.pk, actor=deal.buyer, reason="x", photos=[bad])
    refused(
        InvalidRequest, trade_dispute_open, trade_id=deal.trade.pk, actor=deal.buyer, reason="x", photos=[jpeg()] * 6
    )
    disputed(deal)
    refused(TradeStateError, trade_dispute_open, trade_id=deal.trade.pk, actor=deal.buyer, reason="again")
    other = local_deal()
    trade_confirm(trade_id=other.trade.pk, actor=other.buyer)
    refused(TradeStateError, trade_dispute_open, trade_id=other.trade.pk, actor=other.buyer, reason="x")


@pytest.mark.parametrize(
    ("outcome", "buyer_amount", "buyer_gets", "seller_gets"),
    [("refunded", None, 20_000, 0), ("released", None, 0, 20_000), ("split", 7_000, 7_000, 13_000)],
)
def test_moderator_resolves_a_dispute(deal, outcome, buyer_amount, buyer_gets, seller_gets):
    disputed(deal)
    moderator = make_moderator()
    trade = trade_dispute_resolve(
        trade_id=deal.trade.pk, staff_user=moderator, outcome=outcome, buyer_amount=buyer_amount, memo="사진 확인"
    )
    assert (trade.status, trade.buyer_refund, trade.seller_payout) == (outcome, buyer_gets, seller_gets)
    assert (trade.resolved_by_id, trade.resolution_memo) == (moderator.pk, "사진 확인")
    assert wallet_of(deal.buyer) == (80_000 + buyer_gets, 0)
    assert wallet_of(deal.seller) == (seller_gets, 0)
    assert LedgerEntry.objects.filter(trade=trade, staff_user=moderator).count() == (2 if outcome == "split" else 1)
    assert notes(deal.buyer, "trade_resolved") and notes(deal.seller, "trade_resolved")
    assert_books_balance()


def test_resolution_is_refused_without_permission_reason_or_a_valid_split(deal):
    disputed(deal)
    moderator = make_moderator()
    kw = {"trade_id": deal.trade.pk}
    refused(PermissionDenied, trade_dispute_resolve, staff_user=deal.stranger, outcome="refunded", memo="x", **kw)
    refused(InvalidRequest, trade_dispute_resolve, staff_user=moderator, outcome="refunded", memo=" ", **kw)
    refused(InvalidRequest, trade_dispute_resolve, staff_user=moderator, outcome="completed", memo="x", **kw)
    refused(
        InvalidRequest, trade_dispute_resolve, staff_user=moderator, outcome="refunded", buyer_amount=5, memo="x", **kw
    )
    for amount in (0, 20_000, -1, 25_000):
        refused(
            InvalidAmount,
            trade_dispute_resolve,
            staff_user=moderator,
            outcome="split",
            buyer_amount=amount,
            memo="x",
            **kw,
        )
    for amount in (None, 1.5, "7000", True):
        refused(
            InvalidAmount,
            trade_dispute_resolve,
            staff_user=moderator,
            outcome="split",
            buyer_amount=amount,
            memo="x",
            **kw,
        )
    # a moderator never decides a trade they are part of
    own = local_deal()
    party = make_moderator()
    own.buyer.groups.add(*party.groups.all())
    disputed(own)
    refused(
        PermissionDenied,
        trade_dispute_resolve,
        trade_id=own.trade.pk,
        staff_user=own.buyer,
        outcome="refunded",
        memo="x",
    )
    # only disputed trades
    fresh = local_deal()
    refused(
        TradeStateError,
        trade_dispute_resolve,
        trade_id=fresh.trade.pk,
        staff_user=moderator,
        outcome="refunded",
        memo="x",
    )
    trade_dispute_resolve(staff_user=moderator, outcome="refunded", memo="x", **kw)
    refused(TradeStateError, trade_dispute_resolve, staff_user=moderator, outcome="released", memo="x", **kw)


# --- the automatic release -------------------------------------------------------------------


def test_a_marked_trade_completes_automatically_once(deal):
    trade_mark_handed_over(trade_id=deal.trade.pk, actor=deal.seller)
    assert trades_auto_release_due() == 0  # not yet due
    make_due(deal.trade)
    assert trades_auto_release_due() == 1
    assert (deal.fresh().status, wallet_of(deal.seller)) == ("completed", (20_000, 0))
    assert notes(deal.buyer, "trade_completed") and notes(deal.seller, "trade_completed")
    assert trades_auto_release_due() == 0
    assert_books_balance()


def test_an_unmarked_trade_is_refunded_to_the_buyer_after_the_grace_period(deal):
    assert trades_auto_release_due(now=timezone.now() + 9 * DAY) == 0
    assert trades_auto_release_due(now=timezone.now() + 10 * DAY + timedelta(minutes=1)) == 1
    assert deal.fresh().status == "refunded"
    assert wallet_of(deal.buyer) == (100_000, 0) and wallet_of(deal.seller) == (0, 0)
    assert notes(deal.seller, "trade_refunded")
    assert_books_balance()


def test_disputed_and_finished_trades_never_auto_release(deal):
    disputed(deal)
    assert trades_auto_release_due(now=timezone.now() + 365 * DAY) == 0
    other = local_deal()
    trade_confirm(trade_id=other.trade.pk, actor=other.buyer)
    before = world()
    assert trades_auto_release_due(now=timezone.now() + 365 * DAY) == 0
    assert world() == before
    assert deal.fresh().status == "disputed"


def test_the_worker_runs_the_trade_step(deal):
    trade_mark_handed_over(trade_id=deal.trade.pk, actor=deal.seller)
    make_due(deal.trade)
    assert worker_run_once().trades == 1
    assert deal.fresh().status == "completed"
    assert worker_run_once().trades == 0


@pytest.mark.django_db(transaction=True)  # the worker closes its connection after a failure
def test_one_trade_that_fails_is_held_back_and_the_worker_goes_on_with_the_others(monkeypatch, caplog):
    from auctions.worker import WorkerState, worker_run_once
    from tests.trades.conftest import local_deal
    from trades import services as trade_services

    # given: two due trades; releasing the first raises a bug that is not the database's
    bad, good = local_deal(), local_deal()
    for d in (bad, good):
        trade_mark_handed_over(trade_id=d.trade.pk, actor=d.seller)
        make_due(d.trade)
    real = trade_services.trade_auto_release
    calls: list[int] = []

    def release(*, trade_id, now=None):
        calls.append(trade_id)
        if trade_id == bad.trade.pk:
            raise KeyError("bad data in this one trade")
        return real(trade_id=trade_id, now=now)

    monkeypatch.setattr(trade_services, "trade_auto_release", release)
    state = WorkerState()

    # when: the worker passes twice
    first = worker_run_once(state=state)
    second = worker_run_once(state=state)

    # then: the good trade completed, the bad one was tried once, logged and held back
    assert good.fresh().status == "completed" and bad.fresh().status == "handed_over"
    assert first.trades == 1 and first.errors == 1
    assert calls.count(bad.trade.pk) == 1 and second.errors == 0
    assert f"failed for trade {bad.trade.pk}" in caplog.text and "held back" in caplog.text
    assert_books_balance()
