"""A trade's private chat over HTTP (the live socket works with a ticket too: POST /ws-ticket):
my rooms, a trade's room, messages after a seq, send (idempotent by Idempotency-Key, the
message's client id), and the read mark. A room that is not mine is 404 chat_not_found."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import File, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from accounts.models import User
from api.auth import actor, rate_limit_bucket
from api.routes.common import IDEMPOTENCY_KEY
from api.schemas import (
    AnswerOut,
    BlockIn,
    BlockOut,
    ChatReportIn,
    DoneOut,
    MeetingIn,
    MessageIn,
    MessageOut,
    MessagePage,
    PageIn,
    PartyOut,
    QuestionIn,
    QuestionOut,
    QuestionPage,
    ReadIn,
    ReadOut,
    RoomOut,
    SentOut,
    problems,
)
from auctions.models import Auction
from chat import selectors, services
from chat.models import Message, Question, Room
from neighborbid.errors import AuctionNotFound, ChatNotFound

router = Router(tags=["chat"])
PAGE = 100


def _room(room: Room, user: User, *, unread: int | None = None) -> RoomOut:
    role = selectors.room_role(room, user.pk)
    other = room.seller if role == "buyer" else room.buyer if role == "seller" else None
    read_seq = room.buyer_read_seq if role == "buyer" else room.seller_read_seq if role == "seller" else None
    return RoomOut(
        id=room.pk,
        trade_id=room.trade_id,
        title=room.trade.auction.title,
        role=role,  # type: ignore[arg-type]  # buyer, seller or None
        other=PartyOut(id=other.pk, nickname=other.nickname) if other is not None else None,
        status=room.status,
        seq=room.seq,
        read_seq=read_seq,
        unread=unread if unread is not None else (room.seq - read_seq if read_seq is not None else 0),
    )


@router.get("/chat/rooms", response={200: list[RoomOut], **problems(401)}, summary="나의 채팅")
def rooms(request: HttpRequest):
    """Rooms with at least one message, the newest first (at most 100)."""
    user = actor(request)
    return [_room(room, user, unread=room.unread) for room in selectors.user_rooms(user_id=user.pk)[:100]]


@router.get("/trades/{trade_id}/chat", response={200: RoomOut, **problems(401, 404)}, summary="거래 채팅방")
def trade_room(request: HttpRequest, trade_id: int):
    """The trade's room for one of its two sides (opened now if the trade predates chat)."""
    user = actor(request)
    room = services.chat_room_ensure(actor=user, trade_id=trade_id)
    return _room(selectors.room_for_reader(room_id=room.pk, user=user), user)


class AfterIn(Schema):
    after_seq: int = Field(0, ge=0, le=2**63 - 1)


@router.get("/chat/rooms/{room_id}/messages", response={200: MessagePage, **problems(401, 404)}, summary="메시지")
def messages(request: HttpRequest, room_id: int, page: Query[AfterIn]):
    """Messages with seq > after_seq, oldest first (at most 100 a call)."""
    user = actor(request)
    room = selectors.room_for_reader(room_id=room_id, user=user)
    viewer = user.pk if selectors.room_role(room, user.pk) else None
    rows = selectors.room_messages_after(room=room, user_id=viewer, after=page.after_seq, limit=PAGE + 1)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return MessagePage(
        items=[MessageOut.model_validate(row) for row in rows], next_after_seq=rows[-1]["seq"] if more else None
    )


@router.post(
    "/chat/rooms/{room_id}/messages",
    response={201: SentOut, **problems(400, 401, 403, 404, 409, 429)},
    summary="메시지 보내기",
)
def send(request: HttpRequest, room_id: int, data: MessageIn, idempotency_key: IDEMPOTENCY_KEY):
    """The same Idempotency-Key again answers the first message (`duplicate: true`): a resend
    after a lost answer sends nothing twice. Limited like the page (chat-send bucket)."""
    user = actor(request)
    _send_limit(user)
    result = services.message_send(actor=user, room_id=room_id, text=data.text, client_id=idempotency_key)
    return Status(201, _sent(result))


@router.post("/chat/rooms/{room_id}/read", response={200: ReadOut, **problems(401, 404)}, summary="읽음 표시")
def read(request: HttpRequest, room_id: int, data: ReadIn):
    return ReadOut(read_seq=services.room_mark_read(actor=actor(request), room_id=room_id, seq=data.seq))


def _send_limit(user: User) -> None:
    chat = getattr(settings, "CHAT", {})
    rate_limit_bucket(
        key=f"chat-send:{user.pk}",
        rate=float(chat.get("MESSAGE_RATE_PER_S", 1.0)),
        burst=int(chat.get("MESSAGE_BURST", 10)),
        message="메시지를 너무 빨리 보내고 있어요. 잠시 후 다시 보내 주세요.",
    )


def _sent(result: services.SendResult) -> SentOut:
    return SentOut(
        message=MessageOut.model_validate(selectors.message_payload(result.message)),
        duplicate=result.duplicate,
        warning=services.SAFE_PAY_WARNING if result.warning else None,
    )


@router.post(
    "/chat/rooms/{room_id}/photos",
    response={201: SentOut, **problems(400, 401, 403, 404, 409, 413, 429)},
    summary="사진 보내기 (multipart)",
)
def send_photo(request: HttpRequest, room_id: int, photo: File[UploadedFile], idempotency_key: IDEMPOTENCY_KEY):
    """multipart/form-data, field `photo`. Idempotent like a text message."""
    user = actor(request)
    _send_limit(user)
    result = services.message_send_photo(actor=user, room_id=room_id, upload=photo, client_id=idempotency_key)
    return Status(201, _sent(result))


@router.post(
    "/chat/rooms/{room_id}/meetings",
    response={201: SentOut, **problems(400, 401, 403, 404, 409, 429)},
    summary="약속 제안",
)
def meeting_propose(request: HttpRequest, room_id: int, data: MeetingIn, idempotency_key: IDEMPOTENCY_KEY):
    """A place (free text and/or one of the 동 offered for the seller) and a time in the future."""
    user = actor(request)
    _send_limit(user)
    result = services.meeting_propose(
        actor=user,
        room_id=room_id,
        meet_at=data.meet_at,
        place=data.place,
        neighbourhood_id=data.neighbourhood_id,
        client_id=idempotency_key,
    )
    return Status(201, _sent(result))


@router.post(
    "/chat/rooms/{room_id}/meetings/{message_id}/accept",
    response={200: DoneOut, **problems(401, 403, 404, 409)},
    summary="약속 수락",
)
def meeting_accept(request: HttpRequest, room_id: int, message_id: int):
    services.meeting_accept(actor=actor(request), room_id=room_id, message_id=message_id)
    return DoneOut()


@router.post(
    "/chat/rooms/{room_id}/messages/{message_id}/hide",
    response={200: DoneOut, **problems(401, 404)},
    summary="나에게서 숨기기",
)
def hide(request: HttpRequest, room_id: int, message_id: int):
    """Hidden for me only; the other side and moderators still see it."""
    user = actor(request)
    selectors.room_participant(room_id=room_id, user_id=user.pk)
    if not Message.objects.filter(pk=message_id, room_id=room_id).exists():
        raise ChatNotFound("메시지를 찾을 수 없어요.")
    services.message_hide(actor=user, message_id=message_id)
    return DoneOut()


@router.post(
    "/chat/rooms/{room_id}/report", response={201: DoneOut, **problems(400, 401, 404, 429)}, summary="채팅 신고"
)
def report(request: HttpRequest, room_id: int, data: ChatReportIn):
    """A message (or the room) to the moderators' queue; from then on they may read the room."""
    user = actor(request)
    rate_limit_bucket(
        key=f"chat-report:{user.pk}", rate=1 / 60, burst=10, message="신고가 너무 잦아요. 잠시 후 다시 시도해 주세요."
    )
    services.chat_report_create(
        actor=user, room_id=room_id, reason=data.reason, text=data.text, message_id=data.message_id
    )
    return Status(201, DoneOut())


@router.put("/chat/rooms/{room_id}/block", response={200: BlockOut, **problems(401, 403, 404)}, summary="차단")
def block(request: HttpRequest, room_id: int, data: BlockIn):
    """`{"blocked": true}` blocks the other side of this room (neither can write; the trade goes
    on), `false` lifts it. Setting the same value twice is fine."""
    user = actor(request)
    room = selectors.room_participant(room_id=room_id, user_id=user.pk)
    other = room.other_id(user.pk)
    if data.blocked:
        services.user_block(actor=user, user_id=other)
    else:
        services.user_unblock(actor=user, user_id=other)
    return BlockOut(blocked=data.blocked)


# --- questions on a listing (public Q&A) -------------------------------------------------------


@router.get(
    "/auctions/{auction_id}/questions",
    auth=None,
    response={200: QuestionPage, **problems(404, 422)},
    summary="상품 문의",
)
def questions(request: HttpRequest, auction_id: int, page: Query[PageIn]):
    """The listing's public questions, newest first, askers masked, with the seller's answers."""
    if not Auction.objects.filter(pk=auction_id, is_hidden=False).exists():
        raise AuctionNotFound()
    found = selectors.listing_questions(auction_id=auction_id, page=page.page)
    return QuestionPage(
        items=[_question(q) for q in found.object_list],
        next_page=found.next_page_number() if found.has_next() else None,
    )


def _question(q: Question) -> QuestionOut:
    return QuestionOut(
        id=q.pk,
        asker=selectors.asker_name(q),
        text=q.text,
        created_at=q.created_at,
        answers=[AnswerOut(id=a.pk, text=a.text, created_at=a.created_at) for a in q.answers.all()],
    )


@router.post(
    "/auctions/{auction_id}/questions",
    response={201: QuestionOut, **problems(400, 401, 403, 409, 429)},
    summary="문의 남기기",
)
def question_ask(request: HttpRequest, auction_id: int, data: QuestionIn):
    user = actor(request)
    chat = getattr(settings, "CHAT", {})
    rate_limit_bucket(
        key=f"chat-question:{user.pk}",
        rate=float(chat.get("QUESTION_RATE_PER_S", 1 / 30)),
        burst=int(chat.get("QUESTION_BURST", 5)),
        message="문의를 너무 자주 남기고 있어요. 잠시 후 다시 시도해 주세요.",
    )
    question = services.question_ask(actor=user, auction_id=auction_id, text=data.text)
    return Status(201, _question(question))


@router.post(
    "/questions/{question_id}/answers", response={201: AnswerOut, **problems(400, 401, 403, 404)}, summary="문의 답변"
)
def question_answer(request: HttpRequest, question_id: int, data: QuestionIn):
    """The seller answers (several answers make the thread)."""
    answer = services.question_answer(actor=actor(request), question_id=question_id, text=data.text)
    return Status(201, AnswerOut(id=answer.pk, text=answer.text, created_at=answer.created_at))
