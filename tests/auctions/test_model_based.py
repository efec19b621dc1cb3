"""A Hypothesis stateful test: random sequences of deposits, withdrawals, bids, buy-nows,
settlements and cancellations run against the real services and against a small pure-Python
model of wallets and auctions. After every step the database must equal the model, and the
audit must pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from auctions.audit import audit_ledger
from auctions.models import Auction
from auctions.rules import bid_increment
from auctions.services import auction_buy_now, auction_cancel, auction_settle, bid_place
from neighborbid.errors import (
    AuctionNotOpen,
    BidTooLow,
    BuyNowUnavailable,
    InsufficientFunds,
    LimitExceeded,
    UseBuyNow,
)
from tests.factories import make_auction, make_moderator, make_user, rid, set_end
from wallets.models import Wallet
from wallets.services import wallet_deposit, wallet_withdraw

pytestmark = pytest.mark.django_db


@dataclass
class ModelAuction:
    pk: int
    start: int
    buy_now: int | None
    price: int
    leader: int | None = None
    bids: int = 0
    status: str = "open"

    def minimum(self) -> int:
        return self.price if self.leader is None else self.price + bid_increment(self.price)


@dataclass
class Model:
    wallets: dict[int, list[int]] = field(default_factory=dict)  # user id -> [balance, locked]
    auctions: dict[int, ModelAuction] = field(default_factory=dict)


class MarketMachine(RuleBasedStateMachine):
    @initialize()
    def market(self):
        self.model = Model()
        self.seller = make_user()
        self.staff = make_moderator()
        self.users = [make_user(balance=100_000) for _ in range(3)]
        self.model.wallets = {u.pk: [100_000, 0] for u in self.users}
        self.model.wallets[self.seller.pk] = [0, 0]
        self.model.wallets[self.staff.pk] = [0, 0]
        for start, buy_now in [(10_000, None), (5_000, 60_000)]:
            a = make_auction(seller=self.seller, start_price=start, buy_now_price=buy_now)
            self.model.auctions[a.pk] = ModelAuction(pk=a.pk, start=start, buy_now=buy_now, price=start)

    def expect(self, error, action):
        """Run the real action; the model says which DomainError (or None) to expect."""
        if error is None:
            action()
        else:
            with pytest.raises(error):
                action()

    # --- rules -----------------------------------------------------------------------------

    @rule(who=st.integers(0, 2), amount=st.sampled_from([500, 1_000, 30_000, 20_000_000]))
    def deposit(self, who, amount):
        user = self.users[who]
        error = LimitExceeded if amount < 1_000 or amount > 10_000_000 else None
        self.expect(error, lambda: wallet_deposit(actor=user, amount=amount))
        if error is None:
            self.model.wallets[user.pk][0] += amount

    @rule(who=st.integers(0, 2), amount=st.sampled_from([1_000, 25_000, 150_000]))
    def withdraw(self, who, amount):
        user = self.users[who]
        error = InsufficientFunds if self.model.wallets[user.pk][0] < amount else None
        self.expect(error, lambda: wallet_withdraw(actor=user, amount=amount))
        if error is None:
            self.model.wallets[user.pk][0] -= amount

    @rule(who=st.integers(0, 2), which=st.integers(0, 1), step=st.sampled_from([-500, 0, 0, 700, 4_000, 40_000]))
    def bid(self, who, which, step):
        user = self.users[who]
        a = list(self.model.auctions.values())[which]
        amount = max(1, a.minimum() + step)
        raising = a.leader == user.pk
        needed = amount - a.price if raising else amount
        if a.status != "open":
            error = AuctionNotOpen
        elif amount < a.minimum():
            error = BidTooLow
        elif a.buy_now is not None and amount >= a.buy_now:
            error = UseBuyNow
        elif self.model.wallets[user.pk][0] < needed:
            error = InsufficientFunds
        else:
            error = None
        self.expect(error, lambda: bid_place(auction_id=a.pk, actor=user, amount=amount, request_id=rid()))
        if error is None:
            if a.leader is not None and not raising:
                self.model.wallets[a.leader][0] += a.price
                self.model.wallets[a.leader][1] -= a.price
            self.model.wallets[user.pk][0] -= needed
            self.model.wallets[user.pk][1] += needed
            a.price, a.leader, a.bids = amount, user.pk, a.bids + 1

    @rule(who=st.integers(0, 2), which=st.integers(0, 1))
    def buy_now(self, who, which):
        user = self.users[who]
        a = list(self.model.auctions.values())[which]
        held = a.price if a.leader == user.pk else 0
        if a.status != "open":
            error = AuctionNotOpen
        elif a.buy_now is None or a.price >= a.buy_now:
            error = BuyNowUnavailable
        elif self.model.wallets[user.pk][0] < a.buy_now - held:
            error = InsufficientFunds
        else:
            error = None
        self.expect(error, lambda: auction_buy_now(auction_id=a.pk, actor=user, request_id=rid()))
        if error is None:
            if a.leader is not None and a.leader != user.pk:
                self.model.wallets[a.leader][0] += a.price
                self.model.wallets[a.leader][1] -= a.price
            self.model.wallets[user.pk][0] -= a.buy_now - held
            self.model.wallets[user.pk][1] -= held
            self.model.wallets[self.seller.pk][0] += a.buy_now
            a.price, a.leader, a.status = a.buy_now, user.pk, "sold"

    @rule(which=st.integers(0, 1))
    def time_runs_out(self, which):
        a = list(self.model.auctions.values())[which]
        auction = Auction.objects.get(pk=a.pk)
        if a.status == "open":
            set_end(auction, timezone.now() - timedelta(seconds=1))
        result = auction_settle(auction_id=a.pk)
        if a.status != "open":
            assert result is None
            return
        assert result is not None
        if a.leader is not None:
            self.model.wallets[a.leader][1] -= a.price
            self.model.wallets[self.seller.pk][0] += a.price
            a.status = "sold"
        else:
            a.status = "unsold"

    @rule(which=st.integers(0, 1))
    def staff_cancels(self, which):
        a = list(self.model.auctions.values())[which]
        error = AuctionNotOpen if a.status != "open" else None
        self.expect(error, lambda: auction_cancel(auction_id=a.pk, actor=self.staff, reason="테스트"))
        if error is None:
            if a.leader is not None:
                self.model.wallets[a.leader][0] += a.price
                self.model.wallets[a.leader][1] -= a.price
            a.status = "cancelled"

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def database_equals_model(self):
        if not hasattr(self, "model"):
            return
        real = {w.user_id: [w.balance, w.locked_balance] for w in Wallet.objects.filter(user_id__in=self.model.wallets)}
        assert real == self.model.wallets
        for a in self.model.auctions.values():
            row = Auction.objects.get(pk=a.pk)
            assert (row.status, row.current_price, row.leader_id) == (a.status, a.price, a.leader)

    @invariant()
    def books_balance(self):
        report = audit_ledger()
        assert report.ok, report.lines()


def test_services_agree_with_the_model():
    run_state_machine_as_test(
        MarketMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
