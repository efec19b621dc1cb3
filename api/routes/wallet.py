"""My wallet: balances, the ledger (newest first, cursor pages), top-up and withdrawal, both
idempotent by the `Idempotency-Key` header (the wallet services' request id)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from api.auth import actor, rate_limit
from api.routes.common import IDEMPOTENCY_KEY
from api.schemas import AmountIn, LedgerPage, LedgerRow, MoneyOut, WalletOut, problems
from wallets.models import LedgerEntry, Wallet
from wallets.services import wallet_deposit, wallet_withdraw

router = Router(tags=["wallet"])
PAGE_SIZE = 20


def _row(entry: LedgerEntry) -> LedgerRow:
    return LedgerRow(
        id=entry.pk,
        kind=entry.kind,
        label=str(entry.get_kind_display()),
        balance_delta=entry.balance_delta,
        locked_delta=entry.locked_delta,
        balance_after=entry.balance_after,
        locked_after=entry.locked_after,
        auction_id=entry.auction_id,
        trade_id=entry.trade_id,
        memo=entry.memo,
        created_at=entry.created_at,
    )


def _wallet(user_id: int) -> WalletOut:
    wallet = Wallet.objects.only("balance", "locked_balance").get(user_id=user_id)
    return WalletOut(balance=wallet.balance, locked_balance=wallet.locked_balance)


@router.get("", response={200: WalletOut, **problems(401)}, summary="지갑 잔액")
def wallet_get(request: HttpRequest):
    return _wallet(actor(request).pk)


@router.get("/ledger", response={200: LedgerPage, **problems(401, 422)}, summary="지갑 내역")
def ledger(request: HttpRequest, before: Query[int | None] = None):
    rows = LedgerEntry.objects.filter(wallet__user_id=actor(request).pk).order_by("-id")
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = list(rows[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    return LedgerPage(items=[_row(e) for e in page], next_cursor=page[-1].pk if more else None)


@router.post("/top-ups", response={201: MoneyOut, **problems(400, 401, 422, 429, 503)}, summary="충전")
def top_up(request: HttpRequest, data: AmountIn, idempotency_key: IDEMPOTENCY_KEY):
    """The same Idempotency-Key and amount again answers the first top-up (nothing moves twice);
    another amount with that key: 422 duplicate_request."""
    user = actor(request)
    rate_limit(request, "topup", user=user)
    entry = wallet_deposit(actor=user, amount=data.amount, memo="지갑 충전", request_id=idempotency_key)
    return Status(201, MoneyOut(entry=_row(entry), wallet=_wallet(user.pk)))


@router.post("/withdrawals", response={201: MoneyOut, **problems(400, 401, 422, 429, 503)}, summary="출금")
def withdraw(request: HttpRequest, data: AmountIn, idempotency_key: IDEMPOTENCY_KEY):
    """Idempotent like a top-up. Money held for bids cannot be withdrawn (insufficient_funds)."""
    user = actor(request)
    rate_limit(request, "withdraw", user=user)
    entry = wallet_withdraw(actor=user, amount=data.amount, request_id=idempotency_key)
    return Status(201, MoneyOut(entry=_row(entry), wallet=_wallet(user.pk)))
