"""Auction services: every rule about auctions and bids, enforced under the row lock.

Each write is one `transaction.atomic()`: lock the auction (auctions.locks), then the wallets
in primary-key order (wallets.locks), check, move money through the wallet services, write
bids and notifications, bump the auction's `seq`, and register the events for after commit.
A raised DomainError always means nothing was written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Neighbourhood, User
from accounts.selectors import neighbourhood_distance_km, user_location_verified
from auctions.events import send_auction_event_on_commit, send_user_event_on_commit
from auctions.locks import auction_lock
from auctions.models import Auction, Bid, Notification, Report, Watch
from auctions.rules import mask_name, min_next_bid, soft_close_end
from auctions.selectors import RECENT_BIDS, auction_min_next_bid, auction_public_state
from neighborbid.errors import (
    AccountSuspended,
    AuctionNotFound,
    AuctionNotOpen,
    BidTooLow,
    BuyNowUnavailable,
    DomainError,
    DuplicateRequest,
    HasBids,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    NotEligible,
    OwnAuction,
    PermissionDenied,
    UseBuyNow,
)
from neighborbid.logs import money_action
from wallets.locks import wallets_lock
from wallets.services import Move, wallet_moves_apply

logger = logging.getLogger("neighborbid.money")
Status = Auction.Status
MODERATE = "auctions.moderate_auction"  # the moderators' permission (accounts.roles)

MIN_START_PRICE = 100
MIN_DURATION = timedelta(hours=1)
MAX_DURATION = timedelta(days=7)


@dataclass(frozen=True)
class BidResult:
    bid: Bid
    state: dict
    duplicate: bool = False


@dataclass(frozen=True)
class PurchaseResult:
    auction: Auction
    state: dict
    duplicate: bool = False


# --- checks shared by every path -----------------------------------------------------------


def _fresh_user(user) -> User:
    """Re-read the acting user: a socket's scope user or a form's request.user may be stale
    (suspended or deactivated since)."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied("로그인이 필요합니다.")
    fresh = User.objects.filter(pk=user.pk).first()
    if fresh is None or not fresh.is_active:
        raise PermissionDenied("로그인이 필요합니다.")
    if fresh.is_suspended:
        raise AccountSuspended(f"이용이 정지된 계정입니다. 사유: {fresh.suspended_reason or '운영 정책 위반'}")
    return fresh


def _check_request_id(request_id: str) -> str:
    if not isinstance(request_id, str) or not (1 <= len(request_id) <= 64) or not request_id.isprintable():
        raise InvalidRequest("요청 번호가 올바르지 않습니다.")
    return request_id


def _check_amount(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount()
    if amount > settings.NEIGHBORBID["PRICE_MAX"]:
        raise InvalidAmount(f"금액은 {settings.NEIGHBORBID['PRICE_MAX']:,}원을 넘을 수 없습니다.")
    return amount


def check_local_eligibility(*, user: User, neighbourhood_id: int | None) -> None:
    """The neighbourhood-trust rule for local auctions: a verified user whose home lies within
    their chosen range of the auction's neighbourhood."""
    if not user_location_verified(user):
        raise NotEligible("동네 인증을 마친 이웃만 동네 경매에 참여할 수 있어요. 먼저 동네 인증을 해 주세요.")
    if neighbourhood_id is None or neighbourhood_id == user.neighbourhood_id:
        return
    places = {n.pk: n for n in Neighbourhood.objects.filter(pk__in=[user.neighbourhood_id, neighbourhood_id])}
    km = neighbourhood_distance_km(places[user.neighbourhood_id], places[neighbourhood_id])
    if km > user.search_radius_km:
        raise NotEligible(
            f"내 동네 범위({user.search_radius_km}km) 밖의 경매예요. (약 {km:.1f}km) 범위를 넓히면 참여할 수 있어요."
        )


def _check_participant(*, user: User, auction: Auction) -> None:
    if auction.seller_id == user.pk:
        raise OwnAuction()
    if not auction.is_national:
        check_local_eligibility(user=user, neighbourhood_id=auction.neighbourhood_id)


def _ensure_open(auction: Auction, now: datetime) -> None:
    """Open for bids: status open (a scheduled auction whose start has come opens here, under
    the lock, even if the worker has not reached it yet), starts_at ≤ now < ends_at."""
    if auction.is_hidden:
        raise AuctionNotOpen("숨김 처리된 경매입니다.")
    if auction.status == Status.SCHEDULED and auction.starts_at <= now < auction.ends_at:
        auction.status = Status.OPEN
    if auction.status != Status.OPEN or now < auction.starts_at:
        if auction.status == Status.SCHEDULED:
            raise AuctionNotOpen("아직 시작하지 않은 경매입니다.")
        raise AuctionNotOpen("이미 종료된 경매입니다.")
    if now >= auction.ends_at:
        raise AuctionNotOpen("마감된 경매입니다.")


def _notify(*, user_id: int, kind: str, auction: Auction, message: str, extra: dict | None = None) -> None:
    """A notification row in this transaction, and a personal push after commit."""
    _notify_many(user_ids=[user_id], kind=kind, auction=auction, message=message, extra=extra)


def _notify_many(*, user_ids: list[int], kind: str, auction: Auction, message: str, extra: dict | None = None) -> None:
    notes = Notification.objects.bulk_create(
        [Notification(user_id=uid, kind=kind, auction=auction, message=message) for uid in user_ids]
    )
    for note in notes:
        send_user_event_on_commit(
            user_id=note.user_id,
            event={
                "type": "notification",
                "kind": kind,
                "auction_id": auction.pk,
                "notification_id": note.pk,
                "message": message,
                **(extra or {}),
            },
        )


def _publish_state(auction: Auction, *, leader_name: str | None = None, ended: bool = False) -> dict:
    state = auction_public_state(auction, leader_name=leader_name)
    send_auction_event_on_commit(auction_id=auction.pk, event=state)
    if ended:
        send_auction_event_on_commit(
            auction_id=auction.pk,
            event={
                "type": "ended",
                "auction_id": auction.pk,
                "seq": auction.seq,
                "status": auction.status,
                "end_reason": auction.end_reason,
                "final_price": auction.current_price if auction.status == Status.SOLD else None,
                "winner": state["leader"] if auction.status == Status.SOLD else None,
            },
        )
    return state


def _save(auction: Auction, *fields: str) -> None:
    """Write the changed fields of a locked auction and bump its seq: one plain UPDATE.

    Auction has no save() override or signals; this runs under the row lock on every state
    change, where Model.save(update_fields=...) cost ~0.5 ms of Python here. Values go through
    each field's own get_db_prep_save, so JSON and datetimes are adapted per database."""
    auction.seq += 1
    auction.updated_at = timezone.now()
    meta = Auction._meta
    columns = [meta.get_field(name) for name in (*fields, "seq", "updated_at")]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    params = [field.get_db_prep_save(getattr(auction, field.attname), connection) for field in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s", [*params, auction.pk]
        )


# --- listing ---------------------------------------------------------------------------


def auction_create(
    *,
    seller,
    title: str,
    description: str = "",
    category: str = Auction.Category.OTHER,
    condition: str = Auction.Condition.GOOD,
    start_price: int,
    buy_now_price: int | None = None,
    duration: timedelta,
    is_national: bool = False,
    starts_at: datetime | None = None,
    soft_close_window_s: int = 60,
    soft_close_extension_s: int = 60,
    soft_close_cap_s: int = 30 * 60,
) -> Auction:
    user = _fresh_user(seller)
    title = (title or "").strip()
    if not title or len(title) > 100:
        raise InvalidRequest("제목은 1~100자로 입력해 주세요.")
    if len(description or "") > 5000:
        raise InvalidRequest("설명은 5,000자 이하로 입력해 주세요.")
    if category not in Auction.Category.values or condition not in Auction.Condition.values:
        raise InvalidRequest("카테고리와 상품 상태를 골라 주세요.")
    _check_amount(start_price)
    if start_price < MIN_START_PRICE:
        raise InvalidAmount(f"시작가는 {MIN_START_PRICE:,}원 이상이어야 합니다.")
    if buy_now_price is not None:
        _check_amount(buy_now_price)
        if buy_now_price <= start_price:
            raise InvalidAmount("즉시구매가는 시작가보다 높아야 합니다.")
    if not isinstance(duration, timedelta) or not (MIN_DURATION <= duration <= MAX_DURATION):
        raise InvalidRequest("경매 기간은 1시간에서 7일 사이로 정해 주세요.")
    if min(soft_close_window_s, soft_close_extension_s, soft_close_cap_s) < 0:
        raise InvalidRequest("마감 연장 설정이 올바르지 않습니다.")
    if not is_national:
        if user.neighbourhood_id is None:
            raise NotEligible("동네를 먼저 설정해 주세요.")
        check_local_eligibility(user=user, neighbourhood_id=user.neighbourhood_id)
    now = timezone.now()
    starts_at = starts_at or now
    if starts_at < now - timedelta(minutes=1):
        raise InvalidRequest("시작 시각은 지금 이후여야 합니다.")
    ends_at = starts_at + duration
    auction = Auction.objects.create(
        seller=user,
        title=title,
        description=description or "",
        category=category,
        condition=condition,
        start_price=start_price,
        current_price=start_price,
        buy_now_price=buy_now_price,
        starts_at=starts_at,
        ends_at=ends_at,
        original_ends_at=ends_at,
        status=Status.OPEN if starts_at <= now else Status.SCHEDULED,
        is_national=is_national,
        neighbourhood_id=user.neighbourhood_id,
        soft_close_window_s=soft_close_window_s,
        soft_close_extension_s=soft_close_extension_s,
        soft_close_cap_s=soft_close_cap_s,
    )
    logger.info("auction created id=%s seller=%s national=%s", auction.pk, user.pk, is_national)
    return auction


EDITABLE_FIELDS = ("title", "description", "category", "condition", "start_price", "buy_now_price")


def auction_update(*, auction_id: int, actor, **changes) -> Auction:
    """The seller edits a listing while nobody has bid on it."""
    user = _fresh_user(actor)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidRequest(f"수정할 수 없는 항목입니다: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id)
        if auction.seller_id != user.pk:
            raise PermissionDenied("내 경매만 수정할 수 있습니다.")
        if auction.is_ended:
            raise AuctionNotOpen("이미 종료된 경매입니다.")
        if auction.bid_count > 0:
            raise HasBids()
        merged = {field: changes.get(field, getattr(auction, field)) for field in EDITABLE_FIELDS}
        title = (merged["title"] or "").strip()
        if not title or len(title) > 100:
            raise InvalidRequest("제목은 1~100자로 입력해 주세요.")
        if merged["category"] not in Auction.Category.values or merged["condition"] not in Auction.Condition.values:
            raise InvalidRequest("카테고리와 상품 상태를 골라 주세요.")
        _check_amount(merged["start_price"])
        if merged["start_price"] < MIN_START_PRICE:
            raise InvalidAmount(f"시작가는 {MIN_START_PRICE:,}원 이상이어야 합니다.")
        if merged["buy_now_price"] is not None:
            _check_amount(merged["buy_now_price"])
            if merged["buy_now_price"] <= merged["start_price"]:
                raise InvalidAmount("즉시구매가는 시작가보다 높아야 합니다.")
        for field, value in merged.items():
            setattr(auction, field, value)
        auction.title = title
        auction.current_price = auction.start_price
        _save(auction, *EDITABLE_FIELDS, "current_price")
        _publish_state(auction)
    return auction


# --- bidding ---------------------------------------------------------------------------


def _earlier_bid(*, bidder_id: int, request_id: str) -> Bid | None:
    return Bid.objects.filter(bidder_id=bidder_id, client_request_id=request_id).first()


def _replay(earlier: Bid, *, auction_id: int, amount: int) -> BidResult:
    """The same request again: the first outcome, or an error if it is not really the same."""
    if earlier.auction_id != auction_id or earlier.amount != amount:
        raise DuplicateRequest()
    auction = Auction.objects.get(pk=auction_id)
    return BidResult(bid=earlier, state=auction_public_state(auction), duplicate=True)


@money_action("bid")
def bid_place(*, auction_id: int, bidder, amount: int, request_id: str) -> BidResult:
    """Place a bid. Idempotent by (bidder, request_id): the same request again returns the
    first outcome; the same id with another amount or auction is refused.

    The repeat check runs before the lock (the common retry costs no lock time); a twin that
    raced this request is recognised after the lock when the bid is refused, or by the unique
    constraint."""
    _check_amount(amount)
    _check_request_id(request_id)
    if bidder is None or not getattr(bidder, "is_authenticated", False):
        raise PermissionDenied("로그인이 필요합니다.")
    # A repeat is answered with the first outcome even if the user was suspended since: the
    # bid stands, and an error would tell the client nothing happened.
    earlier = _earlier_bid(bidder_id=bidder.pk, request_id=request_id)
    if earlier is not None:
        return _replay(earlier, auction_id=auction_id, amount=amount)
    user = _fresh_user(bidder)
    _refuse_early_if_too_low(auction_id=auction_id, user=user, amount=amount, request_id=request_id)
    try:
        with transaction.atomic():
            auction = auction_lock(auction_id=auction_id)
            now = timezone.now()  # the server clock, read under the auction lock
            try:
                bid, state = _bid_locked(auction, user=user, amount=amount, request_id=request_id, now=now)
            except DomainError:
                twin = _earlier_bid(bidder_id=user.pk, request_id=request_id)
                if twin is not None:
                    return _replay(twin, auction_id=auction_id, amount=amount)
                raise
    except IntegrityError as exc:
        # The same request id raced itself: the unique constraint decided.
        if "bid_unique_request" not in str(exc):
            raise
        twin = _earlier_bid(bidder_id=user.pk, request_id=request_id)
        if twin is None:
            raise DuplicateRequest() from exc
        return _replay(twin, auction_id=auction_id, amount=amount)
    return BidResult(bid=bid, state=state)


def _refuse_early_if_too_low(*, auction_id: int, user: User, amount: int, request_id: str) -> None:
    """Refuse a bid that is already too low against the committed price, without queueing for
    the row lock. In a drop most bids lose a race; they should not hold up the winners. Safe
    because once an auction has bids its minimum next bid never goes down (no edits): a bid too
    low now is too low under the lock too. The locked path still checks everything."""
    row = (
        Auction.objects.filter(pk=auction_id)
        .values("status", "current_price", "leader_id", "seq", "is_national", "seller_id")
        .first()
    )
    if row is None:
        raise AuctionNotFound()
    if (
        row["status"] != Status.OPEN
        or row["leader_id"] is None
        or not row["is_national"]
        or row["seller_id"] == user.pk
    ):
        # Only live national auctions with bids (where races happen, and the seller can no longer
        # lower the start price); anything else gets the locked path's precise reason.
        return
    minimum = min_next_bid(current_price=row["current_price"], has_bids=True)
    if amount >= minimum:
        return
    twin = _earlier_bid(bidder_id=user.pk, request_id=request_id)
    if twin is not None:
        _replay(twin, auction_id=auction_id, amount=amount)  # another amount: DuplicateRequest
        return  # the same request won meanwhile: the locked path replays it
    raise BidTooLow(
        f"최소 입찰가는 {minimum:,}원입니다.", current_price=row["current_price"], min_next_bid=minimum, seq=row["seq"]
    )


def _bid_locked(auction: Auction, *, user: User, amount: int, request_id: str, now: datetime) -> tuple[Bid, dict]:
    """The rules and writes of a bid; the caller holds the auction lock."""
    _ensure_open(auction, now)
    _check_participant(user=user, auction=auction)
    minimum = auction_min_next_bid(auction)
    if amount < minimum:
        raise BidTooLow(
            f"최소 입찰가는 {minimum:,}원입니다.",
            current_price=auction.current_price,
            min_next_bid=minimum,
            seq=auction.seq,
        )
    if auction.buy_now_price is not None and amount >= auction.buy_now_price:
        raise UseBuyNow(
            f"즉시구매가({auction.buy_now_price:,}원) 이상은 입찰할 수 없어요. 즉시구매를 이용해 주세요.",
            buy_now_price=auction.buy_now_price,
            current_price=auction.current_price,
            min_next_bid=minimum,
        )

    previous_leader_id = auction.leader_id
    previous_price = auction.current_price
    raising_own = previous_leader_id == user.pk
    needed = amount - previous_price if raising_own else amount
    wallets = wallets_lock(user_ids=[user.pk, previous_leader_id])
    if wallets[user.pk].balance < needed:
        raise InsufficientFunds(
            f"사용 가능한 잔액({wallets[user.pk].balance:,}원)이 부족합니다. 필요한 금액: {needed:,}원",
            current_price=auction.current_price,
            min_next_bid=minimum,
        )

    name = user.nickname or user.username
    bid = Bid.objects.create(auction=auction, bidder=user, amount=amount, client_request_id=request_id)
    moves = [Move.hold(wallets[user.pk], amount=needed, auction=auction, bid=bid)]
    outbid = previous_leader_id is not None and not raising_own
    if outbid:
        moves.append(Move.release(wallets[previous_leader_id], amount=previous_price, auction=auction, bid=bid))
    wallet_moves_apply(*moves)
    if outbid:
        _notify(
            user_id=previous_leader_id,
            kind=Notification.Kind.OUTBID,
            auction=auction,
            message=f"'{auction.title}' 경매에서 더 높은 입찰({amount:,}원)이 들어왔어요. "
            f"입찰금 {previous_price:,}원은 지갑으로 돌아왔어요.",
            extra={"current_price": amount, "released": previous_price},
        )

    auction.current_price = amount
    auction.leader = user
    auction.bid_count += 1
    auction.recent_bids = [
        {"amount": amount, "bidder": mask_name(name), "at": bid.created_at.isoformat()},
        *auction.recent_bids,
    ][:RECENT_BIDS]
    auction.ends_at = soft_close_end(
        now=now,
        ends_at=auction.ends_at,
        original_ends_at=auction.original_ends_at,
        window_s=auction.soft_close_window_s,
        extension_s=auction.soft_close_extension_s,
        cap_s=auction.soft_close_cap_s,
    )
    _save(auction, "current_price", "leader", "bid_count", "recent_bids", "ends_at", "status")
    return bid, _publish_state(auction, leader_name=name)


@money_action("buy_now")
def auction_buy_now(*, auction_id: int, buyer, request_id: str) -> PurchaseResult:
    """Buy at the buy-now price: the auction ends as sold at once."""
    _check_request_id(request_id)
    if buyer is None or not getattr(buyer, "is_authenticated", False):
        raise PermissionDenied("로그인이 필요합니다.")
    bought = Auction.objects.filter(winner_id=buyer.pk, buy_now_request_id=request_id).first()
    if bought is not None:
        if bought.pk != auction_id:
            raise DuplicateRequest()
        return PurchaseResult(auction=bought, state=auction_public_state(bought), duplicate=True)
    user = _fresh_user(buyer)
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id)
        now = timezone.now()
        if auction.buy_now_request_id and auction.buy_now_request_id == request_id and auction.winner_id == user.pk:
            return PurchaseResult(auction=auction, state=auction_public_state(auction), duplicate=True)
        _ensure_open(auction, now)
        _check_participant(user=user, auction=auction)
        price = auction.buy_now_price
        if price is None or auction.current_price >= price:
            raise BuyNowUnavailable()

        leader_id = auction.leader_id
        held = auction.current_price if leader_id is not None else 0
        wallets = wallets_lock(user_ids=[user.pk, leader_id, auction.seller_id])
        if leader_id == user.pk:
            extra = price - held
            if wallets[user.pk].balance < extra:
                raise InsufficientFunds(f"즉시구매에 {extra:,}원이 더 필요합니다.")
            moves = [Move.capture(wallets[user.pk], held=held, extra=extra, auction=auction)]
        else:
            if wallets[user.pk].balance < price:
                raise InsufficientFunds(f"즉시구매에 {price:,}원이 필요합니다.")
            moves = [Move.capture(wallets[user.pk], held=0, extra=price, auction=auction)]
            if leader_id is not None:
                moves.append(Move.release(wallets[leader_id], amount=held, auction=auction))
                _notify(
                    user_id=leader_id,
                    kind=Notification.Kind.OUTBID,
                    auction=auction,
                    message=f"'{auction.title}' 경매가 즉시구매로 끝났어요. 입찰금 {held:,}원은 지갑으로 돌아왔어요.",
                    extra={"released": held},
                )
        moves.append(Move.credit(wallets[auction.seller_id], amount=price, auction=auction))
        wallet_moves_apply(*moves)

        auction.status = Status.SOLD
        auction.end_reason = Auction.EndReason.BUY_NOW
        auction.current_price = price
        auction.leader = user
        auction.winner = user
        auction.ended_at = now
        auction.buy_now_request_id = request_id
        _save(auction, "status", "end_reason", "current_price", "leader", "winner", "ended_at", "buy_now_request_id")
        _notify(
            user_id=user.pk,
            kind=Notification.Kind.WON,
            auction=auction,
            message=f"'{auction.title}'을(를) {price:,}원에 즉시구매했어요.",
        )
        _notify(
            user_id=auction.seller_id,
            kind=Notification.Kind.SOLD,
            auction=auction,
            message=f"'{auction.title}'이(가) 즉시구매로 {price:,}원에 팔렸어요. 대금이 지갑에 들어왔어요.",
        )
        state = _publish_state(auction, leader_name=user.nickname or user.username, ended=True)
    return PurchaseResult(auction=auction, state=state)


# --- lifecycle (worker, seller, staff) ---------------------------------------------------


def auction_open(*, auction_id: int) -> Auction | None:
    """Open a scheduled auction whose start has come. None when there is nothing to do."""
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id, skip_locked=True)
        now = timezone.now()
        if auction is None or auction.status != Status.SCHEDULED or auction.starts_at > now:
            return None
        if now >= auction.ends_at:
            return None  # settlement takes it
        auction.status = Status.OPEN
        _save(auction, "status")
        _publish_state(auction)
    return auction


@money_action("settle")
def auction_settle(*, auction_id: int) -> Auction | None:
    """End a due auction: the leader's hold pays the seller (sold), or nobody bid (unsold).

    Runs once per auction however many workers race: the row is taken with SKIP LOCKED, and
    status and ends_at are re-read under the lock (soft close may have moved ends_at)."""
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id, skip_locked=True)
        now = timezone.now()
        if auction is None or auction.status not in (Status.OPEN, Status.SCHEDULED) or auction.ends_at > now:
            return None
        auction.ended_at = now
        if auction.leader_id is not None:
            price = auction.current_price
            wallets = wallets_lock(user_ids=[auction.leader_id, auction.seller_id])
            wallet_moves_apply(
                Move.capture(wallets[auction.leader_id], held=price, auction=auction),
                Move.credit(wallets[auction.seller_id], amount=price, auction=auction),
            )
            auction.status = Status.SOLD
            auction.end_reason = Auction.EndReason.BIDS
            auction.winner_id = auction.leader_id
            _notify(
                user_id=auction.leader_id,
                kind=Notification.Kind.WON,
                auction=auction,
                message=f"축하해요! '{auction.title}'을(를) {price:,}원에 낙찰받았어요.",
            )
            _notify(
                user_id=auction.seller_id,
                kind=Notification.Kind.SOLD,
                auction=auction,
                message=f"'{auction.title}'이(가) {price:,}원에 낙찰됐어요. 대금이 지갑에 들어왔어요.",
            )
        else:
            auction.status = Status.UNSOLD
            auction.end_reason = Auction.EndReason.NO_BIDS
            _notify(
                user_id=auction.seller_id,
                kind=Notification.Kind.UNSOLD,
                auction=auction,
                message=f"'{auction.title}' 경매가 입찰 없이 끝났어요.",
            )
        _save(auction, "status", "end_reason", "winner", "ended_at")
        _publish_state(auction, ended=True)
    return auction


def _cancel_locked(auction: Auction, *, reason: str, by_staff: bool, now: datetime) -> None:
    """Cancel a locked, not-yet-ended auction: release the leader's hold, tell everyone."""
    if auction.leader_id is not None:
        wallets = wallets_lock(user_ids=[auction.leader_id])
        wallet_moves_apply(Move.release(wallets[auction.leader_id], amount=auction.current_price, auction=auction))
        _notify(
            user_id=auction.leader_id,
            kind=Notification.Kind.CANCELLED,
            auction=auction,
            message=f"'{auction.title}' 경매가 취소됐어요. 입찰금 {auction.current_price:,}원은 지갑으로 돌아왔어요.",
        )
    # everyone else with a stake: earlier bidders and watchers
    others = set(Bid.objects.filter(auction=auction).values_list("bidder_id", flat=True))
    others |= set(Watch.objects.filter(auction=auction).values_list("user_id", flat=True))
    others -= {auction.leader_id, auction.seller_id}
    if others:
        _notify_many(
            user_ids=sorted(others),
            kind=Notification.Kind.CANCELLED,
            auction=auction,
            message=f"참여하거나 찜한 '{auction.title}' 경매가 취소됐어요.",
        )
    if by_staff:
        _notify(
            user_id=auction.seller_id,
            kind=Notification.Kind.CANCELLED,
            auction=auction,
            message=f"운영자가 '{auction.title}' 경매를 취소했어요." + (f" 사유: {reason}" if reason else ""),
        )
    auction.status = Status.CANCELLED
    auction.end_reason = Auction.EndReason.CANCELLED
    auction.ended_at = now


@money_action("cancel")
def auction_cancel(*, auction_id: int, actor, reason: str = "") -> Auction:
    """The seller cancels while nobody has bid; a moderator (auctions.moderate_auction) may
    cancel any auction not yet ended."""
    user = _fresh_user(actor)
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id)
        if auction.is_ended:
            raise AuctionNotOpen("이미 종료된 경매입니다.")
        moderator = user.has_perm(MODERATE)
        if not moderator:
            if auction.seller_id != user.pk:
                raise PermissionDenied("내 경매만 취소할 수 있습니다.")
            if auction.bid_count > 0:
                raise HasBids()
        _cancel_locked(auction, reason=reason, by_staff=moderator and auction.seller_id != user.pk, now=timezone.now())
        _save(auction, "status", "end_reason", "ended_at")
        _publish_state(auction, ended=True)
    return auction


@money_action("end_early")
def auction_end_early(*, auction_id: int, actor) -> Auction:
    """The seller ends a listing nobody has bid on (it ends unsold)."""
    user = _fresh_user(actor)
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id)
        if auction.seller_id != user.pk:
            raise PermissionDenied("내 경매만 종료할 수 있습니다.")
        if auction.is_ended:
            raise AuctionNotOpen("이미 종료된 경매입니다.")
        if auction.bid_count > 0:
            raise HasBids("입찰이 있는 경매는 조기 종료할 수 없습니다.")
        auction.status = Status.UNSOLD
        auction.end_reason = Auction.EndReason.SELLER_ENDED
        auction.ended_at = timezone.now()
        _save(auction, "status", "end_reason", "ended_at")
        _publish_state(auction, ended=True)
    return auction


@money_action("hide")
def auction_hide(*, auction_id: int, staff_user, reason: str) -> Auction:
    """Moderation: hide a listing. A live one is cancelled too (holds released), since a
    hidden listing can no longer be bid on."""
    user = _fresh_user(staff_user)
    if not user.has_perm(MODERATE):
        raise PermissionDenied()
    return _hide(auction_id=auction_id, staff=user, reason=reason)


def seller_listings_hide(*, seller_id: int, staff_user, reason: str) -> int:
    """Part of a suspension (accounts.suspend_user): hide and refund every live listing of a
    suspended seller, each in its own transaction (never many auction locks at once). Returns
    how many were hidden; safe to run again."""
    user = _fresh_user(staff_user)
    if not user.has_perm("accounts.suspend_user"):
        raise PermissionDenied()
    if not User.objects.filter(pk=seller_id, is_suspended=True).exists():
        raise InvalidRequest("이용 정지된 판매자의 경매만 한꺼번에 숨길 수 있습니다.")
    live = Auction.objects.filter(seller_id=seller_id, status__in=[Status.SCHEDULED, Status.OPEN], is_hidden=False)
    hidden = 0
    for auction_id in live.values_list("pk", flat=True):
        _hide(auction_id=auction_id, staff=user, reason=reason)
        hidden += 1
    return hidden


def _hide(*, auction_id: int, staff: User, reason: str) -> Auction:
    reason = (reason or "").strip()
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id)
        fields = ["is_hidden", "hidden_reason"]
        ended_now = False
        if not auction.is_ended:
            _cancel_locked(auction, reason=reason, by_staff=True, now=timezone.now())
            fields += ["status", "end_reason", "ended_at"]
            ended_now = True
        auction.is_hidden = True
        auction.hidden_reason = reason
        _save(auction, *fields)
        _publish_state(auction, ended=ended_now)
    logger.info("auction hidden id=%s staff=%s", auction_id, staff.pk)
    return auction


def auction_notify_ending_soon(*, auction_id: int) -> int:
    """Tell watchers (once) that an auction ends soon. Returns how many were told."""
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id, skip_locked=True)
        if auction is None or auction.status != Status.OPEN or auction.ending_soon_notified:
            return 0
        auction.ending_soon_notified = True
        auction.save(update_fields=["ending_soon_notified"])
        watcher_ids = sorted(Watch.objects.filter(auction=auction).values_list("user_id", flat=True))
        if watcher_ids:
            _notify_many(
                user_ids=watcher_ids,
                kind=Notification.Kind.ENDING_SOON,
                auction=auction,
                message=f"찜한 '{auction.title}' 경매가 곧 마감돼요.",
            )
    return len(watcher_ids)


# --- small user actions ------------------------------------------------------------------


def watch_toggle(*, user, auction_id: int) -> bool:
    """Watch (찜) or unwatch an auction. Returns True when now watching. (Not a money action: a
    suspended user may still tidy their watchlist.)"""
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied("로그인이 필요합니다.")
    with transaction.atomic():
        if not Auction.objects.filter(pk=auction_id, is_hidden=False).exists():
            raise AuctionNotOpen("찜할 수 없는 경매입니다.")
        deleted, _ = Watch.objects.filter(user=user, auction_id=auction_id).delete()
        if deleted:
            return False
        Watch.objects.create(user=user, auction_id=auction_id)
        return True


def notification_mark_read(*, user, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, all) of the user's notifications read."""
    qs = Notification.objects.filter(user_id=user.pk, read_at__isnull=True)
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    return qs.update(read_at=timezone.now())


def report_create(
    *, reporter, reason: str, text: str = "", auction_id: int | None = None, reported_user_id: int | None = None
) -> Report:
    user = _fresh_user(reporter)
    if reason not in Report.Reason.values:
        raise InvalidRequest("신고 사유를 골라 주세요.")
    if auction_id is None and reported_user_id is None:
        raise InvalidRequest("신고할 경매나 사용자를 정해 주세요.")
    if len(text or "") > 2000:
        raise InvalidRequest("신고 내용은 2,000자 이하로 입력해 주세요.")
    if auction_id is not None and not Auction.objects.filter(pk=auction_id).exists():
        raise InvalidRequest("신고할 경매를 찾을 수 없습니다.")
    if reported_user_id is not None and not User.objects.filter(pk=reported_user_id).exists():
        raise InvalidRequest("신고할 사용자를 찾을 수 없습니다.")
    if reported_user_id == user.pk:
        raise InvalidRequest("자기 자신은 신고할 수 없습니다.")
    return Report.objects.create(
        reporter=user, reason=reason, text=text or "", auction_id=auction_id, reported_user_id=reported_user_id
    )


def report_resolve(*, report_id: int, staff_user, status: str) -> Report:
    """Moderation: close a report as dismissed or actioned, naming the staff user. The action
    itself (hide, suspend) is a separate service call; this only records the outcome."""
    if staff_user is None or not staff_user.has_perm("auctions.change_report"):
        raise PermissionDenied()
    if status not in (Report.Status.DISMISSED, Report.Status.ACTIONED):
        raise InvalidRequest("신고 처리 결과를 골라 주세요.")
    with transaction.atomic():
        report = Report.objects.select_for_update().filter(pk=report_id).first()
        if report is None:
            raise InvalidRequest("신고를 찾을 수 없습니다.")
        report.status = status
        report.handled_by = staff_user
        report.save(update_fields=["status", "handled_by"])
    logger.info("report resolved id=%s status=%s staff=%s", report_id, status, staff_user.pk)
    return report


# --- photos --------------------------------------------------------------------------------


def auction_photos_add(*, auction_id: int, actor, files) -> list:
    """The seller adds photos (at most auctions.images.MAX_PHOTOS per listing) while the
    auction has not ended. Every file is checked and processed (resized, thumbnailed) before
    anything is written; one bad file refuses them all."""
    from auctions.images import MAX_PHOTOS, process_upload
    from auctions.models import AuctionPhoto

    user = _fresh_user(actor)
    files = list(files or [])
    if not files:
        return []
    if len(files) > MAX_PHOTOS:
        raise InvalidRequest(f"사진은 최대 {MAX_PHOTOS}장까지 올릴 수 있어요.")
    processed = [process_upload(f) for f in files]
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id)
        if auction.seller_id != user.pk:
            raise PermissionDenied("내 경매에만 사진을 올릴 수 있습니다.")
        if auction.is_ended or auction.is_hidden:
            raise AuctionNotOpen("이미 종료된 경매입니다.")
        existing = AuctionPhoto.objects.filter(auction=auction).count()
        if existing + len(processed) > MAX_PHOTOS:
            raise InvalidRequest(f"사진은 경매당 최대 {MAX_PHOTOS}장이에요. (지금 {existing}장)")
        photos = []
        for offset, item in enumerate(processed):
            photo = AuctionPhoto(auction=auction, position=existing + offset)
            photo.image.save(item.image.name, item.image, save=False)
            photo.thumbnail.save(item.thumbnail.name, item.thumbnail, save=False)
            photo.save()
            photos.append(photo)
    logger.info("auction photos added id=%s count=%s", auction_id, len(photos))
    return photos
