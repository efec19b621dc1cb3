"""Events leave the database only here, and only after commit.

Two roads (docs/realtime.md): the hot auction states go on the bus (`send_event_on_commit` →
neighborbid.bus → each process's hub); the small personal and per-room messages go through
the Channels layer (`send_user_event_on_commit`, `send_user_events_on_commit`,
`send_room_event_on_commit` → realtime.layer → group_send). Every callback is registered with
robust=True and never raises either: an error in it (Redis down) is logged and never escapes
after the commit, so a committed bid is never reported as failed (and never retried into a
double bid).
"""

from __future__ import annotations

from neighborbid import bus
from neighborbid.commit import on_commit_robust
from realtime import layer


def auction_channel(auction_id: int) -> str:
    return f"{bus.channel_prefix()}:auction:{auction_id}"


def send_event_on_commit(*, channel: str, event: dict) -> None:
    if "type" not in event:
        raise ValueError("an event needs a type")
    on_commit_robust(bus.publish, channel, event)


def send_group_event_on_commit(*, groups: list[str], handler: str, event: dict) -> None:
    if "type" not in event:
        raise ValueError("an event needs a type")
    on_commit_robust(layer.send_event, groups, event, handler=handler)


def send_user_event_on_commit(*, user_id: int, event: dict) -> None:
    """A personal event (a notification, a chat read mark, "re-check your session") for every
    live socket of one user, after commit, through the channel layer's group `user.<id>`."""
    send_group_event_on_commit(groups=[layer.user_group(user_id)], handler=layer.USER_EVENT, event=event)


def send_user_events_on_commit(*, user_ids: list[int], event: dict) -> None:
    """One personal event for several users, after commit."""
    groups = [layer.user_group(user_id) for user_id in dict.fromkeys(user_ids)]
    send_group_event_on_commit(groups=groups, handler=layer.USER_EVENT, event=event)


def send_room_event_on_commit(*, room_id: int, event: dict) -> None:
    """A chat room's event (a message, a meeting, the room closed) for both participants' chat
    sockets of that room, after commit, through the group `chat.room.<id>`."""
    send_group_event_on_commit(groups=[layer.room_group(room_id)], handler=layer.ROOM_EVENT, event=event)
