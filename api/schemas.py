"""The API's wire shapes (pydantic, via ninja): what it accepts and what it answers. Amounts are
whole won, JSON integers only (`StrictInt`: no floats, strings, booleans, NaN or Infinity); the
services refuse the ranges (a rule lives once, in the services)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool, StrictInt


class Problem(Schema):
    """RFC 9457 problem details (api/problems.py); extension members such as `min_next_bid`,
    `retry_after` or `errors` may follow."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None


class Strict(Schema):
    """A request body: unknown fields are refused (a typo like `max_ammount` is a 422, never a
    silently ignored maximum)."""

    model_config = ConfigDict(extra="forbid")


# --- auth -------------------------------------------------------------------------------------


class TokenIn(Strict):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=4096)
    device_name: str = Field(min_length=1, max_length=100, description="이 기기의 이름 (기기 목록에 보여요)")


class DeviceOut(Schema):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    current: bool = Field(description="이 요청을 보낸 기기인지")


class TokenOut(Schema):
    token: str = Field(description="한 번만 보여 줘요. 이후에는 SHA-256만 저장돼요.")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the scheme's name, not a secret)
    device: DeviceOut


class LogoutEverywhereOut(Schema):
    devices_revoked: int


# --- me and neighbourhoods --------------------------------------------------------------------


class NeighbourhoodOut(Schema):
    id: int
    name: str
    full_name: str
    sido: str
    sigungu: str
    latitude: float
    longitude: float


class NearbyIn(Strict):
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)


class NearbyOut(Schema):
    neighbourhood: NeighbourhoodOut
    km: float
    in_range: bool = Field(description="동네 인증 반경 안인지")


class MeOut(Schema):
    id: int
    username: str
    nickname: str
    neighbourhood: NeighbourhoodOut | None
    location_verified: bool
    search_radius_km: int
    manner_temperature: float
    is_suspended: bool


# --- auctions ---------------------------------------------------------------------------------


class AuctionCard(Schema):
    id: int
    title: str
    status: str
    is_national: bool
    neighbourhood: str | None
    distance_km: float | None
    current_price: int
    buy_now_price: int | None
    bid_count: int
    ends_at: datetime
    thumbnail_url: str | None
    seller_temperature: float | None


class AuctionPage(Schema):
    items: list[AuctionCard]
    next_cursor: int | None = Field(description="다음 쪽: ?after=<next_cursor>")
    prev_cursor: int | None = Field(description="이전 쪽: ?before=<prev_cursor> (없으면 첫 쪽)")


class RecentBidOut(Schema):
    amount: int
    bidder: str
    at: str


class StateOut(Schema):
    """The auction's public state: the same dict as the pages' state.json and the socket's `state`."""

    type: str
    auction_id: int
    seq: int
    status: str
    end_reason: str | None
    is_national: bool
    current_price: int
    min_next_bid: int
    buy_now_price: int | None
    bid_count: int
    leader: str | None
    leader_tag: str | None
    starts_at: str
    ends_at: str
    server_time: str
    recent_bids: list[RecentBidOut]


class SellerOut(Schema):
    id: int
    nickname: str
    manner_temperature: float


class AuctionOut(Schema):
    id: int
    title: str
    description: str
    category: str
    condition: str
    is_national: bool
    neighbourhood: NeighbourhoodOut | None
    distance_km: float | None
    seller: SellerOut
    photos: list[str]
    min_manner_temperature: float | None
    state: StateOut
    you_lead: bool
    your_max: int | None = Field(description="내가 이끌 때 내 최대 입찰가 (남에게는 보이지 않아요)")
    watching: bool


class BidRow(Schema):
    id: int
    amount: int
    bidder: str
    kind: str
    at: datetime
    mine: bool


class BidPage(Schema):
    items: list[BidRow]
    next_cursor: int | None = Field(description="더 오래된 입찰: ?before=<next_cursor>")


class BidIn(Strict):
    amount: StrictInt
    max_amount: StrictInt | None = None


class ReceiptOut(Schema):
    seq: int = Field(description="입찰 기록(해시 사슬)에서 이 입찰의 번호")
    hash: str = Field(description="그 기록의 SHA-256 (16진수): /auctions/{id}/verify/ 에서 확인")


class BidOut(Schema):
    bid_id: int
    amount: int
    duplicate: bool = Field(description="같은 Idempotency-Key로 이미 처리된 요청의 결과인지")
    leading: bool
    your_max: int | None
    receipt: ReceiptOut | None = Field(
        None, description="검증 가능한 입찰 기록의 영수증 (docs/trust.md); 재전송과 내 최대 입찰가 변경은 없음"
    )
    state: StateOut


class BuyNowOut(Schema):
    auction_id: int
    price: int
    duplicate: bool
    state: StateOut


# --- wallet -----------------------------------------------------------------------------------


class WalletOut(Schema):
    balance: int
    locked_balance: int


class AmountIn(Strict):
    amount: StrictInt


class LedgerRow(Schema):
    id: int
    kind: str
    label: str
    balance_delta: int
    locked_delta: int
    balance_after: int
    locked_after: int
    auction_id: int | None
    trade_id: int | None
    memo: str
    created_at: datetime


class LedgerPage(Schema):
    items: list[LedgerRow]
    next_cursor: int | None = Field(description="더 오래된 내역: ?before=<next_cursor>")


class MoneyOut(Schema):
    entry: LedgerRow
    wallet: WalletOut


# --- notifications ----------------------------------------------------------------------------


class NotificationRow(Schema):
    id: int
    kind: str
    message: str
    auction_id: int | None
    created_at: datetime
    read: bool


class NotificationPage(Schema):
    items: list[NotificationRow]
    unread: int
    next_cursor: int | None = Field(description="더 오래된 알림: ?before=<next_cursor>")


class MarkedOut(Schema):
    marked: int


def problems(*statuses: int) -> dict[int, Any]:
    """The error answers an endpoint documents (each a Problem)."""
    return {status: Problem for status in statuses}


# --- trades -----------------------------------------------------------------------------------


class PartyOut(Schema):
    id: int
    nickname: str


class TradeActions(Schema):
    hand_over: bool
    ship: bool
    confirm: bool
    dispute: bool
    refund: bool


class TradeOut(Schema):
    id: int
    auction_id: int
    title: str
    amount: int
    is_national: bool
    status: str
    status_label: str
    role: Literal["buyer", "seller", "moderator"]
    buyer: PartyOut
    seller: PartyOut
    carrier: str
    tracking_number: str
    auto_release_at: datetime | None
    created_at: datetime
    seq: int
    can: TradeActions


class TradePage(Schema):
    items: list[TradeOut]
    next_cursor: int | None = Field(description="더 오래된 거래: ?before=<next_cursor>")


class ShipIn(Strict):
    carrier: str = Field(min_length=1, max_length=50)
    tracking_number: str = Field(min_length=1, max_length=50)


class DisputeIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)


# --- watchlist --------------------------------------------------------------------------------


class WatchOut(Schema):
    watching: bool


# --- selling ----------------------------------------------------------------------------------


class AuctionCreateIn(Strict):
    title: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=5000)
    category: str = "other"
    condition: str = "good"
    start_price: StrictInt
    buy_now_price: StrictInt | None = None
    duration_hours: StrictInt = Field(24, description="1시간 ~ 7일(168시간)")
    is_national: StrictBool = False
    min_manner_temperature: float | None = Field(
        None, allow_inf_nan=False, description="동네 경매만: 30.0, 36.5, 37.5, 40.0"
    )


class AuctionEditIn(Strict):
    """Only the fields sent are changed (while nobody has bid)."""

    title: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=5000)
    category: str | None = None
    condition: str | None = None
    start_price: StrictInt | None = None
    buy_now_price: StrictInt | None = None


class CancelIn(Strict):
    reason: str = Field("", max_length=500)


class TicketOut(Schema):
    ticket: str = Field(description="한 번만, 30초 안에 쓸 수 있어요: wss://…/ws/auctions/<id>/?ticket=<ticket>")
    expires_in: int


# --- chat -------------------------------------------------------------------------------------


class RoomOut(Schema):
    id: int
    trade_id: int
    title: str
    role: Literal["buyer", "seller"] | None
    other: PartyOut | None
    status: str
    seq: int
    read_seq: int | None
    unread: int


class MessageOut(Schema):
    """chat.selectors.message_payload, as the socket's frames carry it; a message I hid comes as
    `{"id", "seq", "kind", "hidden": true}` so the numbers stay without gaps."""

    id: int
    seq: int
    kind: str
    hidden: bool = False
    sender: Literal["buyer", "seller"] | None = None
    text: str | None = None
    image: str | None = None
    thumbnail: str | None = None
    place: str | None = None
    place_neighbourhood: str | None = None
    meet_at: str | None = None
    accepted_at: str | None = None
    warning: bool | None = None
    client_id: str | None = None
    created_at: str | None = None


class MessagePage(Schema):
    items: list[MessageOut]
    next_after_seq: int | None = Field(description="더 있으면: ?after_seq=<next_after_seq>")


class MessageIn(Strict):
    text: str = Field(min_length=1, max_length=5000)


class SentOut(Schema):
    message: MessageOut
    duplicate: bool
    warning: str | None = Field(description="전화번호·계좌번호가 보이면: 안전결제를 이용하라는 안내")


class ReadIn(Strict):
    seq: StrictInt = Field(ge=0, le=2**63 - 1)


class ReadOut(Schema):
    read_seq: int


# --- reviews and profiles ---------------------------------------------------------------------


class TagCount(Schema):
    tag: str
    count: int


class TrustOut(Schema):
    sales: int
    purchases: int
    review_count: int
    ratings: dict[str, int]
    positive_tags: list[TagCount]
    negative_tags: list[TagCount]


class ProfileOut(Schema):
    id: int
    nickname: str
    neighbourhood: str | None
    location_verified: bool
    manner_temperature: float
    trust: TrustOut
    live_listings: list[AuctionCard]


class ReviewRow(Schema):
    id: int
    reviewer: str
    reviewer_role: Literal["buyer", "seller"]
    reviewer_neighbourhood: str | None
    rating: str
    tags: list[str]
    text: str
    created_at: datetime


class ReviewPage(Schema):
    items: list[ReviewRow]
    next_cursor: int | None = Field(description="더 오래된 후기: ?before=<next_cursor>")


class ReviewIn(Strict):
    rating: str = Field(description="good / ok / bad")
    tags: list[str] = Field(default_factory=list, max_length=20)
    text: str = Field("", max_length=2000)


class ReviewOut(Schema):
    id: int
    trade_id: int
    reviewee_id: int
    rating: str
    tags: list[str]
    text: str
    created_at: datetime
    editable_until: datetime


class PendingReview(Schema):
    trade_id: int
    title: str
    role: Literal["buyer", "seller"]
    other: PartyOut


class VerifyIn(Strict):
    neighbourhood_id: StrictInt
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)


class VerifyOut(Schema):
    km: float
    me: MeOut


class RadiusIn(Strict):
    radius_km: StrictInt = Field(description="3, 6 또는 10")


class PageIn(Schema):
    page: int = Field(1, ge=1, le=100_000)


class AnswerOut(Schema):
    id: int
    text: str
    created_at: datetime


class QuestionOut(Schema):
    id: int
    asker: str
    text: str
    created_at: datetime
    answers: list[AnswerOut]


class QuestionPage(Schema):
    items: list[QuestionOut]
    next_page: int | None


class QuestionIn(Strict):
    text: str = Field(min_length=1, max_length=2000)


class ReportIn(Strict):
    reason: str = Field(description="신고 사유 코드 (사이트의 신고 양식과 같아요)")
    text: str = Field("", max_length=2000)


class ReportOut(Schema):
    id: int


class MeetingIn(Strict):
    meet_at: datetime = Field(description="ISO 8601, 시간대 포함 (예: 2026-12-06T19:00:00+09:00)")
    place: str = Field("", max_length=200)
    neighbourhood_id: StrictInt | None = None


class BlockIn(Strict):
    blocked: StrictBool


class BlockOut(Schema):
    blocked: bool


class ChatReportIn(Strict):
    reason: str
    text: str = Field("", max_length=2000)
    message_id: StrictInt | None = None


class DoneOut(Schema):
    ok: bool = True
