"""Domain errors: one small hierarchy with stable codes and user-facing Korean messages.

Messages are in 해요체 (the polite "-요" endings of the whole UI). Doors (views, consumers,
admin actions, commands) turn these into a message, a 4xx page or an
error frame. Services raise them before anything is written, inside the transaction, so a
raised error always means "nothing changed".
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"
    message = "요청을 처리할 수 없어요."
    http_status = 400

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.message
        self.details = details
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class InvalidAmount(DomainError):
    code = "invalid_amount"
    message = "금액은 1원 이상의 정수(원)로 입력해 주세요."


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    message = "사용 가능한 잔액이 부족해요."


class LimitExceeded(DomainError):
    code = "limit_exceeded"
    message = "한도를 넘는 금액이에요."


class AuctionNotFound(DomainError):
    code = "not_found"
    message = "경매를 찾을 수 없어요."
    http_status = 404


class AuctionNotOpen(DomainError):
    code = "auction_not_open"
    message = "진행 중인 경매가 아니에요."
    http_status = 409


class BidTooLow(DomainError):
    code = "bid_too_low"
    message = "입찰가가 최소 입찰가보다 낮아요."
    http_status = 409

    @classmethod
    def below(cls, minimum: int, **details: Any) -> BidTooLow:
        """The one wording of "too low", for the service and the live door alike."""
        return cls(f"최소 입찰가는 {minimum:,}원이에요.", min_next_bid=minimum, **details)


class MaximumNotRaised(DomainError):
    code = "maximum_not_raised"
    message = "최대 입찰가는 지금보다 높게만 바꿀 수 있어요."
    http_status = 409


class UseBuyNow(DomainError):
    code = "use_buy_now"
    message = "즉시구매가 이상의 금액은 입찰할 수 없어요. 즉시구매를 이용해 주세요."
    http_status = 409


class BuyNowUnavailable(DomainError):
    code = "buy_now_unavailable"
    message = "즉시구매를 할 수 없는 경매예요."
    http_status = 409


class OwnAuction(DomainError):
    code = "own_auction"
    message = "본인이 등록한 경매에는 입찰하거나 구매할 수 없어요."
    http_status = 403


class SellerLinked(DomainError):
    """The hard shill-bidding rule (fraud/): an account seen on the seller's own browser."""

    code = "seller_linked"
    message = (
        "판매자와 같은 기기에서 로그인한 적이 있는 계정은 이 판매자의 경매에 입찰할 수 없어요. "
        "가족이 한 기기를 함께 쓰는 경우라면 고객센터에 알려 주세요."
    )
    http_status = 403


class NotEligible(DomainError):
    code = "not_eligible"
    message = "동네 인증을 마친 이웃만 참여할 수 있어요."
    http_status = 403


class PermissionDenied(DomainError):
    code = "forbidden"
    message = "권한이 없어요."
    http_status = 403


class AccountSuspended(DomainError):
    code = "suspended"
    message = "이용이 정지된 계정이에요."
    http_status = 403

    @classmethod
    def because(cls, reason: str | None) -> AccountSuspended:
        return cls(f"이용이 정지된 계정이에요. 사유: {reason or '운영 정책 위반'}")


class HasBids(DomainError):
    code = "has_bids"
    message = "입찰이 있는 경매는 수정하거나 취소할 수 없어요."
    http_status = 409


class DuplicateRequest(DomainError):
    code = "duplicate_request"
    message = "같은 요청 번호로 다른 요청이 이미 처리됐어요."
    http_status = 409


class InvalidRequest(DomainError):
    code = "invalid_request"
    message = "잘못된 요청이에요."


class RateLimited(DomainError):
    code = "rate_limited"
    message = "요청이 너무 잦아요. 잠시 후 다시 시도해 주세요."
    http_status = 429


class LoginRequired(PermissionDenied):
    code = "login_required"
    message = "로그인이 필요해요. 로그인한 뒤 다시 시도해 주세요."
    http_status = 401


class InvalidLogin(DomainError):
    """The API's sign-in (POST /api/v1/auth/token): the same words as the login page."""

    code = "invalid_login"
    message = "아이디 또는 비밀번호가 맞지 않아요."
    http_status = 401


class LoginLocked(RateLimited):
    """Too many failed sign-ins for this 아이디 or from this place (neighborbid.security)."""

    code = "login_locked"
    message = "로그인 시도가 너무 많아요. 잠시 뒤에 다시 시도해 주세요."


class DeviceNotFound(DomainError):
    """No such app sign-in, or someone else's (the API's device list)."""

    code = "device_not_found"
    message = "로그인한 기기를 찾을 수 없어요."
    http_status = 404


class UserNotFound(DomainError):
    code = "user_not_found"
    message = "사용자를 찾을 수 없어요."
    http_status = 404


class TradeNotFound(DomainError):
    code = "trade_not_found"
    message = "거래를 찾을 수 없어요."
    http_status = 404


class TradeStateError(DomainError):
    """The trade is not in a state that allows this step (someone else acted first)."""

    code = "trade_state"
    message = "지금은 이 거래에서 할 수 없는 일이에요."
    http_status = 409


# --- the live door's own refusals (realtime.frames, auctions.consumers) ------------


class BadFrame(DomainError):
    code = "bad_frame"
    message = "메시지 형식이 올바르지 않아요. JSON 객체 하나를 보내 주세요."


class FrameTooLarge(DomainError):
    code = "frame_too_large"
    message = "메시지가 너무 커요."


class UnknownType(DomainError):
    code = "unknown_type"
    message = "알 수 없는 요청 종류예요."


class ServerError(DomainError):
    code = "server_error"
    message = "일시적인 오류가 발생했어요. 같은 요청 번호로 다시 시도해 주세요."
    http_status = 500


class ServiceUnavailable(DomainError):
    """The database is away or overloaded (a lost connection, a full pool): nothing was changed;
    answered with 503 and Retry-After (neighborbid/unavailable.py)."""

    code = "unavailable"
    message = "지금 서버에 연결이 몰려 요청을 처리하지 못했어요. 아무것도 바뀌지 않았어요. 잠시 후 다시 시도해 주세요."
    http_status = 503
    retry_after = 5

    def __init__(self, message: str | None = None, **details: Any) -> None:
        details.setdefault("retry_after", self.retry_after)
        super().__init__(message, **details)


class ServerBusy(ServiceUnavailable):
    """No HTTP request turn came free in time in this process (neighborbid/handlers.py): the
    request was read, its view never run."""

    code = "busy"
    message = "지금 요청이 몰려 이 요청을 처리하지 못했어요. 아무것도 바뀌지 않았어요. 잠시 후 다시 시도해 주세요."
    retry_after = 2


class Overloaded(ServiceUnavailable):
    """Too many bids are already waiting for this auction in this process (auctions/admission.py)."""

    code = "overloaded"
    message = "지금 이 경매에 입찰이 몰려 있어요. 아무것도 바뀌지 않았어요. 잠시 후 다시 시도해 주세요."
    retry_after = 2


# --- chat (chat/: listing questions and the private room of a trade) -----------------------------


class ChatNotFound(DomainError):
    """No such room, or not yours to read (a stranger learns nothing more than "not found")."""

    code = "chat_not_found"
    message = "채팅방을 찾을 수 없어요."
    http_status = 404


class ChatClosed(DomainError):
    code = "chat_closed"
    message = "운영자가 닫은 채팅방이에요. 더 이상 메시지를 보낼 수 없어요."
    http_status = 409


class ChatBlocked(DomainError):
    code = "blocked"
    message = "상대방에게 메시지를 보낼 수 없어요."
    http_status = 403

    @classmethod
    def by_me(cls) -> ChatBlocked:
        """The writer blocked the other side (the other way round says only the default)."""
        return cls("내가 차단한 이웃이에요. 차단을 풀어야 메시지를 보낼 수 있어요.")


class InvalidMessage(InvalidRequest):
    code = "invalid_message"
    message = "메시지를 입력해 주세요."


class QuestionNotFound(DomainError):
    code = "question_not_found"
    message = "질문을 찾을 수 없어요."
    http_status = 404


class InvalidPushSubscription(DomainError):
    code = "invalid_push_subscription"
    message = "이 브라우저의 알림 구독 정보가 올바르지 않아요. 다시 켜 주세요."
