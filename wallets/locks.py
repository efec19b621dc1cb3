"""Row locks for wallets. Callers lock the auction first (auctions.locks), then wallets here,
always ordered by primary key, so two transactions can never wait on each other in a cycle."""

from __future__ import annotations

from collections.abc import Iterable

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
