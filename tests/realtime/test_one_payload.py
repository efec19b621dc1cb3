"""Issue 9 #13: one seq, one payload. The `state` message of a bid and the snapshot read later
for the same seq carry the same recent bids and leader, even after the bidder renamed
themselves."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from auctions.services import bid_place
from realtime.hub import load_public_state
from tests import factories as f
from tests.realtime.conftest import open_socket

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async
PER_MESSAGE = {"type", "server_time", "request_id", "you"}


def _public(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k not in PER_MESSAGE}


def _two_bids_then_renames():
    auction = f.make_auction(is_national=True, start_price=10_000)
    alice = f.make_user(nickname="김민수", balance=100_000)
    bob = f.make_user(nickname="박지훈", balance=100_000)
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, request_id=uuid.uuid4().hex)
    state = bid_place(auction_id=auction.pk, actor=bob, amount=11_000, request_id=uuid.uuid4().hex).state
    User.objects.filter(pk=alice.pk).update(nickname="이수진")
    User.objects.filter(pk=bob.pk).update(nickname="최영호")
    return auction, state


def test_the_database_snapshot_equals_the_state_message_of_its_seq():
    auction, state = _two_bids_then_renames()
    assert [b["bidder"] for b in state["recent_bids"]] == ["박*훈", "김*수"] and state["leader"] == "박*훈"
    assert _public(load_public_state(auction.pk)) == _public(state)


async def test_the_socket_snapshot_equals_the_state_message_of_its_seq():
    auction, state = await db(_two_bids_then_renames)()
    ws, snapshot = await open_socket(auction.pk)
    assert snapshot["seq"] == state["seq"]
    assert _public(snapshot) == _public(state)
    await ws.disconnect()
