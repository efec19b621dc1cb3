"""Strict parsing of chat client frames (docs/protocol.md, "Chat"), by the same rules as the
auction door (realtime.frames): one JSON object, no NaN/Infinity, no duplicate keys,
an allow-list of types with exact field sets, typed values only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from chat.models import TEXT_MAX
from neighborbid.errors import BadFrame, FrameTooLarge, InvalidMessage, InvalidRequest, UnknownType
from realtime.frames import FrameRejected, no_constants, no_duplicates, valid_request_id

# 1,000 characters of text, each possibly written as a 6-character \uXXXX escape, plus the rest.
MAX_FRAME_CHARS = 6 * TEXT_MAX + 512

CLIENT_TYPES: dict[str, tuple[frozenset, frozenset]] = {
    "send": (frozenset({"type", "request_id", "text"}), frozenset({"request_id", "text"})),
    "sync": (frozenset({"type", "request_id", "seq"}), frozenset({"seq"})),
    "read": (frozenset({"type", "seq"}), frozenset({"seq"})),
}


@dataclass(frozen=True)
class ChatRequest:
    type: str
    request_id: str | None
    text: str | None = None
    seq: int | None = None


def parse_chat_frame(text: str | None) -> ChatRequest:
    if text is None:
        raise FrameRejected(BadFrame())
    if len(text) > MAX_FRAME_CHARS:
        raise FrameRejected(FrameTooLarge(f"메시지가 너무 커요. ({MAX_FRAME_CHARS:,}자 이하)"))
    try:
        data = json.loads(text, parse_constant=no_constants, parse_float=Decimal, object_pairs_hook=no_duplicates)
    except (ValueError, RecursionError):
        raise FrameRejected(BadFrame()) from None
    if not isinstance(data, dict):
        raise FrameRejected(BadFrame())
    request_id = valid_request_id(data.get("request_id"))
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        raise FrameRejected(UnknownType(), request_id)
    allowed, required = CLIENT_TYPES[kind]
    if set(data) - allowed:
        raise FrameRejected(InvalidRequest("알 수 없는 항목이 있어요."), request_id)
    if "request_id" in data and request_id is None:
        raise FrameRejected(InvalidRequest("요청 번호(request_id)는 1~64자의 문자열이어야 해요."))
    missing = required - set(data)
    if missing:
        raise FrameRejected(InvalidRequest(f"빠진 항목: {', '.join(sorted(missing))}"), request_id)
    body = None
    if kind == "send":
        body = data["text"]
        if not isinstance(body, str):
            raise FrameRejected(InvalidMessage("메시지는 문자열이어야 해요."), request_id)
    seq = None
    if "seq" in data:
        seq = data["seq"]
        if type(seq) is not int or not (0 <= seq < 2**63):
            raise FrameRejected(InvalidRequest("seq는 0 이상의 정수여야 해요."), request_id)
    return ChatRequest(type=kind, request_id=request_id, text=body, seq=seq)
