"""Messages in a trade's room: text (idempotent by the client's id), photos, and meeting
proposals and their acceptance. Numbered by the room's seq under its row lock."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Neighbourhood, User
from accounts.selectors import access_user
from chat.models import TEXT_MAX, Message, Room
from chat.selectors import message_payload
from chat.services._common import (
    PLACE_MAX,
    SendResult,
    _append,
    _clean,
    _earlier,
    _locked_room,
    _publish,
    _valid_client_id,
    contact_warning,
    logger,
)
from neighborbid.errors import (
    InvalidRequest,
    PermissionDenied,
)


def _twin(error: IntegrityError, *, room_id: int, user: User, client_id: str) -> SendResult:
    """After a write refused by the one-message-per-client-id constraint: the twin request that
    committed it first (the lock's resend check reads as of its statement's start, so a twin
    committed while we waited for the lock is seen only by the constraint). Anything else is
    re-raised."""
    twin = None
    if client_id:
        twin = Message.objects.select_related("room").filter(room_id=room_id, sender=user, client_id=client_id).first()
    if twin is None:
        raise error
    return SendResult(twin, True, twin.warning)


def message_send(
    *,
    actor: User,
    room_id: int,
    text: str,
    client_id: str | None = None,
) -> SendResult:
    """A text message from one side of the room. The same `client_id` again returns the first
    message (a resend after a lost answer sends nothing twice). A phone or account number
    only sets the gentle warning."""
    user = access_user(actor)
    text = _clean(text, label="메시지", max_length=TEXT_MAX)
    client_id = _valid_client_id(client_id)
    warning = contact_warning(text)
    try:
        with transaction.atomic():
            locked = _locked_room(room_id, user, client_id=client_id)
            room, earlier = locked.room, _earlier(locked)
            if earlier is not None:
                return SendResult(earlier, True, earlier.warning)
            message = _append(
                room,
                sender=user,
                now=timezone.now(),
                kind=Message.Kind.TEXT,
                text=text,
                client_id=client_id,
                warning=warning,
            )
    except IntegrityError as error:
        return _twin(error, room_id=room_id, user=user, client_id=client_id)
    return SendResult(message, False, warning)


def message_send_photo(
    *, actor: User, room_id: int, upload: UploadedFile[Any], client_id: str | None = None
) -> SendResult:
    """A photo, through the listing photos' pipeline: checked and resized before the lock, the
    files written after commit (the row names them)."""
    from auctions.images import process_upload

    user = access_user(actor)
    client_id = _valid_client_id(client_id)
    processed = process_upload(upload)
    try:
        with transaction.atomic():
            locked = _locked_room(room_id, user, client_id=client_id)
            room, earlier = locked.room, _earlier(locked)
            if earlier is not None:
                return SendResult(earlier, True, False)
            stem = f"chat/{room.pk}/{uuid.uuid4().hex[:16]}"
            files = [(f"{stem}.jpg", processed.image), (f"{stem}_t.jpg", processed.thumbnail)]
            message = _append(
                room,
                sender=user,
                now=timezone.now(),
                kind=Message.Kind.PHOTO,
                image=files[0][0],
                thumbnail=files[1][0],
                client_id=client_id,
            )
            transaction.on_commit(lambda: _write_files(files), robust=True)
    except IntegrityError as error:
        return _twin(error, room_id=room_id, user=user, client_id=client_id)
    return SendResult(message, False, False)


def _write_files(files: Sequence[tuple[str, File[Any]]]) -> None:
    for name, content in files:
        stored = default_storage.save(name, content)
        if stored != name:  # random names: never expected
            logger.error("chat photo stored as %s instead of %s", stored, name)


def meeting_propose(
    *,
    actor: User,
    room_id: int,
    meet_at: datetime,
    place: str = "",
    neighbourhood_id: int | None = None,
    client_id: str | None = None,
) -> SendResult:
    """A meeting proposal: a place (free text, or one of the 동 offered for the seller) and a
    date and time in the future. The other side may accept it."""
    user = access_user(actor)
    client_id = _valid_client_id(client_id)
    if not isinstance(meet_at, datetime) or timezone.is_naive(meet_at):
        raise InvalidRequest("약속 날짜와 시간을 골라 주세요.")
    now = timezone.now()
    if meet_at <= now:
        raise InvalidRequest("약속 시간은 지금보다 뒤여야 해요.")
    if (meet_at - now).days > 60:
        raise InvalidRequest("약속은 60일 안으로 잡아 주세요.")
    place = (place or "").replace("\x00", "").strip()
    if len(place) > PLACE_MAX:
        raise InvalidRequest(f"장소는 {PLACE_MAX}자 이하로 써 주세요.")
    spot = None
    if neighbourhood_id is not None:
        spot = Neighbourhood.objects.filter(pk=neighbourhood_id).first()
        if spot is None:
            raise InvalidRequest("고를 수 있는 동네가 아니에요.")
    if not place and spot is None:
        raise InvalidRequest("만날 장소를 적거나 동네를 골라 주세요.")
    try:
        with transaction.atomic():
            locked = _locked_room(room_id, user, client_id=client_id)
            room = locked.room
            from trades.models import Trade

            if Trade.objects.filter(pk=room.trade_id, is_national=True).exists():
                raise InvalidRequest("택배 거래는 만날 약속 없이 발송 정보로 진행해요.")
            if spot is not None:
                from chat.selectors import meeting_places

                if spot.pk not in {n.pk for n in meeting_places(room=room)}:
                    raise InvalidRequest("고를 수 있는 동네가 아니에요.")
            earlier = _earlier(locked)
            if earlier is not None:
                return SendResult(earlier, True, earlier.warning)
            message = _append(
                room,
                sender=user,
                now=now,
                kind=Message.Kind.MEETING,
                place=place,
                place_neighbourhood=spot,
                meet_at=meet_at,
                client_id=client_id,
                warning=contact_warning(place),
            )
    except IntegrityError as error:
        return _twin(error, room_id=room_id, user=user, client_id=client_id)
    return SendResult(message, False, message.warning)


def meeting_accept(*, actor: User, room_id: int, message_id: int) -> Room:
    """The other side accepts a proposal: it becomes the room's meeting (shown on the trade
    page), and a short notice joins the conversation."""
    user = access_user(actor)
    with transaction.atomic():
        room = _locked_room(room_id, user).room
        proposal = Message.objects.filter(pk=message_id, room=room, kind=Message.Kind.MEETING).first()
        if proposal is None:
            raise InvalidRequest("약속 제안을 찾을 수 없어요.")
        if proposal.sender_id == user.pk:
            raise PermissionDenied("내가 보낸 제안은 상대방이 수락해요.")
        if proposal.accepted_at is not None:
            raise InvalidRequest("이미 수락한 약속이에요.")
        now = timezone.now()
        if proposal.meet_at is not None and proposal.meet_at <= now:
            raise InvalidRequest("약속 시간이 이미 지났어요. 새로 제안해 주세요.")
        proposal.accepted_at = now
        Message.objects.filter(pk=proposal.pk).update(accepted_at=now)
        Room.objects.filter(pk=room.pk).update(meeting=proposal)
        room.meeting = proposal
        _append(room, sender=user, now=now, kind=Message.Kind.SYSTEM, text="약속을 수락했어요.")
        _publish(
            room,
            {"type": "chat.meeting", "room_id": room.pk, "seq": proposal.seq, "message": message_payload(proposal)},
        )
    return room
