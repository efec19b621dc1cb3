import pytest

from neighborbid.errors import InsufficientFunds, InvalidAmount, LimitExceeded
from tests.factories import make_user
from wallets.models import LedgerEntry, Wallet
from wallets.services import wallet_deposit, wallet_withdraw

pytestmark = pytest.mark.django_db


def snapshot(user):
    w = Wallet.objects.get(user=user)
    return (w.balance, w.locked_balance, LedgerEntry.objects.filter(wallet=w).count())


def test_user_is_created_with_an_empty_wallet():
    user = make_user()
    assert snapshot(user) == (0, 0, 0)


def test_deposit_adds_to_balance_and_writes_one_entry():
    user = make_user()
    entry = wallet_deposit(actor=user, amount=50_000)
    assert snapshot(user) == (50_000, 0, 1)
    assert (entry.kind, entry.balance_delta, entry.locked_delta, entry.balance_after) == ("deposit", 50_000, 0, 50_000)


@pytest.mark.parametrize("amount", [0, -1, 1.5, float("nan"), float("inf"), "1000", None, True])
def test_deposit_refuses_non_integer_or_non_positive_amounts(amount):
    user = make_user(balance=10_000)
    before = snapshot(user)
    with pytest.raises(InvalidAmount):
        wallet_deposit(actor=user, amount=amount)
    assert snapshot(user) == before


@pytest.mark.parametrize("amount", [999, 10_000_001])
def test_deposit_outside_limits_is_refused(amount):
    user = make_user()
    with pytest.raises(LimitExceeded):
        wallet_deposit(actor=user, amount=amount)
    assert snapshot(user) == (0, 0, 0)


def test_withdraw_more_than_available_is_refused():
    user = make_user(balance=10_000)
    with pytest.raises(InsufficientFunds):
        wallet_withdraw(actor=user, amount=10_001)
    assert snapshot(user) == (10_000, 0, 1)
    wallet_withdraw(actor=user, amount=10_000)
    assert snapshot(user) == (0, 0, 2)
