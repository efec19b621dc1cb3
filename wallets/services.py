"""Wallet services: the only code that changes `balance` and `locked_balance`.

Every change writes exactly one immutable LedgerEntry per wallet touched. The public
`wallet_deposit`, `wallet_withdraw` and `wallet_adjust` open their own transaction and lock the
wallet. The escrow helpers (`wallet_hold`, `wallet_release`, `wallet_capture`, `wallet_pay`,
`wallet_credit`) are for the auction services: they assume the caller is inside
`transaction.atomic()` and already holds the row locks (auction first, then wallets by pk),
and they know nothing about auction rules.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from neighborbid.errors import InsufficientFunds, InvalidAmount, InvalidRequest, LimitExceeded
from wallets.locks import wallets_lock
from wallets.models import LedgerEntry, Wallet

logger = logging.getLogger("neighborbid.money")
Kind = LedgerEntry.Kind


def _limits() -> dict:
    return settings.NEIGHBORBID


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount()


def _apply(
    wallet: Wallet,
    *,
    kind: str,
    balance_delta: int = 0,
    locked_delta: int = 0,
    auction=None,
    bid=None,
    staff_user=None,
    memo: str = "",
) -> LedgerEntry:
    """Move money within one locked wallet and record it. The single write path."""
    new_balance = wallet.balance + balance_delta
    new_locked = wallet.locked_balance + locked_delta
    if new_balance < 0:
        raise InsufficientFunds()
    if new_locked < 0:  # a programming error, never a user error
        raise AssertionError(f"locked balance of wallet {wallet.pk} would go negative")
    wallet.balance = new_balance
    wallet.locked_balance = new_locked
    wallet.save(update_fields=["balance", "locked_balance", "updated_at"])
    return LedgerEntry.objects.create(
        wallet=wallet,
        kind=kind,
        balance_delta=balance_delta,
        locked_delta=locked_delta,
        balance_after=new_balance,
        locked_after=new_locked,
        auction=auction,
        bid=bid,
        staff_user=staff_user,
        memo=memo[:200],
    )


def wallet_create(*, user) -> Wallet:
    return Wallet.objects.create(user=user)


def _lock_one(user_id: int) -> Wallet:
    return wallets_lock(user_ids=[user_id])[user_id]


def wallet_deposit(*, user, amount: int, memo: str = "") -> LedgerEntry:
    """Simulated top-up (no payment gateway): DEPOSIT_MIN..DEPOSIT_MAX per top-up and a
    ceiling of WALLET_MAX available balance."""
    _check_amount(amount)
    limits = _limits()
    if amount < limits["DEPOSIT_MIN"] or amount > limits["DEPOSIT_MAX"]:
        raise LimitExceeded(
            f"충전은 한 번에 {limits['DEPOSIT_MIN']:,}원 이상 {limits['DEPOSIT_MAX']:,}원 이하로 할 수 있습니다."
        )
    with transaction.atomic():
        wallet = _lock_one(user.pk)
        if wallet.balance + amount > limits["WALLET_MAX"]:
            raise LimitExceeded(f"지갑 잔액은 {limits['WALLET_MAX']:,}원을 넘을 수 없습니다.")
        entry = _apply(wallet, kind=Kind.DEPOSIT, balance_delta=amount, memo=memo)
    logger.info("money deposit user=%s amount=%s ok", user.pk, amount)
    return entry


def wallet_withdraw(*, user, amount: int) -> LedgerEntry:
    _check_amount(amount)
    if amount < _limits()["WITHDRAW_MIN"]:
        raise LimitExceeded(f"출금은 {_limits()['WITHDRAW_MIN']:,}원 이상부터 가능합니다.")
    with transaction.atomic():
        wallet = _lock_one(user.pk)
        if wallet.balance < amount:
            raise InsufficientFunds("출금 가능한 잔액이 부족합니다. 입찰 중인 금액은 출금할 수 없습니다.")
        entry = _apply(wallet, kind=Kind.WITHDRAWAL, balance_delta=-amount)
    logger.info("money withdraw user=%s amount=%s ok", user.pk, amount)
    return entry


def wallet_adjust(*, user, amount: int, staff_user, reason: str) -> LedgerEntry:
    """A manual correction by staff (positive or negative), with a mandatory reason."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidAmount("정정 금액은 0이 아닌 정수(원)여야 합니다.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("정정 사유를 입력해 주세요.")
    if staff_user is None or not staff_user.is_staff:
        raise InvalidRequest("관리자만 정정할 수 있습니다.")
    with transaction.atomic():
        wallet = _lock_one(user.pk)
        entry = _apply(wallet, kind=Kind.ADJUSTMENT, balance_delta=amount, staff_user=staff_user, memo=reason)
    logger.info("money adjust user=%s amount=%s staff=%s ok", user.pk, amount, staff_user.pk)
    return entry


# --- escrow helpers for the auction services (caller holds the locks) -------------------


def wallet_hold(wallet: Wallet, *, amount: int, auction, bid=None) -> LedgerEntry:
    """balance → locked for a bid."""
    _check_amount(amount)
    return _apply(wallet, kind=Kind.BID_HOLD, balance_delta=-amount, locked_delta=amount, auction=auction, bid=bid)


def wallet_release(wallet: Wallet, *, amount: int, auction, bid=None) -> LedgerEntry:
    """locked → balance (outbid, cancelled, buy-now by someone else)."""
    _check_amount(amount)
    return _apply(wallet, kind=Kind.HOLD_RELEASE, balance_delta=amount, locked_delta=-amount, auction=auction, bid=bid)


def wallet_capture(wallet: Wallet, *, held: int, extra: int = 0, auction) -> LedgerEntry:
    """Pay for a won item: `held` leaves locked, `extra` (if any) leaves balance."""
    if held < 0 or extra < 0 or held + extra <= 0:
        raise InvalidAmount()
    return _apply(wallet, kind=Kind.PURCHASE, balance_delta=-extra, locked_delta=-held, auction=auction)


def wallet_credit(wallet: Wallet, *, amount: int, auction) -> LedgerEntry:
    """Sale proceeds to the seller."""
    _check_amount(amount)
    return _apply(wallet, kind=Kind.SALE_PROCEEDS, balance_delta=amount, auction=auction)
