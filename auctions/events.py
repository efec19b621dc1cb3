"""The auction half of the on-commit event sender: the `ended` event and the auction channel.

The generic half (robust on-commit publishing, user channels) is realtime.events; the names
below are re-exported from there so the auction services import one module."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from realtime import layer
from realtime.events import (
    auction_channel,
    send_event_on_commit,
    send_group_event_on_commit,
    send_room_event_on_commit,
    send_user_event_on_commit,
    send_user_events_on_commit,
)

if TYPE_CHECKING:
    from auctions.selectors import PublicState


__all__ = [
    "EndedEvent",
    "auction_channel",
    "ended_event",
    "send_auction_event_on_commit",
    "send_event_on_commit",
    "send_room_event_on_commit",
    "send_user_event_on_commit",
    "send_user_events_on_commit",
]


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


def send_auction_event_on_commit(*, auction_id: int, event: dict) -> None:
    """A state or `ended` for everyone watching, after commit: on the bus to every process's hub
    (the default), or with REALTIME["FANOUT"] = "channels" through the group `auction.<id>`."""
    if layer.fanout_mode() == "channels":
        send_group_event_on_commit(groups=[layer.auction_group(auction_id)], handler=layer.AUCTION_EVENT, event=event)
        return
    send_event_on_commit(channel=auction_channel(auction_id), event=event)
