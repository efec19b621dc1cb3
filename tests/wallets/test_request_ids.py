"""Top-ups and withdrawals with a client request id (the API's Idempotency-Key): the same id and
amount answers the first entry; another amount or kind is DuplicateRequest; nothing moves twice."""

from __future__ import annotations

import pytest

from neighborbid.errors import DuplicateRequest, InvalidRequest
from tests.factories import make_user
from tests.money import world
from wallets.models import LedgerEntry, Wallet
from wallets.services import wallet_deposit, wallet_withdraw

pytestmark = pytest.mark.django_db


def test_a_repeated_deposit_answers_the_first_entry():
    user = make_user()
    first = wallet_deposit(actor=user, amount=10_000, request_id="r-1")
    before = world()
    again = wallet_deposit(actor=user, amount=10_000, request_id="r-1")
    assert again.pk == first.pk and again.client_request_id == "r-1"
    assert world() == before
    assert Wallet.objects.get(user=user).balance == 10_000


@pytest.mark.parametrize(
    "repeat",
    [
        lambda user: wallet_deposit(actor=user, amount=20_000, request_id="r-1"),
        lambda user: wallet_withdraw(actor=user, amount=10_000, request_id="r-1"),
    ],
)
def test_the_same_id_for_another_amount_or_kind_is_refused(repeat):
    user = make_user()
    wallet_deposit(actor=user, amount=10_000, request_id="r-1")
    before = world()
    with pytest.raises(DuplicateRequest):
        repeat(user)
    assert world() == before


def test_a_repeated_withdrawal_moves_money_once():
    user = make_user(balance=50_000)
    first = wallet_withdraw(actor=user, amount=10_000, request_id="w-1")
    assert wallet_withdraw(actor=user, amount=10_000, request_id="w-1").pk == first.pk
    assert Wallet.objects.get(user=user).balance == 40_000
    assert LedgerEntry.objects.filter(kind="withdrawal").count() == 1


def test_ids_are_per_wallet_and_checked():
    one, two = make_user(), make_user()
    wallet_deposit(actor=one, amount=10_000, request_id="same")
    wallet_deposit(actor=two, amount=10_000, request_id="same")
    for bad in ("", "x" * 65, "a\nb"):
        with pytest.raises(InvalidRequest):
            wallet_deposit(actor=one, amount=10_000, request_id=bad)
    assert wallet_deposit(actor=one, amount=10_000).client_request_id is None  # the pages send none
