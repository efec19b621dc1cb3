"""audit_ledger finds what a plain sum would miss: escrow bugs, drift, double payouts."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from auctions.audit import audit_ledger
from auctions.models import Auction
from auctions.services import auction_settle, bid_place
from tests.factories import make_auction, make_user, rid, set_end
from wallets.models import LedgerEntry, Wallet

pytestmark = pytest.mark.django_db


@pytest.fixture
def market():
    """A small market with a live leader and a settled sale."""
    seller = make_user()
    live = make_auction(seller=seller, start_price=10_000)
    sold = make_auction(seller=seller, start_price=10_000)
    a, b = make_user(balance=100_000), make_user(balance=100_000)
    bid_place(auction_id=live.pk, actor=a, amount=10_000, request_id=rid())
    bid_place(auction_id=sold.pk, actor=b, amount=20_000, request_id=rid())
    set_end(sold, timezone.now() - timedelta(seconds=1))
    auction_settle(auction_id=sold.pk)
    return {"seller": seller, "live": live, "sold": sold, "a": a, "b": b}


def test_clean_books_pass(market, capsys):
    report = audit_ledger()
    assert report.ok, report.lines()
    # the sold auction's 20,000 won waits in its trade's escrow: on the platform, in no wallet
    assert report.escrow_held == 20_000
    assert report.total_held + report.escrow_held == report.external_net == 200_000
    call_command("audit_ledger")
    assert "OK" in capsys.readouterr().out


def test_escrow_bug_invisible_to_a_sum_is_found(market):
    # money moved from locked back to balance without a ledger entry: the sum is unchanged
    Wallet.objects.filter(user=market["a"]).update(balance=100_000, locked_balance=0)
    report = audit_ledger()
    assert not report.ok
    assert any("leads live auctions" in v for v in report.violations)
    assert any("ledger sums" in v for v in report.violations)
    with pytest.raises(CommandError):
        call_command("audit_ledger")


def test_locked_without_leading_is_found(market):
    # a leader change that forgot to release the previous hold
    Auction.objects.filter(pk=market["live"].pk).update(leader=market["b"])
    report = audit_ledger()
    assert any("leads live auctions" in v for v in report.violations)


def test_money_created_from_nothing_is_found(market):
    Wallet.objects.filter(user=market["seller"]).update(balance=999_999)
    report = audit_ledger()
    assert any("books:" in v for v in report.violations)


def _forge(wallet, *, kind, amount, **links):
    """A forged movement, recorded consistently in the wallet and its ledger."""
    Wallet.objects.filter(pk=wallet.pk).update(balance=wallet.balance + amount)
    LedgerEntry.objects.create(
        wallet=wallet,
        kind=kind,
        balance_delta=amount,
        locked_delta=0,
        balance_after=wallet.balance + amount,
        locked_after=wallet.locked_balance,
        **links,
    )


def test_a_direct_payout_of_a_traded_sale_is_found(market):
    # a sale_proceeds next to the trade (the old way of paying the seller, twice paid)
    _forge(Wallet.objects.get(user=market["seller"]), kind="sale_proceeds", amount=20_000, auction=market["sold"])
    report = audit_ledger()
    assert any("also paid directly" in v for v in report.violations)


def test_second_payout_of_a_trade_is_found(market):
    from trades.services import trade_confirm

    trade = trade_confirm(trade_id=market["sold"].trade.pk, actor=market["b"])
    assert audit_ledger().ok
    # a forged second release of the same trade
    _forge(
        Wallet.objects.get(user=market["seller"]),
        kind="trade_release",
        amount=20_000,
        auction=market["sold"],
        trade=trade,
    )
    report = audit_ledger()
    assert any("2 release(s)" in v for v in report.violations)
    assert any("escrow:" in v or "books:" in v for v in report.violations)


def test_a_trade_marked_finished_without_a_payout_is_found(market):
    from trades.models import Trade

    Trade.objects.filter(auction=market["sold"]).update(status="completed")
    report = audit_ledger()
    assert any("0 release(s)" in v for v in report.violations)
    assert any("escrow: the ledger holds 20000" in v for v in report.violations)


def test_old_sales_paid_directly_remain_valid_history():
    """Sales before trades: buyer charged by `purchase`, seller paid by `sale_proceeds`."""
    from django.db import transaction

    from wallets.locks import wallets_lock
    from wallets.services import Move, wallet_moves_apply

    seller, buyer = make_user(), make_user(balance=50_000)
    auction = make_auction(seller=seller, start_price=10_000)
    bid_place(auction_id=auction.pk, actor=buyer, amount=10_000, request_id=rid())
    with transaction.atomic():  # settle it the pre-trade way
        wallets = wallets_lock(user_ids=[buyer.pk, seller.pk])
        wallet_moves_apply(
            Move.capture(wallets[buyer.pk], held=10_000, auction=auction),
            Move.credit(wallets[seller.pk], amount=10_000, auction=auction),
        )
        Auction.objects.filter(pk=auction.pk).update(status="sold", winner=buyer, end_reason="bids")
    report = audit_ledger()
    assert report.ok, report.lines()
    assert report.escrow_held == 0


def test_winner_on_an_unsold_auction_is_found(market):
    Auction.objects.filter(pk=market["sold"].pk).update(status="unsold")
    report = audit_ledger()
    assert any("has a winner" in v for v in report.violations)


# --- issue 9 #14: the two invariants an independent audit checks ----------------------------------


def _tamper(sql: str, params: list) -> None:
    """Rewrite ledger history as a bug (or an intruder) would: the append-only trigger forbids
    UPDATE, so switch it off inside this test's transaction (rolled back with it)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending (deferred) trigger events
        cursor.execute("ALTER TABLE wallets_ledgerentry DISABLE TRIGGER wallets_ledger_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE wallets_ledgerentry ENABLE TRIGGER wallets_ledger_append_only")


def test_a_running_balance_that_does_not_follow_from_the_previous_row_is_found(market):
    # given a's first entry (the deposit) rewritten: the sums and the last row still agree
    first = LedgerEntry.objects.filter(wallet__user=market["a"]).order_by("id").first()
    _tamper("UPDATE wallets_ledgerentry SET balance_after = balance_after - 5000 WHERE id = %s", [first.pk])
    report = audit_ledger()
    assert [v for v in report.violations] == [
        f"ledger entry {first.pk} (wallet {first.wallet_id}): after 95000/0 but the previous "
        "entries and this one add up to 100000/0"
    ]


def test_a_bid_hold_of_the_wrong_size_is_found(market):
    # given a crafted second (empty) hold for a's bid: no sum, no running balance changes
    bid = market["live"].bids.get()
    wallet = Wallet.objects.get(user=market["a"])
    LedgerEntry.objects.create(
        wallet=wallet,
        kind=LedgerEntry.Kind.BID_HOLD,
        balance_delta=0,
        locked_delta=0,
        balance_after=wallet.balance,
        locked_after=wallet.locked_balance,
        auction=market["live"],
        bid=bid,
    )
    report = audit_ledger()
    assert len(report.violations) == 1
    assert report.violations[0].startswith(f"bid {bid.pk}: holds [(")
    assert report.violations[0].endswith(f" but should hold [({wallet.pk}, 10000)]")


def test_a_release_booked_against_the_wrong_bid_is_found(market):
    # given b outbids a: b's bid releases a's hold; then the release is re-pointed at a's bid
    first_bid = market["live"].bids.get()
    b_bid = bid_place(auction_id=market["live"].pk, actor=market["b"], amount=11_000, request_id=rid()).bid
    assert audit_ledger().ok
    release = LedgerEntry.objects.get(bid=b_bid, kind=LedgerEntry.Kind.HOLD_RELEASE)
    _tamper("UPDATE wallets_ledgerentry SET bid_id = %s WHERE id = %s", [first_bid.pk, release.pk])
    report = audit_ledger()
    a_wallet = Wallet.objects.get(user=market["a"]).pk
    assert report.violations == [
        f"bid {first_bid.pk}: releases [({a_wallet}, -10000)] but should release []",
        f"bid {b_bid.pk}: releases [] but should release [({a_wallet}, -10000)]",
    ]
