"""Row locks for wallets. Callers lock the auction first (auctions.locks), then wallets here,
always ordered by primary key, so two transactions can never wait on each other in a cycle."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from wallets.models import Wallet


def wallets_lock(*, user_ids: Iterable[int | None]) -> dict[int, Wallet]:
    """Lock the wallets of these users (in wallet-id order) and return them by user id (None,
    e.g. an auction without a leader, is skipped).

    Must be called inside transaction.atomic()."""
    ids = sorted({uid for uid in user_ids if uid is not None})
    if not ids:
        return {}
    wallets = list(Wallet.objects.select_for_update().filter(user_id__in=ids).order_by("pk"))
    return {wallet.user_id: wallet for wallet in wallets}


@dataclass(slots=True)
class WalletRow:
    """A locked wallet's numbers, read without building a model instance (the bid's hot path).
    Quacks like Wallet for wallets.services.Move and wallet_moves_plan."""

    pk: int
    user_id: int
    balance: int
    locked_balance: int


def wallet_rows_lock(*, user_ids: Iterable[int | None]) -> dict[int, WalletRow]:
    """wallets_lock as one plain statement (PostgreSQL): the same rows, the same order (by
    primary key), no ORM compile. Must be called inside transaction.atomic()."""
    ids = sorted({uid for uid in user_ids if uid is not None})
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_WALLET_ROWS_LOCK, [ids])
        return {row[1]: WalletRow(*row) for row in cursor.fetchall()}


_WALLET_ROWS_LOCK = (
    f"SELECT id, user_id, balance, locked_balance FROM {Wallet._meta.db_table} "  # noqa: S608 (table from meta)
    "WHERE user_id = ANY(%s) ORDER BY id FOR UPDATE"
)
