"""Who may read and write a trade's room, and what each refusal leaves untouched; questions
on a listing; meetings; photos; the gentle contact warning; XSS stays text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.template import Context, Template
from django.utils import timezone

from accounts.services import user_suspend
from chat import selectors, services
from chat.models import ChatReport, Message, Room
from neighborbid.errors import (
    AccountSuspended,
    AuctionNotOpen,
    ChatBlocked,
    ChatClosed,
    ChatNotFound,
    InvalidMessage,
    InvalidRequest,
    PermissionDenied,
)
from notifications.models import Notification
from notifications.services import _chat_push_insert
from realtime.layer import room_group, send_event
from tests import factories as f
from tests.chat.conftest import chat_world, make_sale
from tests.web.conftest import upload

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def send(user, sale, text="안녕하세요", **kwargs):
    return services.message_send(actor=user, room_id=sale.room.pk, text=text, **kwargs)


# --- the room opens with the trade --------------------------------------------------------------


def test_the_sale_opens_the_trades_room_for_its_buyer_and_seller():
    sale = make_sale()
    assert (sale.room.buyer_id, sale.room.seller_id, sale.room.seq) == (sale.buyer.pk, sale.seller.pk, 0)
    assert services.chat_room_open_for_trade(trade=sale.trade).pk == sale.room.pk  # idempotent


def test_a_trade_without_a_room_gets_one_on_first_request_by_its_sides_only():
    sale = make_sale()
    Room.objects.filter(pk=sale.room.pk).delete()
    with pytest.raises(ChatNotFound):
        services.chat_room_ensure(actor=f.make_user(), trade_id=sale.trade.pk)
    assert not Room.objects.filter(trade=sale.trade).exists()
    room = services.chat_room_ensure(actor=sale.seller, trade_id=sale.trade.pk)
    assert room.buyer_id == sale.buyer.pk


# --- who may write ------------------------------------------------------------------------------


def test_buyer_and_seller_write_in_order_and_each_reads_their_own(django_capture_on_commit_callbacks):
    sale = make_sale()
    with django_capture_on_commit_callbacks() as callbacks:
        first = send(sale.buyer, sale, "의자 아직 있나요?")
        second = send(sale.seller, sale, "네 있어요")
    assert (first.message.seq, second.message.seq) == (1, 2)
    room = Room.objects.get(pk=sale.room.pk)
    assert (room.seq, room.buyer_read_seq, room.seller_read_seq) == (2, 1, 2)
    assert selectors.unread_chat_count(user_id=sale.buyer.pk) == 1
    assert selectors.unread_chat_count(user_id=sale.seller.pk) == 0
    # each message goes to both sides, in one publish to the room's group after commit
    both = [room_group(sale.room.pk)]
    published = [cb for cb in callbacks if cb.func is send_event]
    assert [(cb.args[0], cb.args[1]["seq"]) for cb in published] == [(both, 1), (both, 2)]
    # and each message's push to the other side is registered for after commit too (issue 22)
    pushes = [cb.args for cb in callbacks if cb.func is _chat_push_insert]
    assert pushes == [
        (sale.seller.pk, sale.room.pk, first.message.pk),
        (sale.buyer.pk, sale.room.pk, second.message.pk),
    ]


def test_a_stranger_can_neither_read_nor_write_and_nothing_changes(django_capture_on_commit_callbacks):
    sale = make_sale()
    send(sale.buyer, sale)
    stranger = f.make_user()
    before = chat_world()
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(ChatNotFound):
            send(stranger, sale, "저도 살래요")
        with pytest.raises(ChatNotFound):
            services.room_mark_read(actor=stranger, room_id=sale.room.pk, seq=1)
        with pytest.raises(ChatNotFound):
            services.chat_report_create(actor=stranger, room_id=sale.room.pk, reason="spam")
        with pytest.raises(ChatNotFound):
            services.message_hide(actor=stranger, message_id=Message.objects.get().pk)
    with pytest.raises(ChatNotFound):
        selectors.room_for_reader(room_id=sale.room.pk, user=stranger)
    assert chat_world() == before
    assert callbacks == []


def test_a_blocked_neighbour_can_no_longer_message_but_the_trade_goes_on():
    sale = make_sale()
    assert services.user_block(actor=sale.seller, user_id=sale.buyer.pk) is True
    before = chat_world()
    with pytest.raises(ChatBlocked):
        send(sale.buyer, sale, "왜 답이 없어요?")
    with pytest.raises(ChatBlocked, match="차단을 풀어야"):
        send(sale.seller, sale, "차단한 쪽도 못 보내요")
    assert chat_world() == before
    # the trade itself is untouched and the buyer may still read the room
    assert selectors.room_for_reader(room_id=sale.room.pk, user=sale.buyer).pk == sale.room.pk
    assert services.user_unblock(actor=sale.seller, user_id=sale.buyer.pk) is True
    assert send(sale.buyer, sale, "이제 돼요").message.seq == 1


def test_blocking_oneself_or_nobody_is_refused():
    user = f.make_user()
    with pytest.raises(InvalidRequest):
        services.user_block(actor=user, user_id=user.pk)
    with pytest.raises(InvalidRequest):
        services.user_block(actor=user, user_id=10**12)


def test_a_suspended_side_may_read_but_not_write():
    sale = make_sale()
    moderator = f.make_moderator()
    user_suspend(staff_user=moderator, user_id=sale.buyer.pk, reason="사기 의심")
    before = chat_world()
    with pytest.raises(AccountSuspended):
        send(sale.buyer, sale)
    with pytest.raises(AccountSuspended):
        services.meeting_propose(
            actor=sale.buyer, room_id=sale.room.pk, meet_at=timezone.now() + timedelta(days=1), place="역 앞"
        )
    assert chat_world() == before
    assert selectors.room_for_reader(room_id=sale.room.pk, user=sale.buyer).pk == sale.room.pk


def test_moderators_read_a_room_only_after_a_report_and_may_close_it():
    sale = make_sale()
    sent = send(sale.buyer, sale, "입금은 010-1234-5678로 연락 주세요")
    moderator = f.make_moderator()
    with pytest.raises(ChatNotFound):
        selectors.room_for_reader(room_id=sale.room.pk, user=moderator)
    before = chat_world()
    with pytest.raises(PermissionDenied):
        services.room_close(staff_user=sale.seller, room_id=sale.room.pk, reason="내 맘대로")
    assert chat_world() == before

    report = services.chat_report_create(
        actor=sale.seller, room_id=sale.room.pk, reason="fraud", message_id=sent.message.pk, text="직거래 유도"
    )
    assert selectors.room_for_reader(room_id=sale.room.pk, user=moderator).pk == sale.room.pk
    assert [m.pk for m in selectors.report_context(report)] == [sent.message.pk]

    services.room_close(staff_user=moderator, room_id=sale.room.pk, reason="사기 의심 신고 확인")
    room = Room.objects.get(pk=sale.room.pk)
    assert room.status == Room.Status.CLOSED and room.closed_by_id == moderator.pk
    before = chat_world()
    with pytest.raises(ChatClosed):
        send(sale.seller, sale, "닫혔나요?")
    assert chat_world() == before
    # evidence stays: nothing deleted
    assert Message.objects.filter(room=room).count() == 2


def test_one_cannot_report_ones_own_message():
    sale = make_sale()
    mine = send(sale.buyer, sale)
    with pytest.raises(InvalidRequest):
        services.chat_report_create(actor=sale.buyer, room_id=sale.room.pk, reason="spam", message_id=mine.message.pk)
    assert ChatReport.objects.count() == 0


# --- messages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "x" * 1001, None])
def test_empty_or_too_long_messages_are_refused(text):
    sale = make_sale()
    before = chat_world()
    with pytest.raises(InvalidMessage):
        send(sale.buyer, sale, text)
    assert chat_world() == before


def test_the_same_client_id_sends_once():
    sale = make_sale()
    first = send(sale.buyer, sale, "한 번만", client_id="c-1")
    again = send(sale.buyer, sale, "한 번만", client_id="c-1")
    assert again.duplicate and again.message.pk == first.message.pk
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("text", "warned"),
    [
        ("제 번호 010-1234-5678 이에요", True),
        ("01012345678로 문자 주세요", True),
        ("국민 123456-01-123456 으로 보내 주세요", True),
        ("3333012345678 카카오뱅크", True),
        ("내일 3시에 2번 출구에서 봬요", False),
        ("가격은 30,000원이에요", False),
    ],
)
def test_phone_and_account_numbers_get_a_gentle_warning_not_a_block(text, warned):
    sale = make_sale()
    result = send(sale.buyer, sale, text)
    assert result.warning is warned
    assert Message.objects.get().text == text


def test_xss_is_stored_as_sent_and_shown_as_text():
    sale = make_sale()
    send(sale.buyer, sale, XSS + " https://evil.example/x http://localhost/auctions/1/")
    stored = Message.objects.get()
    assert stored.text.startswith(XSS)
    html = Template("{% load chat %}{{ text|chat_text }}").render(Context({"text": stored.text}))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert '<a href="https://evil.example/x"' not in html
    assert '<a href="http://localhost/auctions/1/" rel="nofollow noopener">' in html


def test_hiding_is_for_oneself_only():
    sale = make_sale()
    message = send(sale.seller, sale, "욕설").message
    services.message_hide(actor=sale.buyer, message_id=message.pk)
    services.message_hide(actor=sale.buyer, message_id=message.pk)  # twice is fine
    room = Room.objects.get(pk=sale.room.pk)
    assert selectors.room_page_messages(room=room, user_id=sale.buyer.pk) == []
    assert [m.pk for m in selectors.room_page_messages(room=room, user_id=sale.seller.pk)] == [message.pk]
    after = selectors.room_messages_after(room=room, user_id=sale.buyer.pk, after=0)
    assert after == [{"id": message.pk, "seq": 1, "kind": "text", "hidden": True}]
    assert Message.objects.filter(pk=message.pk).exists()


def test_read_marks_never_go_back_nor_past_the_last_message():
    sale = make_sale()
    send(sale.seller, sale, "하나")
    send(sale.seller, sale, "둘")
    assert services.room_mark_read(actor=sale.buyer, room_id=sale.room.pk, seq=99) == 2
    assert services.room_mark_read(actor=sale.buyer, room_id=sale.room.pk, seq=1) == 2
    assert selectors.unread_chat_count(user_id=sale.buyer.pk) == 0


# --- photos -------------------------------------------------------------------------------------


def test_a_photo_goes_through_the_listing_pipeline_and_its_files_are_written_on_commit(
    django_capture_on_commit_callbacks,
):
    sale = make_sale()
    with django_capture_on_commit_callbacks(execute=True):
        result = services.message_send_photo(actor=sale.buyer, room_id=sale.room.pk, upload=upload())
    message = result.message
    assert message.kind == "photo" and message.image.name.endswith(".jpg")
    assert default_storage.exists(message.image.name) and default_storage.exists(message.thumbnail.name)


def test_a_broken_photo_is_refused_before_anything_is_written():
    sale = make_sale()
    before = chat_world()
    with pytest.raises(InvalidRequest):
        services.message_send_photo(actor=sale.buyer, room_id=sale.room.pk, upload=upload(content=b"not an image"))
    assert chat_world() == before


# --- meetings -----------------------------------------------------------------------------------


def test_the_other_side_accepts_a_meeting_and_it_becomes_the_trades_meeting():
    sale = make_sale()
    spot = selectors.meeting_places(room=sale.room)[0]
    assert spot.pk == sale.seller.neighbourhood_id  # the seller's own 동 first
    when = timezone.now() + timedelta(days=1)
    proposal = services.meeting_propose(
        actor=sale.buyer, room_id=sale.room.pk, meet_at=when, place="역 3번 출구", neighbourhood_id=spot.pk
    ).message
    before = chat_world()
    with pytest.raises(PermissionDenied):
        services.meeting_accept(actor=sale.buyer, room_id=sale.room.pk, message_id=proposal.pk)
    assert chat_world() == before
    services.meeting_accept(actor=sale.seller, room_id=sale.room.pk, message_id=proposal.pk)
    room = selectors.room_for_trade(trade_id=sale.trade.pk)
    assert room.meeting_id == proposal.pk and room.meeting.accepted_at is not None
    assert room.seq == 2  # the proposal and the notice
    with pytest.raises(InvalidRequest):
        services.meeting_accept(actor=sale.seller, room_id=sale.room.pk, message_id=proposal.pk)
    html = Template("{% load chat %}{% trade_meeting trade %}").render(Context({"trade": sale.trade}))
    assert "역 3번 출구" in html and spot.name in html


@pytest.mark.parametrize(
    "kwargs",
    [
        {"meet_at": "tomorrow", "place": "역"},
        {"meet_at": "past", "place": "역"},
        {"meet_at": "later", "place": ""},
        {"meet_at": "later", "place": "x" * 101},
        {"meet_at": "later", "place": "", "neighbourhood_id": 10**9},
    ],
)
def test_bad_meeting_proposals_change_nothing(kwargs):
    sale = make_sale()
    moments = {"past": timezone.now() - timedelta(minutes=1), "later": timezone.now() + timedelta(hours=2)}
    kwargs = {**kwargs, "meet_at": moments.get(kwargs["meet_at"], kwargs["meet_at"])}
    before = chat_world()
    with pytest.raises(InvalidRequest):
        services.meeting_propose(actor=sale.buyer, room_id=sale.room.pk, **kwargs)
    assert chat_world() == before


def test_a_far_away_neighbourhood_is_not_a_meeting_place():
    sale = make_sale()
    far = f.neighbourhood("정자동", "경기도 성남시 분당구")
    before = chat_world()
    with pytest.raises(InvalidRequest):
        services.meeting_propose(
            actor=sale.buyer, room_id=sale.room.pk, meet_at=timezone.now() + timedelta(hours=2), neighbourhood_id=far.pk
        )
    assert chat_world() == before


# --- questions on a listing ---------------------------------------------------------------------


def test_a_neighbour_asks_the_seller_answers_and_each_is_told():
    seller, asker = f.make_user(), f.make_user(nickname="김민수")
    auction = f.make_auction(seller=seller)
    question = services.question_ask(actor=asker, auction_id=auction.pk, text="흠집 있나요?")
    assert Notification.objects.get(user=seller).kind == Notification.Kind.QUESTION
    services.question_answer(actor=seller, question_id=question.pk, text="없어요")
    assert Notification.objects.get(user=asker).kind == Notification.Kind.ANSWER
    page = selectors.listing_questions(auction_id=auction.pk)
    assert [q.pk for q in page.object_list] == [question.pk]
    assert selectors.asker_name(question) == "김*수"


def test_questions_are_newest_first_and_paginated():
    auction = f.make_auction()
    asker = f.make_user()
    ids = [services.question_ask(actor=asker, auction_id=auction.pk, text=f"질문 {n}").pk for n in range(7)]
    first = selectors.listing_questions(auction_id=auction.pk, page=1)
    second = selectors.listing_questions(auction_id=auction.pk, page=2)
    assert [q.pk for q in first.object_list] == ids[::-1][:5]
    assert [q.pk for q in second.object_list] == ids[::-1][5:]


def test_who_may_not_ask_or_answer_and_nothing_changes():
    seller, asker, other = f.make_user(), f.make_user(), f.make_user()
    auction = f.make_auction(seller=seller)
    question = services.question_ask(actor=asker, auction_id=auction.pk, text="정품인가요?")
    services.user_block(actor=seller, user_id=other.pk)
    suspended = f.make_user()
    user_suspend(staff_user=f.make_moderator(), user_id=suspended.pk, reason="도배")
    before = chat_world()
    with pytest.raises(PermissionDenied):
        services.question_ask(actor=seller, auction_id=auction.pk, text="셀프 질문")
    with pytest.raises(AccountSuspended):
        services.question_ask(actor=suspended, auction_id=auction.pk, text="질문")
    with pytest.raises(ChatBlocked):
        services.question_ask(actor=other, auction_id=auction.pk, text="질문")
    with pytest.raises(PermissionDenied):
        services.question_answer(actor=asker, question_id=question.pk, text="제가 답할게요")
    with pytest.raises(InvalidMessage):
        services.question_ask(actor=asker, auction_id=auction.pk, text="x" * 501)
    with pytest.raises(AuctionNotOpen):
        services.question_ask(actor=asker, auction_id=10**9, text="질문")
    assert chat_world() == before


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("http://localhost/auctions/1/", True),
        ("http://evil.example\\@localhost:8000/pay", False),  # a browser goes to evil.example
        ("http://evil.example\\.localhost/pay", False),
        ("http://user:pw@localhost/pay", False),
        ("http://localhost@evil.example/pay", False),
        ("https://evil.example/x", False),
    ],
)
def test_only_links_a_browser_would_open_on_our_own_host_are_made_clickable(url, linked):
    # given/when: a message with the link, shown as a room page and a question thread show it
    html = Template("{% load chat %}{{ text|chat_text }}").render(Context({"text": f"여기요 {url} 확인"}))
    # then: an anchor only for a same-site link as the browser reads it
    assert ("<a href=" in html) is linked, html


def test_a_moderator_closes_only_a_reported_room_they_are_not_part_of():
    # given: a room nobody reported, and a reported room whose buyer is a moderator
    moderator = f.make_moderator()
    quiet = make_sale()
    send(quiet.buyer, quiet, "안녕하세요")
    own = make_sale(buyer=f.make_moderator(balance=100_000))
    services.chat_report_create(actor=own.seller, room_id=own.room.pk, reason="abuse")
    before = chat_world()

    # when/then: closing either is "not found", as their pages are, and nothing is written
    with pytest.raises(ChatNotFound):
        services.room_close(staff_user=moderator, room_id=quiet.room.pk, reason="확인")
    with pytest.raises(ChatNotFound):
        services.room_close(staff_user=own.buyer, room_id=own.room.pk, reason="내 거래")
    assert chat_world() == before

    # and another moderator may close the reported one
    services.room_close(staff_user=moderator, room_id=own.room.pk, reason="신고 확인")
    assert Room.objects.get(pk=own.room.pk).status == Room.Status.CLOSED


def test_a_parcel_trade_has_no_meeting_proposals():
    # given: the room of a national (택배) sale
    seller, buyer = f.make_user(), f.make_user(balance=100_000)
    auction = f.make_auction(seller=seller, start_price=10_000, buy_now_price=30_000, is_national=True)
    from auctions.services import auction_buy_now

    auction_buy_now(auction_id=auction.pk, actor=buyer, request_id=f.rid())
    room = Room.objects.get(trade__auction=auction)
    before = chat_world()
    # when: either side proposes a meeting; then: refused, nothing written
    for actor in (buyer, seller):
        with pytest.raises(InvalidRequest):
            services.meeting_propose(
                actor=actor, room_id=room.pk, meet_at=timezone.now() + timedelta(hours=2), place="역 앞"
            )
    assert chat_world() == before
