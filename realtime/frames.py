"""Strict parsing of client frames (docs/protocol.md).

Python's json accepts NaN, Infinity, 1e999 and duplicate keys; none of that gets through
here. A frame is a JSON object no larger than MAX_FRAME_CHARS, its `type` is one of an
allow-list, it has exactly the fields of that type, and an amount is a JSON integer (not a
float, not a string, not a bool). Nothing parsed here is ever forwarded anywhere: the consumer
reads the few typed values out of a ClientRequest and calls a service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from neighborbid.errors import (  # noqa: F401  (re-exported for the consumer)
    BadFrame,
    DomainError,
    FrameTooLarge,
    InvalidAmount,
    InvalidRequest,
    LoginRequired,
    ServerError,
    UnknownType,
)
from wallets.amounts import parse_won

MAX_FRAME_CHARS = 2048
REQUEST_ID_MAX = 64


# type -> (allowed fields, required fields)
CLIENT_TYPES: dict[str, tuple[frozenset, frozenset]] = {
    "bid": (frozenset({"type", "request_id", "amount", "max_amount"}), frozenset({"request_id", "amount"})),
    "buy_now": (frozenset({"type", "request_id"}), frozenset({"request_id"})),
    "sync": (frozenset({"type", "request_id", "seq"}), frozenset()),
}


@dataclass(frozen=True)
class ClientRequest:
    type: str
    request_id: str | None
    amount: int | None = None
    seq: int | None = None
    max_amount: int | None = None  # max bidding: optional, ≥ amount (docs/protocol.md)


class FrameRejected(Exception):
    """A frame that gets an error reply; `request_id` is echoed when it was readable."""

    def __init__(self, error: DomainError, request_id: str | None = None) -> None:
        super().__init__(error.code)
        self.error = error
        self.request_id = request_id


def no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def no_duplicates(pairs: list) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def valid_request_id(value: object) -> str | None:
    if isinstance(value, str) and 1 <= len(value) <= REQUEST_ID_MAX and value.isprintable():
        return value
    return None


def parse_frame(text: str | None, bytes_data: bytes | None = None) -> ClientRequest:
    if text is None:
        raise FrameRejected(BadFrame("텍스트(JSON) 메시지만 받을 수 있어요."))
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
    unknown = set(data) - allowed
    if unknown:
        raise FrameRejected(InvalidRequest("알 수 없는 항목이 있어요."), request_id)
    if "request_id" in data and request_id is None:
        raise FrameRejected(InvalidRequest("요청 번호(request_id)는 1~64자의 문자열이어야 해요."))
    missing = required - set(data)
    if missing:
        raise FrameRejected(InvalidRequest(f"빠진 항목: {', '.join(sorted(missing))}"), request_id)
    amount = None
    if kind == "bid":
        value = data["amount"]
        # A JSON integer only: floats arrive as Decimal, strings and bools are refused too.
        if type(value) is not int:
            raise FrameRejected(InvalidAmount(), request_id)
        try:
            amount = parse_won(value)
        except InvalidAmount as exc:
            raise FrameRejected(exc, request_id) from None
    max_amount = None
    if kind == "bid" and data.get("max_amount") is not None:
        value = data["max_amount"]
        if type(value) is not int:
            raise FrameRejected(InvalidAmount(), request_id)
        try:
            max_amount = parse_won(value)
        except InvalidAmount as exc:
            raise FrameRejected(exc, request_id) from None
    seq = None
    if "seq" in data:
        seq = data["seq"]
        if type(seq) is not int or seq < 0:
            raise FrameRejected(InvalidRequest("seq는 0 이상의 정수여야 해요."), request_id)
    return ClientRequest(type=kind, request_id=request_id, amount=amount, seq=seq, max_amount=max_amount)
