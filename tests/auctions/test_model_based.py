"""A Hypothesis stateful test: random sequences of deposits, withdrawals, bids, buy-nows,
settlements, cancellations and the trades after a sale (hand-over / shipping, 구매확정, seller
refunds, disputes and their resolution, the automatic release) run against the real services
and against a small pure-Python model of wallets, auctions and trades. After every step the
database must equal the model, and the audit must pass."""

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
    MaximumNotRaised,
    PermissionDenied,
    TradeStateError,
    UseBuyNow,
)
from tests.factories import make_auction, make_moderator, make_user, rid, set_end
from tests.money import server_decisions
from trades.models import Trade
from trades.services import (
    trade_confirm,
    trade_dispute_open,
    trade_dispute_resolve,
    trade_mark_handed_over,
    trade_mark_shipped,
    trade_refund,
    trades_auto_release_due,
)
from wallets.models import Wallet
from wallets.services import wallet_deposit, wallet_withdraw

OPEN_TRADE = ("awaiting_handover", "shipped", "handed_over", "disputed")

pytestmark = pytest.mark.django_db


@dataclass
class ModelAuction:
    pk: int
    start: int
    buy_now: int | None
    price: int
    leader: int | None = None
    leader_max: int = 0  # what the leader's wallet holds: their whole maximum
    bids: int = 0
    status: str = "open"
    national: bool = False

    def minimum(self) -> int:
        return self.price if self.leader is None else self.price + bid_increment(self.price)


@dataclass
class ModelTrade:
    pk: int
    buyer: int
    amount: int
    national: bool
    status: str = "awaiting_handover"


@dataclass
class Model:
    wallets: dict[int, list[int]] = field(default_factory=dict)  # user id -> [balance, locked]
    auctions: dict[int, ModelAuction] = field(default_factory=dict)
    trades: list[ModelTrade] = field(default_factory=list)


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
        for start, buy_now, national in [(10_000, None, False), (5_000, 60_000, False), (8_000, 40_000, True)]:
            a = make_auction(seller=self.seller, start_price=start, buy_now_price=buy_now, is_national=national)
            self.model.auctions[a.pk] = ModelAuction(
                pk=a.pk, start=start, buy_now=buy_now, price=start, national=national
            )

    def sold(self, a: ModelAuction) -> None:
        """A sale: the buyer's money is in the new trade's escrow; the seller is not paid yet."""
        trade = Trade.objects.get(auction_id=a.pk)
        self.model.trades.append(ModelTrade(pk=trade.pk, buyer=a.leader, amount=a.price, national=a.national))

    def trade_at(self, which: int) -> ModelTrade | None:
        return self.model.trades[which % len(self.model.trades)] if self.model.trades else None

    def pay_seller(self, t: ModelTrade, amount: int) -> None:
        self.model.wallets[self.seller.pk][0] += amount

    def pay_buyer(self, t: ModelTrade, amount: int) -> None:
        self.model.wallets[t.buyer][0] += amount

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

    @rule(
        who=st.integers(0, 2),
        which=st.integers(0, 2),
        step=st.sampled_from([-500, 0, 0, 700, 4_000, 40_000]),
        extra=st.sampled_from([0, 0, 1_000, 2_500, 15_000]),
    )
    def bid(self, who, which, step, extra):
        """A bid with a maximum (extra 0: a plain bid). The model states the second-price rule
        on its own: the highest maximum leads at one step above the second (capped at its
        maximum, never below the amount typed); the leader's whole maximum is held; a leader
        who bids again raises their maximum, never their price."""
        user = self.users[who]
        a = list(self.model.auctions.values())[which]
        amount = max(1, a.minimum() + step)
        top = amount + extra
        leading = a.leader == user.pk
        needed = top - a.leader_max if leading else top
        if a.status != "open":
            error = AuctionNotOpen
        elif leading and top <= a.leader_max:
            error = MaximumNotRaised
        elif not leading and amount < a.minimum():
            error = BidTooLow
        elif a.buy_now is not None and top >= a.buy_now:
            error = UseBuyNow
        elif self.model.wallets[user.pk][0] < needed:
            error = InsufficientFunds
        else:
            error = None
        self.expect(
            error,
            lambda: bid_place(
                auction_id=a.pk, actor=user, amount=amount, max_amount=top if extra else None, request_id=rid()
            ),
        )
        if error is not None:
            return
        wallets = self.model.wallets
        if leading:  # a higher maximum: only the difference is held
            wallets[user.pk][0] -= needed
            wallets[user.pk][1] += needed
            a.leader_max = top
        elif a.leader is None:
            wallets[user.pk][0] -= top
            wallets[user.pk][1] += top
            a.price, a.leader, a.leader_max = amount, user.pk, top
        elif top > a.leader_max:  # takes the lead; the old maximum comes back whole
            wallets[a.leader][0] += a.leader_max
            wallets[a.leader][1] -= a.leader_max
            wallets[user.pk][0] -= top
            wallets[user.pk][1] += top
            a.price = max(amount, min(a.leader_max + bid_increment(a.leader_max), top))
            a.leader, a.leader_max = user.pk, top
        else:  # the leader's maximum answers at once; no money moves
            a.price = a.leader_max if top == a.leader_max else min(top + bid_increment(top), a.leader_max)

    @rule(who=st.integers(0, 2), step=st.sampled_from([-500, 0, 0, 700, 4_000]))
    def plain_bid_on_the_live_auction(self, who, step):
        """A plain bid on the national auction: the bid PostgreSQL decides itself in one call
        (nb_bid_decide) on the in-server path, so that path meets every state the others do."""
        self.bid(who, 2, step, 0)

    @rule(who=st.integers(0, 2), which=st.integers(0, 2))
    def buy_now(self, who, which):
        user = self.users[who]
        a = list(self.model.auctions.values())[which]
        held = a.leader_max if a.leader == user.pk else 0
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
                self.model.wallets[a.leader][0] += a.leader_max
                self.model.wallets[a.leader][1] -= a.leader_max
            self.model.wallets[user.pk][0] -= a.buy_now - held
            self.model.wallets[user.pk][1] -= held
            a.price, a.leader, a.status = a.buy_now, user.pk, "sold"
            self.sold(a)

    @rule(which=st.integers(0, 2))
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
            # the price goes to the trade's escrow, the rest of the maximum back to the winner
            self.model.wallets[a.leader][1] -= a.leader_max
            self.model.wallets[a.leader][0] += a.leader_max - a.price
            a.status = "sold"
            self.sold(a)
        else:
            a.status = "unsold"

    @rule(which=st.integers(0, 2))
    def staff_cancels(self, which):
        a = list(self.model.auctions.values())[which]
        error = AuctionNotOpen if a.status != "open" else None
        self.expect(error, lambda: auction_cancel(auction_id=a.pk, actor=self.staff, reason="테스트"))
        if error is None:
            if a.leader is not None:
                self.model.wallets[a.leader][0] += a.leader_max
                self.model.wallets[a.leader][1] -= a.leader_max
            a.status = "cancelled"

    # --- trades ------------------------------------------------------------------------------

    @rule(which=st.integers(0, 5), right_kind=st.booleans())
    def seller_marks(self, which, right_kind):
        t = self.trade_at(which)
        if t is None:
            return
        shipped = t.national if right_kind else not t.national
        error = None if t.status == "awaiting_handover" and shipped == t.national else TradeStateError
        if shipped:
            action = lambda: trade_mark_shipped(  # noqa: E731
                trade_id=t.pk, actor=self.seller, carrier="우체국택배", tracking_number="123-456"
            )
        else:
            action = lambda: trade_mark_handed_over(trade_id=t.pk, actor=self.seller)  # noqa: E731
        self.expect(error, action)
        if error is None:
            t.status = "shipped" if shipped else "handed_over"

    @rule(which=st.integers(0, 5), by_buyer=st.booleans())
    def buyer_confirms(self, which, by_buyer):
        t = self.trade_at(which)
        if t is None:
            return
        actor = next(u for u in self.users if u.pk == t.buyer) if by_buyer else self.staff
        if not by_buyer:
            error = PermissionDenied
        elif t.status not in ("awaiting_handover", "shipped", "handed_over"):
            error = TradeStateError
        elif t.national and t.status == "awaiting_handover":
            error = TradeStateError  # 택배: 구매확정 only after the seller shipped
        else:
            error = None
        self.expect(error, lambda: trade_confirm(trade_id=t.pk, actor=actor))
        if error is None:
            t.status = "completed"
            self.pay_seller(t, t.amount)

    @rule(which=st.integers(0, 5))
    def seller_refunds(self, which):
        t = self.trade_at(which)
        if t is None:
            return
        error = None if t.status in OPEN_TRADE else TradeStateError
        self.expect(error, lambda: trade_refund(trade_id=t.pk, actor=self.seller))
        if error is None:
            t.status = "refunded"
            self.pay_buyer(t, t.amount)

    @rule(which=st.integers(0, 5))
    def buyer_disputes(self, which):
        t = self.trade_at(which)
        if t is None:
            return
        buyer = next(u for u in self.users if u.pk == t.buyer)
        error = None if t.status in ("awaiting_handover", "shipped", "handed_over") else TradeStateError
        self.expect(error, lambda: trade_dispute_open(trade_id=t.pk, actor=buyer, reason="물건이 달라요"))
        if error is None:
            t.status = "disputed"

    @rule(which=st.integers(0, 5), outcome=st.sampled_from(["refunded", "released", "split"]), part=st.integers(1, 3))
    def moderator_resolves(self, which, outcome, part):
        t = self.trade_at(which)
        if t is None:
            return
        buyer_amount = t.amount * part // 4 if outcome == "split" else None
        error = None if t.status == "disputed" else TradeStateError
        self.expect(
            error,
            lambda: trade_dispute_resolve(
                trade_id=t.pk, staff_user=self.staff, outcome=outcome, buyer_amount=buyer_amount, memo="확인함"
            ),
        )
        if error is None:
            t.status = outcome
            if outcome == "refunded":
                self.pay_buyer(t, t.amount)
            elif outcome == "released":
                self.pay_seller(t, t.amount)
            else:
                self.pay_buyer(t, buyer_amount)
                self.pay_seller(t, t.amount - buyer_amount)

    @rule(which=st.integers(0, 5))
    def trade_deadline_passes(self, which):
        t = self.trade_at(which)
        if t is None:
            return
        Trade.objects.filter(pk=t.pk, auto_release_at__isnull=False).update(
            auto_release_at=timezone.now() - timedelta(seconds=1)
        )
        done = trades_auto_release_due()
        if t.status == "awaiting_handover":  # never marked: back to the buyer
            t.status = "refunded"
            self.pay_buyer(t, t.amount)
        elif t.status in ("shipped", "handed_over"):  # marked, no dispute: to the seller
            t.status = "completed"
            self.pay_seller(t, t.amount)
        else:  # disputed or finished: the worker never touches it
            assert done == 0
            return
        assert done == 1

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
        real_trades = dict(Trade.objects.filter(auction_id__in=self.model.auctions).values_list("id", "status"))
        assert real_trades == {t.pk: t.status for t in self.model.trades}

    @invariant()
    def books_balance(self):
        report = audit_ledger()
        assert report.ok, report.lines()


@pytest.mark.parametrize("path", ["in-server", "compare-and-set", "locked"])
def test_services_agree_with_the_model(path, monkeypatch):
    # a plain bid on a live auction is decided inside PostgreSQL in one call (nb_bid_decide),
    # every other by compare-and-set, and by the locked transaction after conflicts (issue 19):
    # the model holds all three to the same rules
    from auctions.services import bidding

    monkeypatch.setattr(bidding, "SQL_DECIDE", path == "in-server")
    if path == "locked":
        monkeypatch.setattr(bidding, "CAS_ATTEMPTS", 0)
    decided = server_decisions(monkeypatch)  # what the plain bids sent to PostgreSQL came to
    run_state_machine_as_test(
        MarketMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
    # the in-server run really let PostgreSQL decide (and only it asked)
    if path == "in-server":
        assert "accepted" in decided
    else:
        assert not decided
