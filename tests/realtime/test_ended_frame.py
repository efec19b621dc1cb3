"""Issue 9 #20: the `ended` frame lets the winner's page say "낙찰됐어요": it carries the winner's
leader_tag, which equals the winner's own `you.tag` (and nobody else's)."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from tests import factories as f
from tests.realtime.conftest import open_socket, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


async def test_the_ended_frame_names_the_winner_by_tag():
    auction = await db(f.make_auction)(is_national=True, start_price=10_000, buy_now_price=30_000)
    buyer = await db(f.make_user)(nickname="김민수", balance=100_000)
    other = await db(f.make_user)(balance=100_000)
    ws_buyer, snap_buyer = await open_socket(auction.pk, user=buyer)
    ws_other, snap_other = await open_socket(auction.pk, user=other)
    await ws_buyer.send_json_to({"type": "buy_now", "request_id": uuid.uuid4().hex})
    for ws, snap, won in ((ws_buyer, snap_buyer, True), (ws_other, snap_other, False)):
        ended = (await receive_until(ws, lambda m: m["type"] == "ended", timeout=5))[-1]
        assert ended["status"] == "sold" and ended["final_price"] == 30_000 and ended["winner"] == "김*수"
        assert (ended["winner_tag"] == snap["you"]["tag"]) is won
        assert ended["winner_tag"] == snap_buyer["you"]["tag"]
        await ws.disconnect()


async def test_an_unsold_end_names_no_winner():
    from auctions.services import auction_end_early

    seller = await db(f.make_user)()
    auction = await db(f.make_auction)(is_national=True, seller=seller)
    ws, _ = await open_socket(auction.pk)
    await db(auction_end_early)(auction_id=auction.pk, actor=seller)
    ended = (await receive_until(ws, lambda m: m["type"] == "ended", timeout=5))[-1]
    assert (ended["status"], ended["winner"], ended["winner_tag"]) == ("unsold", None, None)
    await ws.disconnect()
