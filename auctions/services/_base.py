"""Shared guards and the plain-SQL write of the auction services (private to the package).

Every rule that more than one capability needs lives here once: the open-for-bids check, the
neighbourhood-trust rule, request-id and amount checks, and the one write of a locked auction
(which also bumps its `seq` and registers its public state for after commit).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import connection
from django.db.models import Field
from django.utils import timezone

from accounts.models import Neighbourhood, User
from accounts.selectors import neighbourhood_distance_km, user_location_verified
from auctions.bidlog import log_append
from auctions.events import ended_event, send_auction_event_on_commit
from auctions.locks import BidAuction
from auctions.models import Auction, BidLogLeaf
from auctions.selectors import PublicState, auction_public_state
from neighborbid.errors import AuctionNotOpen, InvalidAmount, InvalidRequest, NotEligible, OwnAuction

Status = Auction.Status
MODERATE = "auctions.moderate_auction"  # the moderators' permission (accounts.roles)


def check_request_id(request_id: str) -> str:
    if not isinstance(request_id, str) or not (1 <= len(request_id) <= 64) or not request_id.isprintable():
        raise InvalidRequest("요청 번호가 올바르지 않아요.")
    return request_id


def check_amount(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount()
    if amount > settings.NEIGHBORBID["PRICE_MAX"]:
        raise InvalidAmount(f"금액은 {settings.NEIGHBORBID['PRICE_MAX']:,}원을 넘을 수 없어요.")
    return amount


def check_local_eligibility(*, user: User, neighbourhood_id: int | None) -> None:
    """The neighbourhood-trust rule for local auctions: a verified user whose home lies within
    their chosen range of the auction's neighbourhood."""
    home_id = user.neighbourhood_id
    if not user_location_verified(user) or home_id is None:  # verified implies a home
        raise NotEligible("동네 인증을 마친 이웃만 동네 경매에 참여할 수 있어요. 먼저 동네 인증을 해 주세요.")
    if neighbourhood_id is None or neighbourhood_id == home_id:
        return
    places = {n.pk: n for n in Neighbourhood.objects.filter(pk__in=[home_id, neighbourhood_id])}
    km = neighbourhood_distance_km(places[home_id], places[neighbourhood_id])
    if km > user.search_radius_km:
        raise NotEligible(
            f"내 동네 범위({user.search_radius_km}km) 밖의 경매예요. (약 {km:.1f}km) 범위를 넓히면 참여할 수 있어요."
        )


def check_participant(*, user: User, auction: BidAuction) -> None:
    """May `user` bid on or buy `auction`: not the seller; on a local auction, the
    neighbourhood-trust rule and the seller's minimum 매너온도 (if they set one)."""
    if auction.seller_id == user.pk:
        raise OwnAuction()
    if not auction.is_national:
        check_local_eligibility(user=user, neighbourhood_id=auction.neighbourhood_id)
        minimum = auction.min_manner_temperature
        if minimum is not None and user.manner_temperature < minimum:
            raise NotEligible(
                f"판매자가 매너온도 {minimum:.1f}°C 이상인 이웃만 참여할 수 있게 했어요. "
                f"지금 내 매너온도는 {user.manner_temperature:.1f}°C예요."
            )


def ensure_open(auction: BidAuction, now: datetime) -> None:
    """Open for bids: status open (a scheduled auction whose start has come opens here, under
    the lock, even if the worker has not reached it yet), starts_at ≤ now < ends_at."""
    if auction.is_hidden:
        raise AuctionNotOpen("숨김 처리된 경매예요.")
    if auction.status == Status.SCHEDULED and auction.starts_at <= now < auction.ends_at:
        auction.status = Status.OPEN
    if auction.status != Status.OPEN or now < auction.starts_at:
        if auction.status == Status.SCHEDULED:
            raise AuctionNotOpen("아직 시작하지 않은 경매예요.")
        raise AuctionNotOpen("이미 종료된 경매예요.")
    if now >= auction.ends_at:
        raise AuctionNotOpen("마감된 경매예요.")


def leader_hold(auction: BidAuction) -> int:
    """What the leader's wallet holds for this auction: their whole maximum (max bidding), or
    the current price for a leader from before maximums existed."""
    if auction.leader_id is None:
        return 0
    return auction.leader_max if auction.leader_max is not None else auction.current_price


def publish_state(auction: BidAuction, *, leader_name: str | None = None, ended: bool = False) -> PublicState:
    """Register the auction's whole public state (and, when it ended, the `ended` message) for
    after commit; returns the state."""
    state = auction_public_state(auction, leader_name=leader_name)
    send_auction_event_on_commit(auction_id=auction.pk, event=dict(state))
    if ended:
        send_auction_event_on_commit(auction_id=auction.pk, event=dict(ended_event(state)))
    return state


LOG_FIELDS = ("log_seq", "log_head")


def log_events(auction: Auction, events: list[tuple[str, int, int | None]], *, now: datetime) -> tuple[str, ...]:
    """Append public events (kind, amount, user id) to the locked auction's bid log (issue 24,
    auctions/bidlog.py); returns the auction fields the caller's auction_write must include."""
    log_leaves_write(auction.pk, log_append(auction, events, at=now), now=now)
    return LOG_FIELDS


def log_leaves_write(auction_id: int, leaves: Iterable[Any], *, now: datetime) -> None:
    """The bid log's leaf rows through the ORM (log_events, and the bid's ORM writer; the bid's
    one PostgreSQL statement writes the same columns in its own CTE)."""
    BidLogLeaf.objects.bulk_create(
        [
            BidLogLeaf(auction_id=auction_id, seq=x.seq, kind=x.kind, body=x.body, hash=x.hash, created_at=now)
            for x in leaves
        ]
    )


def auction_write(auction: Auction, *fields: str, now: datetime | None = None) -> None:
    """Write the changed fields of a locked auction and bump its seq: one plain UPDATE.
    `now`: the clock the caller read under the lock (the bid's writers), else read here. A
    write of the price or bid count sets the lists' sort keys to them.

    Auction has no save() override or signals; this runs under the row lock on every state
    change, where Model.save(update_fields=...) cost ~0.5 ms of Python here. Values go through
    each field's own get_db_prep_save, so JSON and datetimes are adapted per database."""
    auction.seq += 1
    auction.updated_at = now or timezone.now()
    if "current_price" in fields or "bid_count" in fields:
        # the lists' sort keys follow exactly (only the SQL bid writer lets them trail)
        auction.sort_price, auction.sort_bids = auction.current_price, auction.bid_count
        auction.sort_at, auction.sort_stale = auction.updated_at, False
        fields = (*fields, "sort_price", "sort_bids", "sort_at", "sort_stale")
    meta = Auction._meta
    # Only concrete fields are named here (never relations' reverse sides or generic keys).
    columns = [cast("Field[Any, Any]", meta.get_field(name)) for name in (*fields, "seq", "updated_at")]
    quote = connection.ops.quote_name
    # A concrete field always has a column; django-stubs types Field.column as `str | None`.
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)  # type: ignore[arg-type]
    params = [field.get_db_prep_save(getattr(auction, field.attname), connection) for field in columns]
    pk_column = quote(meta.pk.column)  # type: ignore[arg-type]  # the primary key has a column
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {pk_column} = %s"  # noqa: S608 (names from the model's own meta, values bound)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, auction.pk])
