"""Listing, opening, settlement, cancellation, early end, hiding, ending-soon warnings."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.services import user_suspend
from auctions.models import Auction, Watch
from auctions.services import (
    auction_cancel,
    auction_create,
    auction_end_early,
    auction_hide,
    auction_notify_ending_soon,
    auction_open,
    auction_settle,
    auction_update,
    bid_place,
)
from auctions.worker import worker_run_once
from neighborbid.errors import (
    AccountSuspended,
    AuctionNotOpen,
    HasBids,
    InvalidAmount,
    InvalidRequest,
    NotEligible,
    PermissionDenied,
)
from notifications.models import Notification
from tests.factories import make_auction, make_moderator, make_user, rid, set_end
from tests.money import assert_books_balance, wallet_of, world

pytestmark = pytest.mark.django_db


def unchanged(exc_type, service, **kwargs):
    before = world()
    with pytest.raises(exc_type):
        service(**kwargs)
    assert world() == before


# --- create / update ---------------------------------------------------------------------


def test_listing_opens_now_with_the_sellers_neighbourhood():
    seller = make_user()
    auction = auction_create(actor=seller, title=" 원목 의자 ", start_price=5_000, duration=timedelta(days=1))
    assert (auction.status, auction.title, auction.neighbourhood_id, auction.current_price) == (
        "open",
        "원목 의자",
        seller.neighbourhood_id,
        5_000,
    )
    assert auction.ends_at - auction.starts_at == timedelta(days=1) and auction.original_ends_at == auction.ends_at


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"title": ""}, InvalidRequest),
        ({"title": "x" * 101}, InvalidRequest),
        ({"start_price": 0}, InvalidAmount),
        ({"start_price": 99}, InvalidAmount),
        ({"start_price": 1000.5}, InvalidAmount),
        ({"buy_now_price": 5_000}, InvalidAmount),
        ({"duration": timedelta(minutes=59)}, InvalidRequest),
        ({"duration": timedelta(days=7, seconds=1)}, InvalidRequest),
        ({"category": "weapons"}, InvalidRequest),
    ],
)
def test_listing_validation(kwargs, error):
    seller = make_user()
    args = {"actor": seller, "title": "의자", "start_price": 5_000, "duration": timedelta(days=1)} | kwargs
    unchanged(error, auction_create, **args)


def test_unverified_seller_cannot_list_locally_but_can_list_nationally():
    seller = make_user(verified=False)
    unchanged(NotEligible, auction_create, actor=seller, title="의자", start_price=5_000, duration=timedelta(days=1))
    assert auction_create(
        actor=seller, title="한정판", start_price=5_000, duration=timedelta(days=1), is_national=True
    ).is_national


def test_suspended_seller_cannot_list():
    seller = make_user()
    User.objects.filter(pk=seller.pk).update(is_suspended=True)
    unchanged(
        AccountSuspended, auction_create, actor=seller, title="의자", start_price=5_000, duration=timedelta(days=1)
    )


def test_seller_edits_while_no_bids_then_not_after():
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000)
    auction_update(auction_id=auction.pk, actor=seller, title="새 제목", start_price=12_000)
    auction.refresh_from_db()
    assert (auction.title, auction.start_price, auction.current_price) == ("새 제목", 12_000, 12_000)
    bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=12_000, request_id=rid())
    unchanged(HasBids, auction_update, auction_id=auction.pk, actor=seller, title="또 바꿈")


def test_others_cannot_edit():
    auction = make_auction()
    unchanged(PermissionDenied, auction_update, auction_id=auction.pk, actor=make_user(), title="남의 것")


def test_edit_cannot_touch_money_fields():
    seller = make_user()
    auction = make_auction(seller=seller)
    unchanged(InvalidRequest, auction_update, auction_id=auction.pk, actor=seller, current_price=1)


# --- opening -----------------------------------------------------------------------------


def test_scheduled_auction_opens_when_its_start_comes():
    auction = make_auction(starts_at=timezone.now() + timedelta(minutes=5))
    assert auction_open(auction_id=auction.pk) is None
    Auction.objects.filter(pk=auction.pk).update(starts_at=timezone.now() - timedelta(seconds=1))
    opened = auction_open(auction_id=auction.pk)
    assert opened.status == "open" and opened.seq == 1


# --- settlement --------------------------------------------------------------------------


def test_settlement_moves_the_winners_hold_into_the_trades_escrow():
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000)
    loser, winner = make_user(balance=50_000), make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=loser, amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=winner, amount=20_000, request_id=rid())
    set_end(auction, timezone.now() - timedelta(seconds=1))
    settled = auction_settle(auction_id=auction.pk)
    assert (settled.status, settled.winner_id, settled.end_reason) == ("sold", winner.pk, "bids")
    assert wallet_of(winner) == (30_000, 0)
    assert wallet_of(loser) == (50_000, 0)
    # the seller is paid when the buyer confirms receipt, not at settlement
    assert wallet_of(seller) == (0, 0)
    trade = settled.trade
    assert (trade.buyer_id, trade.seller_id, trade.amount, trade.status) == (
        winner.pk,
        seller.pk,
        20_000,
        "awaiting_handover",
    )
    assert set(Notification.objects.filter(kind__in=["won", "sold"]).values_list("user_id", "kind")) == {
        (winner.pk, "won"),
        (seller.pk, "sold"),
    }
    sold = Notification.objects.get(kind="sold")
    assert "구매확정" in sold.message and "지갑에 들어왔어요" not in sold.message
    assert_books_balance()


def test_settlement_without_bids_ends_unsold():
    seller = make_user()
    auction = make_auction(seller=seller)
    set_end(auction, timezone.now() - timedelta(seconds=1))
    assert auction_settle(auction_id=auction.pk).status == "unsold"
    assert Notification.objects.get(user=seller).kind == "unsold"
    assert_books_balance()


def test_settlement_happens_once():
    auction = make_auction(start_price=10_000)
    bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())
    set_end(auction, timezone.now() - timedelta(seconds=1))
    assert auction_settle(auction_id=auction.pk) is not None
    before = world()
    assert auction_settle(auction_id=auction.pk) is None
    assert world() == before
    assert_books_balance()


def test_settlement_rereads_ends_at_so_a_soft_close_extension_is_respected():
    auction = make_auction(start_price=10_000)
    bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())
    # the worker saw it as due, but a late bid moved ends_at: the service re-reads it under the lock
    Auction.objects.filter(pk=auction.pk).update(ends_at=timezone.now() + timedelta(seconds=30))
    before = world()
    assert auction_settle(auction_id=auction.pk) is None
    assert world() == before


def test_worker_pass_opens_settles_and_warns():
    seller = make_user()
    due = make_auction(seller=seller, start_price=10_000)
    bid_place(auction_id=due.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())
    set_end(due, timezone.now() - timedelta(seconds=1))
    scheduled = make_auction(seller=seller, starts_at=timezone.now() + timedelta(minutes=1))
    Auction.objects.filter(pk=scheduled.pk).update(starts_at=timezone.now() - timedelta(seconds=1))
    soon = make_auction(seller=seller, minutes=5)
    watcher = make_user()
    Watch.objects.create(user=watcher, auction=soon)
    result = worker_run_once()
    assert (result.opened, result.settled, result.warned, result.errors) == (1, 1, 1, 0)
    assert Notification.objects.filter(user=watcher, kind="ending_soon").count() == 1
    # a second pass finds nothing to do and warns nobody twice
    again = worker_run_once()
    assert (again.opened, again.settled, again.warned) == (0, 0, 0)
    assert auction_notify_ending_soon(auction_id=soon.pk) == 0
    assert_books_balance()


# --- cancel / end early / hide / suspend -------------------------------------------------


def test_seller_cancels_without_bids():
    seller = make_user()
    auction = make_auction(seller=seller)
    cancelled = auction_cancel(auction_id=auction.pk, actor=seller)
    assert (cancelled.status, cancelled.end_reason) == ("cancelled", "cancelled")


def test_seller_cannot_cancel_or_end_early_with_bids():
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000)
    bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())
    unchanged(HasBids, auction_cancel, auction_id=auction.pk, actor=seller)
    unchanged(HasBids, auction_end_early, auction_id=auction.pk, actor=seller)


def test_stranger_cannot_cancel():
    auction = make_auction()
    unchanged(PermissionDenied, auction_cancel, auction_id=auction.pk, actor=make_user())


def test_staff_cancel_releases_the_leaders_hold():
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000)
    leader = make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=leader, amount=10_000, request_id=rid())
    staff = make_moderator()
    auction_cancel(auction_id=auction.pk, actor=staff, reason="판매 금지 물품")
    assert wallet_of(leader) == (50_000, 0)
    assert Notification.objects.filter(user=leader, kind="cancelled").exists()
    assert Notification.objects.filter(user=seller, kind="cancelled", message__contains="판매 금지 물품").exists()
    assert_books_balance()


def test_cancel_tells_everyone_with_a_stake_once():
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000)
    early, leader, watcher = make_user(balance=50_000), make_user(balance=50_000), make_user()
    bid_place(auction_id=auction.pk, actor=early, amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=early, amount=11_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=leader, amount=12_000, request_id=rid())
    Watch.objects.create(user=watcher, auction=auction)
    Watch.objects.create(user=leader, auction=auction)
    auction_cancel(auction_id=auction.pk, actor=make_moderator(), reason="중복 등록")
    cancelled = Notification.objects.filter(kind="cancelled")
    assert sorted(cancelled.values_list("user_id", flat=True)) == sorted([early.pk, leader.pk, watcher.pk, seller.pk])
    assert wallet_of(leader) == (50_000, 0) and wallet_of(early) == (50_000, 0)


def test_cancel_after_the_end_is_refused():
    seller = make_user()
    auction = make_auction(seller=seller)
    auction_end_early(auction_id=auction.pk, actor=seller)
    unchanged(AuctionNotOpen, auction_cancel, auction_id=auction.pk, actor=make_moderator())


def test_end_early_without_bids_ends_unsold():
    seller = make_user()
    auction = make_auction(seller=seller)
    ended = auction_end_early(auction_id=auction.pk, actor=seller)
    assert (ended.status, ended.end_reason) == ("unsold", "seller_ended")


def test_hide_cancels_a_live_listing_and_releases_holds():
    auction = make_auction(start_price=10_000)
    leader = make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=leader, amount=10_000, request_id=rid())
    hidden = auction_hide(auction_id=auction.pk, staff_user=make_moderator(), reason="신고 누적")
    assert (hidden.is_hidden, hidden.status, hidden.hidden_reason) == (True, "cancelled", "신고 누적")
    assert wallet_of(leader) == (50_000, 0)
    assert_books_balance()


def test_only_moderators_hide_or_cancel_others_listings():
    auction = make_auction()
    for someone in (make_user(), make_user(is_staff=True)):  # staff without the permission too
        unchanged(PermissionDenied, auction_hide, auction_id=auction.pk, staff_user=someone, reason="x")
        unchanged(PermissionDenied, auction_cancel, auction_id=auction.pk, actor=someone, reason="x")


def test_suspending_a_seller_hides_and_refunds_their_live_listings():
    seller = make_user()
    live = make_auction(seller=seller, start_price=10_000)
    other = make_auction(seller=seller)
    leader = make_user(balance=50_000)
    bid_place(auction_id=live.pk, actor=leader, amount=10_000, request_id=rid())
    hidden = user_suspend(user_id=seller.pk, staff_user=make_moderator(), reason="사기 신고")
    assert hidden == 2
    assert set(Auction.objects.filter(pk__in=[live.pk, other.pk]).values_list("is_hidden", "status")) == {
        (True, "cancelled")
    }
    assert wallet_of(leader) == (50_000, 0)
    seller.refresh_from_db()
    assert seller.is_suspended and seller.suspended_reason == "사기 신고"
    assert_books_balance()
