"""The API's Idempotency-Key on top-ups and withdrawals (wallets.services request ids), raced:
an app that retries before the first answer arrived sends the same key twice at once. Exactly
one movement, every racer answered with it (or refused as a duplicate when its amount differs),
and the books balance."""

from __future__ import annotations

import pytest

from neighborbid.errors import DuplicateRequest
from tests.factories import make_user
from tests.money import assert_books_balance
from tests.races.conftest import run_concurrently
from wallets.models import LedgerEntry, Wallet
from wallets.services import wallet_deposit, wallet_withdraw

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("move", ["deposit", "withdraw"])
def test_four_racers_with_one_key_move_money_once(move):
    user = make_user(balance=100_000)
    call = (
        (lambda: wallet_deposit(actor=user, amount=10_000, request_id="same-key"))
        if move == "deposit"
        else (lambda: wallet_withdraw(actor=user, amount=10_000, request_id="same-key"))
    )
    outcomes = run_concurrently([call] * 4)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert len({o.value.pk for o in outcomes}) == 1  # everyone answered with the one entry
    assert LedgerEntry.objects.filter(client_request_id="same-key").count() == 1
    expected = 110_000 if move == "deposit" else 90_000
    assert Wallet.objects.get(user=user).balance == expected
    assert_books_balance()


def test_one_key_two_amounts_at_once_one_wins_the_other_is_a_duplicate():
    user = make_user()
    outcomes = run_concurrently(
        [
            lambda: wallet_deposit(actor=user, amount=10_000, request_id="k"),
            lambda: wallet_deposit(actor=user, amount=20_000, request_id="k"),
        ]
    )
    assert sorted(type(o.error).__name__ for o in outcomes if not o.ok) == ["DuplicateRequest"]
    won = next(o.value for o in outcomes if o.ok)
    assert Wallet.objects.get(user=user).balance == won.balance_delta
    assert isinstance(next(o.error for o in outcomes if not o.ok), DuplicateRequest)
    assert_books_balance()
