"""Chat reads: who may read a room, its messages in the wire shape, the room list with unread
counts, the listing's questions, the meeting places offered."""

from __future__ import annotations

from typing import Any, TypedDict

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Case, F, IntegerField, OuterRef, Q, Subquery, When

from accounts.models import Neighbourhood
from accounts.selectors import neighbourhood_distance_km, neighbourhood_ids_within
from auctions.rules import mask_name
from chat.models import Block, ChatReport, Message, MessageHide, Question, Room
from neighborbid.errors import ChatNotFound

QUESTIONS_PER_PAGE = 5
PAGE_MESSAGES = 200


class MessagePayload(TypedDict, total=False):
    id: int
    seq: int
    kind: str
    sender: str | None  # "buyer", "seller", or None (a notice from the service)
    text: str
    image: str | None
    thumbnail: str | None
    place: str
    place_neighbourhood: str | None
    meet_at: str | None
    accepted_at: str | None
    warning: bool
    client_id: str
    created_at: str
    hidden: bool


def room_role(room: Room, user_id: int | None) -> str | None:
    if user_id == room.buyer_id:
        return "buyer"
    if user_id == room.seller_id:
        return "seller"
    return None


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def message_payload(message: Message, *, room: Room | None = None) -> MessagePayload:
    """A message as every door shows it (the socket's frames, the JSON re-check, the page's
    script). Text is plain text: clients render it as text, never as HTML."""
    room = room or message.room
    place_name = None
    if message.place_neighbourhood_id is not None:
        spot = message.place_neighbourhood
        place_name = f"{spot.district} {spot.name}" if spot is not None else None
    return {
        "id": message.pk,
        "seq": message.seq,
        "kind": message.kind,
        "sender": room_role(room, message.sender_id) if message.sender_id else None,
        "text": message.text,
        "image": message.image.url if message.image else None,
        "thumbnail": message.thumbnail.url if message.thumbnail else None,
        "place": message.place,
        "place_neighbourhood": place_name,
        "meet_at": _iso(message.meet_at),
        "accepted_at": _iso(message.accepted_at),
        "warning": message.warning,
        "client_id": message.client_id,
        "created_at": message.created_at.isoformat(),
    }


def hidden_placeholder(message: Message) -> MessagePayload:
    return {"id": message.pk, "seq": message.seq, "kind": message.kind, "hidden": True}


def room_is_reported(*, room_id: int) -> bool:
    return ChatReport.objects.filter(room_id=room_id).exists()


def room_for_reader(*, room_id: int, user) -> Room:
    """The room, for one of its two sides, or for a moderator once the room (or a message in it)
    was reported. Anyone else: ChatNotFound (a stranger learns nothing)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise ChatNotFound()
    room = Room.objects.select_related("trade__auction", "buyer", "seller", "meeting").filter(pk=room_id).first()
    if room is None:
        raise ChatNotFound()
    if user.pk in (room.buyer_id, room.seller_id):
        return room
    if user.has_perm("chat.moderate_chat") and not user.is_suspended and room_is_reported(room_id=room.pk):
        return room
    raise ChatNotFound()


def room_participant(*, room_id: int, user_id: int) -> Room:
    room = Room.objects.filter(pk=room_id).first()
    if room is None or user_id not in (room.buyer_id, room.seller_id):
        raise ChatNotFound()
    return room


def room_messages_after(*, room: Room, user_id: int | None, after: int, limit: int = PAGE_MESSAGES) -> list[Any]:
    """Messages with seq > `after`, oldest first (at most `limit`); a message this user hid
    comes as a placeholder, so the numbers stay without gaps."""
    messages = list(
        Message.objects.filter(room=room, seq__gt=after).select_related("place_neighbourhood").order_by("seq")[:limit]
    )
    hidden = _hidden_ids(user_id, messages)
    return [hidden_placeholder(m) if m.pk in hidden else message_payload(m, room=room) for m in messages]


def _hidden_ids(user_id: int | None, messages: list[Message]) -> set[int]:
    if user_id is None or not messages:
        return set()
    return set(
        MessageHide.objects.filter(user_id=user_id, message_id__in=[m.pk for m in messages]).values_list(
            "message_id", flat=True
        )
    )


def room_page_messages(*, room: Room, user_id: int | None, limit: int = PAGE_MESSAGES) -> list[Message]:
    """The newest `limit` messages for the page, oldest first, without the ones this user hid
    (a moderator sees everything)."""
    messages = list(Message.objects.filter(room=room).select_related("place_neighbourhood").order_by("-seq")[:limit])
    messages.reverse()
    hidden = _hidden_ids(user_id, messages)
    return [m for m in messages if m.pk not in hidden]


def _unread_expression(user_id: int):
    return Case(
        When(buyer_id=user_id, then=F("seq") - F("buyer_read_seq")),
        When(seller_id=user_id, then=F("seq") - F("seller_read_seq")),
        default=0,
        output_field=IntegerField(),
    )


def user_rooms(*, user_id: int):
    """The room list: rooms with at least one message, the newest first, each with its last
    message (text and kind) and the viewer's unread count."""
    last = Message.objects.filter(room_id=OuterRef("pk")).order_by("-seq")
    return (
        Room.objects.filter(Q(buyer_id=user_id) | Q(seller_id=user_id), seq__gt=0)
        .select_related("trade__auction", "buyer", "seller")
        .annotate(
            unread=_unread_expression(user_id),
            last_text=Subquery(last.values("text")[:1]),
            last_kind=Subquery(last.values("kind")[:1]),
        )
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )


_UNREAD_SQL = (
    "SELECT COALESCE(SUM(CASE WHEN buyer_id = %(user)s THEN seq - buyer_read_seq ELSE seq - seller_read_seq END), 0) "  # noqa: S608 (the table name from meta)
    f"FROM {Room._meta.db_table} WHERE buyer_id = %(user)s OR seller_id = %(user)s"
)


def unread_chat_count(*, user_id: int) -> int:
    """Messages waiting for this user over all their rooms (the header's chat badge, on every
    page and after each read mark on a live room): one plain statement."""
    with connection.cursor() as cursor:
        cursor.execute(_UNREAD_SQL, {"user": user_id})
        (total,) = cursor.fetchone()
    return int(total or 0)


def unread_by_room(*, user_id: int) -> dict[int, int]:
    rooms = Room.objects.filter(Q(buyer_id=user_id) | Q(seller_id=user_id)).annotate(unread=_unread_expression(user_id))
    return dict(rooms.values_list("id", "unread"))


def room_for_trade(*, trade_id: int) -> Room | None:
    return Room.objects.select_related("meeting__place_neighbourhood").filter(trade_id=trade_id).first()


def meeting_places(*, room: Room) -> list[Neighbourhood]:
    """The 동 offered as meeting places: the seller's home 동 first, then those within the
    seller's range, nearest first."""
    seller = room.seller
    origin = seller.neighbourhood
    if origin is None:
        return []
    ids = set(neighbourhood_ids_within(origin=origin, radius_km=float(seller.search_radius_km or 3)))
    places = list(Neighbourhood.objects.filter(pk__in=ids))
    places.sort(key=lambda n: (n.pk != origin.pk, neighbourhood_distance_km(origin, n)))
    return places


def is_blocked(*, blocker_id: int, blocked_id: int) -> bool:
    return Block.objects.filter(blocker_id=blocker_id, blocked_id=blocked_id).exists()


def listing_questions(*, auction_id: int, page: int | str | None = 1) -> Page:
    """The listing's public questions, newest first, with their answers (paginated)."""
    questions = Question.objects.filter(auction_id=auction_id).select_related("asker").prefetch_related("answers")
    return Paginator(questions, QUESTIONS_PER_PAGE).get_page(page)


def asker_name(question: Question) -> str:
    return mask_name(question.asker.display_name)


def report_context(report: ChatReport, *, around: int = 10) -> list[Message]:
    """The conversation around a reported message (or the room's last messages)."""
    qs = Message.objects.filter(room_id=report.room_id).select_related("sender")
    if report.message is not None:
        seq = report.message.seq
        return list(qs.filter(seq__gte=seq - around, seq__lte=seq + around).order_by("seq"))
    messages = list(qs.order_by("-seq")[: 2 * around + 1])
    messages.reverse()
    return messages
