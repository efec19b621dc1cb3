"""Regressions from a review of the money path: each test failed before its fix (commit message says which)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import User
from accounts.services import user_suspend
from auctions.models import Auction
from auctions.services import auction_buy_now, bid_place
from auctions.worker import worker_run_once
from neighborbid.errors import DuplicateRequest
from realtime import layer
from tests.factories import make_auction, make_moderator, make_user, rid
from tests.money import assert_books_balance, wallet_of, world

pytestmark = pytest.mark.django_db


def test_replaying_a_committed_bid_after_suspension_returns_the_first_outcome():
    # A bid commits; its answer is lost (server_error); the bidder is then suspended and the
    # client resends the SAME request id, as docs/protocol.md tells it to.
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    request_id = rid()
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=request_id)
    user_suspend(user_id=bidder.pk, staff_user=make_moderator(), reason="사기 의심")
    # The promise: "the same id again returns the first outcome"; an `error` frame means
    # "refused; nothing changed" — but the bid stands and 10,000 won stay locked.
    result = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=request_id)
    assert result.duplicate is True
    assert wallet_of(bidder) == (40_000, 10_000)


def test_buy_now_request_id_reused_on_another_auction_is_refused_not_a_second_purchase():
    # "the same id with another amount or auction is refused (duplicate_request). Buy-now
    # stores its request id on the auction for the same purpose." (docs/architecture.md)
    seller = make_user()
    first = make_auction(seller=seller, start_price=10_000, buy_now_price=20_000)
    second = make_auction(seller=seller, start_price=10_000, buy_now_price=20_000)
    buyer = make_user(balance=50_000)
    request_id = rid()
    auction_buy_now(auction_id=first.pk, actor=buyer, request_id=request_id)
    with pytest.raises(DuplicateRequest):
        auction_buy_now(auction_id=second.pk, actor=buyer, request_id=request_id)
    assert wallet_of(buyer) == (30_000, 0)


def test_suspension_by_a_staff_user_with_only_the_suspend_permission_hides_live_listings():
    # accounts.suspend_user is its own permission (accounts/roles.py); user_suspend promises to
    # hide and refund the user's live listings, but auction_hide demands moderate_auction and
    # the PermissionDenied is swallowed as "ended meanwhile".
    staff = make_user(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="suspend_user"))
    staff = User.objects.get(pk=staff.pk)
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000)
    bidder = make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())

    hidden = user_suspend(user_id=seller.pk, staff_user=staff, reason="사기 의심")

    auction.refresh_from_db()
    assert (hidden, auction.is_hidden, auction.status) == (1, True, Auction.Status.CANCELLED)
    assert wallet_of(bidder) == (50_000, 0)


def test_a_scheduled_auction_whose_whole_window_passed_is_settled_by_the_worker():
    # If the worker was down for the whole window, auction_open declines ("settlement takes
    # it") but auctions_due_to_settle only selects status=open: the auction stays "scheduled"
    # (live) forever.
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000, starts_at=timezone.now() + timedelta(minutes=5))
    assert auction.status == Auction.Status.SCHEDULED
    now = timezone.now()
    Auction.objects.filter(pk=auction.pk).update(
        starts_at=now - timedelta(hours=3), ends_at=now - timedelta(hours=1), original_ends_at=now - timedelta(hours=1)
    )
    worker_run_once()
    auction.refresh_from_db()
    assert auction.status == Auction.Status.UNSOLD
    assert_books_balance()


def test_suspension_pushes_the_suspended_notification_to_the_users_sockets(
    monkeypatch, django_capture_on_commit_callbacks
):
    # docs/protocol.md: notification `kind` includes `suspended`, "to every open socket of that
    # user". user_suspend writes the Notification row but registers no push.
    # (personal events go through the channel layer's group user.<id>: realtime.events)
    user = make_user()
    with django_capture_on_commit_callbacks() as callbacks:
        user_suspend(user_id=user.pk, staff_user=make_moderator(), reason="사기 의심")
    kinds = [
        cb.args[1].get("kind")
        for cb in callbacks
        if getattr(cb, "func", None) is layer.send_event and cb.args[0] == [layer.user_group(user.pk)]
    ]
    assert "suspended" in kinds


def test_twin_with_another_amount_that_commits_during_the_request_is_a_duplicate_request(monkeypatch):
    # Interleaving: request A (id r, 20,000) is in flight when its twin B (id r, 15,000)
    # arrives; B's repeat check (bid_place line 319) runs before A commits, then A commits.
    # B's early too-low check finds the twin with another amount and still answers
    # bid_too_low instead of duplicate_request.
    from auctions.services import bidding as services

    auction = make_auction(start_price=10_000, is_national=True)
    other = make_user(balance=50_000)
    bidder = make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=other, amount=10_000, request_id=rid())
    request_id = rid()
    bid_place(auction_id=auction.pk, actor=bidder, amount=20_000, request_id=request_id)  # twin A, committed

    real = services._earlier_bid
    calls = {"n": 0}

    def earlier_bid(**kwargs):
        calls["n"] += 1
        return None if calls["n"] == 1 else real(**kwargs)  # the first look ran before A committed

    monkeypatch.setattr(services, "_earlier_bid", earlier_bid)
    before = world()
    with pytest.raises(DuplicateRequest):
        bid_place(auction_id=auction.pk, actor=bidder, amount=15_000, request_id=request_id)
    assert world() == before
