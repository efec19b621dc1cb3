"""Events leave the database only here, and only after commit.

`send_event_on_commit` is the one helper the services call (directly or through
`send_user_event_on_commit` / `send_user_events_on_commit` / auctions.events). The callback is
registered with robust=True: an exception in it (Redis down) is logged and never escapes after
the commit, so a committed bid is never reported as failed (and never retried into a double bid).
"""

from __future__ import annotations

from functools import partial

from django.db import transaction

from neighborbid import bus


def auction_channel(auction_id: int) -> str:
    return f"{bus.channel_prefix()}:auction:{auction_id}"


def user_channel(user_id: int) -> str:
    return f"{bus.channel_prefix()}:user:{user_id}"


def send_event_on_commit(*, channel: str, event: dict) -> None:
    if "type" not in event:
        raise ValueError("an event needs a type")
    transaction.on_commit(partial(bus.publish, channel, event), robust=True)


def send_user_event_on_commit(*, user_id: int, event: dict) -> None:
    send_event_on_commit(channel=user_channel(user_id), event=event)


def send_user_events_on_commit(*, user_ids: list[int], event: dict) -> None:
    """One event for several users (a chat room's two sides): encoded once and published to
    each user's channel in one Redis round trip, after commit."""
    if "type" not in event:
        raise ValueError("an event needs a type")
    channels = [user_channel(user_id) for user_id in dict.fromkeys(user_ids)]
    transaction.on_commit(partial(bus.publish_many, channels, event), robust=True)
