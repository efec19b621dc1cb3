"""The ledger is append-only: the ORM refuses, and on PostgreSQL the database refuses too."""

import pytest
from django.db import DatabaseError, connection, transaction

from neighborbid.errors import InvalidAmount, InvalidRequest, PermissionDenied
from tests.factories import make_moderator, make_user
from tests.money import assert_books_balance, wallet_of
from wallets.models import LedgerEntry
from wallets.services import wallet_adjust, wallet_deposit

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry():
    return wallet_deposit(actor=make_user(), amount=10_000)


def test_orm_refuses_changing_an_entry(entry):
    entry.balance_delta = 1
    with pytest.raises(TypeError):
        entry.save()


def test_orm_refuses_deleting(entry):
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        LedgerEntry.objects.all().delete()
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(pk=entry.pk).update(balance_delta=0)
    assert LedgerEntry.objects.filter(pk=entry.pk, balance_delta=10_000).exists()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE wallets_ledgerentry SET balance_delta = 0 WHERE id = %s",
        "DELETE FROM wallets_ledgerentry WHERE id = %s",
    ],
)
def test_database_trigger_refuses_update_and_delete(entry, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [entry.pk])
    assert LedgerEntry.objects.filter(pk=entry.pk, balance_delta=10_000).exists()


def test_staff_correction_writes_an_entry_naming_the_staff_user():
    user, staff = make_user(balance=10_000), make_moderator()
    entry = wallet_adjust(user=user, amount=-3_000, staff_user=staff, reason="중복 충전 정정")
    assert wallet_of(user) == (7_000, 0)
    assert (entry.kind, entry.staff_user_id, entry.memo) == ("adjustment", staff.pk, "중복 충전 정정")
    assert_books_balance()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"amount": 0}, InvalidAmount),
        ({"amount": 1.5}, InvalidAmount),
        ({"reason": "  "}, InvalidRequest),
        ({"moderator": False}, PermissionDenied),
    ],
)
def test_correction_needs_an_amount_a_reason_and_the_permission(kwargs, error):
    user = make_user(balance=10_000)
    # a staff user without the adjust_wallet permission is refused like anyone else
    staff = make_moderator() if kwargs.pop("moderator", True) else make_user(is_staff=True)
    args = {"user": user, "amount": 1_000, "staff_user": staff, "reason": "정정"} | kwargs
    with pytest.raises(error):
        wallet_adjust(**args)
    assert wallet_of(user) == (10_000, 0)
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 0


def test_nobody_corrects_their_own_wallet():
    moderator = make_moderator()
    wallet_deposit(actor=moderator, amount=10_000)
    with pytest.raises(PermissionDenied):
        wallet_adjust(user=moderator, amount=1_000_000, staff_user=moderator, reason="내 지갑")
    assert wallet_of(moderator) == (10_000, 0)
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 0
