"""A sale from the first bid to the review of both sides, on SQLite: the embedded default of
`make run` (no DATABASE_URL). Run by tests/ops/test_sqlite_default.py in a subprocess whose
DATABASE_URL names a fresh SQLite file (the suite's own database is PostgreSQL).

The services take a PostgreSQL-only fast path in places (one-statement bid and chat writes);
this story walks the portable path of each one and ends with audit_ledger. Each step prints a
line; the last line is "story: ok".
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "neighborbid.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from auctions.audit import audit_ledger  # noqa: E402
from auctions.services import auction_buy_now, bid_place  # noqa: E402
from chat import services as chat  # noqa: E402
from chat.models import Message, Room  # noqa: E402
from neighborbid.errors import BidTooLow, ChatBlocked  # noqa: E402
from reviews.models import Review  # noqa: E402
from reviews.services import review_create  # noqa: E402
from tests import factories as f  # noqa: E402
from trades.models import Trade  # noqa: E402
from trades.services import trade_confirm  # noqa: E402
from wallets.models import Wallet  # noqa: E402


def step(line: str) -> None:
    print(f"story: {line}", flush=True)


def main() -> None:
    assert connection.vendor == "sqlite", connection.vendor
    seller = f.make_user(nickname="판매자")
    alice, bora = f.make_user(nickname="앨리스", balance=200_000), f.make_user(nickname="보라", balance=200_000)

    # bids with maxima: the automatic bid answers a lower one, and a sure loser is refused
    auction = f.make_auction(seller=seller, start_price=10_000, is_national=True)
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=50_000, request_id=f.rid())
    bid_place(auction_id=auction.pk, actor=bora, amount=20_000, request_id=f.rid())
    auction.refresh_from_db()
    assert auction.leader_id == alice.pk and auction.leader_max == 50_000, (auction.leader_id, auction.leader_max)
    assert auction.current_price > 20_000, auction.current_price
    try:
        bid_place(auction_id=auction.pk, actor=bora, amount=auction.current_price - 1, request_id=f.rid())
        raise AssertionError("a bid under the price was accepted")
    except BidTooLow:
        pass
    assert Wallet.objects.get(user=alice).locked_balance == 50_000
    step(f"max bidding: alice leads at {auction.current_price:,} with her 50,000 held")

    # a buy-now sale opens the trade and its room
    sale = f.make_auction(seller=seller, start_price=10_000, buy_now_price=30_000, title="원목 의자")
    auction_buy_now(auction_id=sale.pk, actor=bora, request_id=f.rid())
    trade = Trade.objects.get(auction=sale)
    room = Room.objects.get(trade=trade)
    step(f"buy-now: trade {trade.pk} ({trade.status}), room {room.pk}")

    # chat: numbered messages, a resend is the same message, a meeting accepted, read marks
    first = chat.message_send(actor=bora, room_id=room.pk, text="언제 볼까요?", client_id="c1")
    again = chat.message_send(actor=bora, room_id=room.pk, text="언제 볼까요?", client_id="c1")
    assert again.duplicate and again.message.pk == first.message.pk, again
    reply = chat.message_send(actor=seller, room_id=room.pk, text="010-1234-5678 로 연락 주세요")
    assert reply.warning and reply.message.seq == 2, reply
    proposal = chat.meeting_propose(
        actor=bora, room_id=room.pk, meet_at=timezone.now() + timedelta(days=1), place="합정역 3번 출구"
    )
    locked = chat.meeting_accept(actor=seller, room_id=room.pk, message_id=proposal.message.pk)
    # the room read by the lock's plain statement has the ORM's types (SQLite gives text)
    assert isinstance(locked.created_at, datetime) and locked.created_at.tzinfo is not None, locked.created_at
    assert chat.room_mark_read(actor=bora, room_id=room.pk, seq=99) == 4
    room.refresh_from_db()
    assert (room.seq, room.meeting_id, room.buyer_read_seq) == (4, proposal.message.pk, 4), room
    assert list(Message.objects.filter(room=room).values_list("seq", flat=True).order_by("seq")) == [1, 2, 3, 4]
    step("chat: 4 messages in order, a resend kept once, the meeting accepted")

    # a block stops the other side and changes nothing
    chat.user_block(actor=seller, user_id=bora.pk)
    for actor in (bora, seller):
        try:
            chat.message_send(actor=actor, room_id=room.pk, text="안녕하세요")
            raise AssertionError("a blocked room accepted a message")
        except ChatBlocked:
            pass
    assert Room.objects.get(pk=room.pk).seq == 4
    chat.user_unblock(actor=seller, user_id=bora.pk)
    step("chat: blocked both ways, nothing written")

    # 구매확정 releases the escrow; both sides review
    trade_confirm(trade_id=trade.pk, actor=bora)
    trade.refresh_from_db()
    assert trade.status == Trade.Status.COMPLETED, trade.status
    review_create(actor=bora, trade_id=trade.pk, rating=Review.Rating.GOOD, tags=[], text="친절해요")
    review_create(actor=seller, trade_id=trade.pk, rating=Review.Rating.GOOD, tags=[], text="좋아요")
    step("trade: confirmed, both reviews written")

    report = audit_ledger()
    assert report.ok, report.violations
    step("audit_ledger: the books balance")
    step("ok")


if __name__ == "__main__":
    main()
