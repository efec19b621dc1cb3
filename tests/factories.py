"""Plain factory functions for test data (real services where the thing exists in the product)."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

from django.utils import timezone

from accounts.models import Neighbourhood, User
from accounts.services import user_create
from auctions.models import Auction
from auctions.services import auction_create
from wallets.services import wallet_deposit

_counter = itertools.count(1)


def ensure_neighbourhoods() -> None:
    """The 동 come from a data migration; transaction=True tests flush them, so put them back
    (the national table, as the migration loads it)."""
    if not Neighbourhood.objects.exists():
        from accounts.services import neighbourhoods_load

        neighbourhoods_load()


def neighbourhood(name: str = "합정동", district: str = "서울특별시 마포구") -> Neighbourhood:
    ensure_neighbourhoods()
    return Neighbourhood.objects.get(district=district, name=name)


def make_user(
    *,
    username: str | None = None,
    nickname: str | None = None,
    balance: int = 0,
    place: Neighbourhood | None = None,
    verified: bool = True,
    radius_km: int = 3,
    **extra,
) -> User:
    n = next(_counter)
    user = user_create(
        username=username or f"user{n}-{uuid.uuid4().hex[:6]}",
        password="pw-for-tests-1234",
        nickname=nickname or f"이웃{n}",
        neighbourhood=place or neighbourhood(),
        location_verified_at=timezone.now() if verified else None,
        search_radius_km=radius_km,
        **extra,
    )
    if balance:
        fund(user, balance)
    return user


def make_moderator(**kwargs) -> User:
    """A staff user in the moderators group (only the moderation permissions)."""
    from accounts.roles import ensure_moderators_group

    user = make_user(is_staff=True, **kwargs)
    user.groups.add(ensure_moderators_group())
    return User.objects.get(pk=user.pk)  # a fresh instance: no stale permission cache


def fund(user: User, amount: int) -> None:
    """Top up in steps the deposit limits allow."""
    while amount > 0:
        step = min(amount, 10_000_000)
        if step < 1_000:
            step = 1_000
        wallet_deposit(actor=user, amount=step)
        amount -= step


def make_auction(
    *,
    seller: User | None = None,
    start_price: int = 10_000,
    buy_now_price: int | None = None,
    is_national: bool = False,
    minutes: float | None = None,
    **kwargs,
) -> Auction:
    """An open auction via the real service; `minutes` moves its end close (the service only
    lists 1 h .. 7 d), as if time had passed."""
    seller = seller or make_user()
    auction = auction_create(
        actor=seller,
        title=kwargs.pop("title", f"테스트 물건 {next(_counter)}"),
        start_price=start_price,
        buy_now_price=buy_now_price,
        duration=kwargs.pop("duration", timedelta(hours=2)),
        is_national=is_national,
        **kwargs,
    )
    if minutes is not None:
        set_end(auction, timezone.now() + timedelta(minutes=minutes))
    return auction


def set_end(auction: Auction, ends_at) -> None:
    """Move an auction's end as the passing of time would (test-only)."""
    starts_at = min(auction.starts_at, ends_at - timedelta(seconds=1))
    Auction.objects.filter(pk=auction.pk).update(ends_at=ends_at, original_ends_at=ends_at, starts_at=starts_at)
    auction.refresh_from_db()


def rid() -> str:
    return uuid.uuid4().hex
