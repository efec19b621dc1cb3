"""After-commit side effects never turn a committed write into an error (neighborbid/commit.py).
Found by the fan-out bench: a failing push-outbox INSERT, a functools.partial, made Django's
robust on_commit raise AttributeError while logging it, so an accepted bid answered
server_error (the compare-and-set bid runs its callbacks at once, in autocommit)."""

from __future__ import annotations

import functools
import logging

import pytest
from django.db import transaction

from auctions.models import Bid
from auctions.services import bid_place
from neighborbid.commit import on_commit_robust
from notifications import services as notification_services
from tests.factories import make_auction, make_user, rid

pytestmark = pytest.mark.django_db(transaction=True)


def _fails(what: str) -> None:
    raise RuntimeError(what)


def test_a_failing_callback_is_logged_not_raised_in_autocommit_and_in_a_transaction(caplog):
    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"):
        on_commit_robust(_fails, "at once")  # autocommit: runs now
        with transaction.atomic():
            on_commit_robust(_fails, "after commit")
    messages = [r.getMessage() for r in caplog.records]
    assert any("_fails" in m and "at once" in m for m in messages), messages
    assert any("_fails" in m and "after commit" in m for m in messages), messages


def test_the_control_djangos_robust_on_commit_with_a_partial_raises():
    # what on_commit_robust exists for: this is the defect it removes
    with pytest.raises(AttributeError):
        transaction.on_commit(functools.partial(_fails, "x"), robust=True)


def test_a_bid_is_accepted_when_the_push_outbox_insert_fails(monkeypatch):
    # given a push outbox that cannot be written (a missing column, a full disk)
    monkeypatch.setattr(notification_services, "_push_jobs_insert", lambda ids: _fails("outbox down"))
    auction = make_auction(start_price=10_000, is_national=True)
    first, second = make_user(balance=50_000), make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=rid())
    # when an outbid writes a notification (and so an outbox row after commit)
    result = bid_place(auction_id=auction.pk, actor=second, amount=11_000, request_id=rid())
    # then the bid stands and was answered as accepted
    assert result.leading and Bid.objects.filter(bidder=second).count() == 1
