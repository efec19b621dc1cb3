"""Events leave the database only here, and only after commit.

`send_event_on_commit` is the one helper the services call. The callback is registered with
robust=True: an exception in it (Redis down) is logged and never escapes after the commit,
so a committed bid is never reported as failed (and never retried into a double bid).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, TypedDict

from django.db import transaction

from neighborbid import bus

if TYPE_CHECKING:
    from auctions.selectors import PublicState


class EndedEvent(TypedDict):
    type: str
    auction_id: int
    seq: int
    status: str
    end_reason: str | None
    final_price: int | None
    winner: str | None
    winner_tag: str | None


def ended_event(state: PublicState) -> EndedEvent:
    """The `ended` message for an ended auction's public state: the one builder, used by the
    services when an auction ends and by the hub when it recovers a lost one."""
    sold = state["status"] == "sold"
    return {
        "type": "ended",
        "auction_id": state["auction_id"],
        "seq": state["seq"],
        "status": state["status"],
        "end_reason": state.get("end_reason"),
        "final_price": state["current_price"] if sold else None,
        "winner": state.get("leader") if sold else None,
        # the winner's leader_tag: their own page can say "낙찰됐어요" (docs/protocol.md)
        "winner_tag": state.get("leader_tag") if sold else None,
    }


def auction_channel(auction_id: int) -> str:
    return f"{bus.channel_prefix()}:auction:{auction_id}"


def user_channel(user_id: int) -> str:
    return f"{bus.channel_prefix()}:user:{user_id}"


def send_event_on_commit(*, channel: str, event: dict) -> None:
    if "type" not in event:
        raise ValueError("an event needs a type")
    transaction.on_commit(partial(bus.publish, channel, event), robust=True)


def send_auction_event_on_commit(*, auction_id: int, event: dict) -> None:
    send_event_on_commit(channel=auction_channel(auction_id), event=event)


def send_user_event_on_commit(*, user_id: int, event: dict) -> None:
    send_event_on_commit(channel=user_channel(user_id), event=event)


def send_user_events_on_commit(*, user_ids: list[int], event: dict) -> None:
    """One event for several users (a chat room's two sides): encoded once and published to
    each user's channel in one Redis round trip, after commit."""
    if "type" not in event:
        raise ValueError("an event needs a type")
    channels = [user_channel(user_id) for user_id in dict.fromkeys(user_ids)]
    transaction.on_commit(partial(bus.publish_many, channels, event), robust=True)
