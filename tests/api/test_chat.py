"""A trade's chat over the API: the room, messages after a seq, send (idempotent), read marks;
another person's room is 404 and stays as it was."""

from __future__ import annotations

import pytest

from chat.models import Message, Room
from tests.api.conftest import ApiClient, app_client
from tests.factories import make_auction, make_user, rid
from trades.models import Trade

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(user, app):
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000, buy_now_price=30_000)
    app.post_json(f"/api/v1/auctions/{auction.pk}/buy-now", key=rid())
    trade = Trade.objects.get(auction=auction)
    answer = app.get(f"/api/v1/trades/{trade.pk}/chat")
    assert answer.status_code == 200 and answer.json()["role"] == "buyer"
    return seller, Room.objects.get(pk=answer.json()["id"])


def test_send_read_and_follow_a_room(user, app, room):
    seller, the_room = room
    key = rid()
    sent = app.post_json(f"/api/v1/chat/rooms/{the_room.pk}/messages", {"text": "내일 7시 어때요?"}, key=key)
    assert sent.status_code == 201 and sent.json()["duplicate"] is False
    again = app.post_json(f"/api/v1/chat/rooms/{the_room.pk}/messages", {"text": "내일 7시 어때요?"}, key=key)
    assert again.json()["duplicate"] is True and again.json()["message"]["id"] == sent.json()["message"]["id"]
    assert Message.objects.filter(room=the_room, sender=user).count() == 1
    seller_app = app_client(seller)
    listed = seller_app.get("/api/v1/chat/rooms").json()
    assert [(r["id"], r["unread"], r["role"]) for r in listed] == [(the_room.pk, 1, "seller")]
    page = seller_app.get(f"/api/v1/chat/rooms/{the_room.pk}/messages?after_seq=0").json()
    assert [m["text"] for m in page["items"]] == ["내일 7시 어때요?"] and page["items"][0]["sender"] == "buyer"
    seq = page["items"][-1]["seq"]
    assert seller_app.post_json(f"/api/v1/chat/rooms/{the_room.pk}/read", {"seq": seq}).json() == {"read_seq": seq}
    assert seller_app.get("/api/v1/chat/rooms").json()[0]["unread"] == 0
    assert seller_app.get(f"/api/v1/chat/rooms/{the_room.pk}/messages?after_seq={seq}").json()["items"] == []


def test_a_phone_number_gets_the_safe_pay_warning(app, room):
    _seller, the_room = room
    sent = app.post_json(
        f"/api/v1/chat/rooms/{the_room.pk}/messages", {"text": "010-1234-5678로 연락 주세요"}, key=rid()
    )
    assert sent.status_code == 201 and sent.json()["warning"]


def test_a_stranger_gets_404_for_the_room_and_nothing_is_sent(room):
    _seller, the_room = room
    stranger = app_client(make_user())
    before = Message.objects.count()
    assert stranger.get(f"/api/v1/chat/rooms/{the_room.pk}/messages").status_code == 404
    sent = stranger.post_json(f"/api/v1/chat/rooms/{the_room.pk}/messages", {"text": "안녕"}, key=rid())
    assert sent.status_code == 404 and sent.json()["code"] == "chat_not_found"
    assert stranger.post_json(f"/api/v1/chat/rooms/{the_room.pk}/read", {"seq": 1}).status_code == 404
    assert stranger.get(f"/api/v1/trades/{the_room.trade_id}/chat").status_code == 404
    assert Message.objects.count() == before


@pytest.mark.parametrize("body", [{"text": ""}, {"text": 5}, {"text": "x" * 5001}, {"text": "   "}, {}])
def test_a_bad_message_is_a_4xx(app, room, body):
    _seller, the_room = room
    before = Message.objects.count()
    response = app.post_json(f"/api/v1/chat/rooms/{the_room.pk}/messages", body, key=rid())
    assert 400 <= response.status_code < 500
    assert Message.objects.count() == before


def test_questions_are_asked_answered_and_listed_masked(user, app):
    seller = make_user()
    auction = make_auction(seller=seller)
    asked = app.post_json(f"/api/v1/auctions/{auction.pk}/questions", {"text": "직거래 가능한가요?"})
    assert asked.status_code == 201 and "*" in asked.json()["asker"]
    answered = app_client(seller).post_json(f"/api/v1/questions/{asked.json()['id']}/answers", {"text": "네 가능해요"})
    assert answered.status_code == 201
    listed = ApiClient().get(f"/api/v1/auctions/{auction.pk}/questions").json()
    assert [(q["text"], [a["text"] for a in q["answers"]]) for q in listed["items"]] == [
        ("직거래 가능한가요?", ["네 가능해요"])
    ]
    # only the seller answers; the seller does not ask
    assert app.post_json(f"/api/v1/questions/{asked.json()['id']}/answers", {"text": "제가 답해요"}).status_code == 403
    assert app_client(seller).post_json(f"/api/v1/auctions/{auction.pk}/questions", {"text": "?"}).status_code == 403
    assert app.post_json("/api/v1/questions/999999999/answers", {"text": "x"}).status_code == 404


def test_photo_meeting_hide_block_and_report(user, app, room):
    from datetime import timedelta

    from django.utils import timezone

    from chat.models import Block, ChatReport
    from tests.web.conftest import upload

    seller, the_room = room
    seller_app = app_client(seller)
    photo = app.post(f"/api/v1/chat/rooms/{the_room.pk}/photos", {"photo": upload()}, HTTP_IDEMPOTENCY_KEY=rid())
    assert photo.status_code == 201 and photo.json()["message"]["kind"] == "photo"
    when = (timezone.now() + timedelta(days=1)).isoformat()
    proposed = app.post_json(
        f"/api/v1/chat/rooms/{the_room.pk}/meetings", {"meet_at": when, "place": "합정역 3번 출구"}, key=rid()
    )
    assert proposed.status_code == 201, proposed.content
    meeting_id = proposed.json()["message"]["id"]
    assert app.post_json(f"/api/v1/chat/rooms/{the_room.pk}/meetings/{meeting_id}/accept").status_code == 403
    assert seller_app.post_json(f"/api/v1/chat/rooms/{the_room.pk}/meetings/{meeting_id}/accept").json() == {"ok": True}
    past = app.post_json(
        f"/api/v1/chat/rooms/{the_room.pk}/meetings", {"meet_at": "2020-01-01T10:00:00+09:00", "place": "x"}, key=rid()
    )
    assert past.status_code == 400
    assert seller_app.post_json(f"/api/v1/chat/rooms/{the_room.pk}/messages/{meeting_id}/hide").json() == {"ok": True}
    hidden = seller_app.get(f"/api/v1/chat/rooms/{the_room.pk}/messages").json()["items"]
    assert any(m["id"] == meeting_id and m["hidden"] for m in hidden)
    mine = app.post_json(f"/api/v1/chat/rooms/{the_room.pk}/report", {"reason": "abuse", "message_id": meeting_id})
    assert mine.status_code == 400  # not my own message
    reported = seller_app.post_json(
        f"/api/v1/chat/rooms/{the_room.pk}/report", {"reason": "abuse", "message_id": meeting_id}
    )
    assert reported.status_code == 201, reported.content
    assert ChatReport.objects.filter(room=the_room).count() == 1
    blocked = app.put(f"/api/v1/chat/rooms/{the_room.pk}/block", {"blocked": True}, content_type="application/json")
    assert blocked.json() == {"blocked": True} and Block.objects.filter(blocker=user, blocked=seller).exists()
    refused = seller_app.post_json(f"/api/v1/chat/rooms/{the_room.pk}/messages", {"text": "왜요?"}, key=rid())
    assert refused.status_code == 403 and refused.json()["code"] == "blocked"
    app.put(f"/api/v1/chat/rooms/{the_room.pk}/block", {"blocked": False}, content_type="application/json")
    assert not Block.objects.exists()


def test_a_stranger_cannot_hide_block_or_report_in_a_room(room):
    from chat.models import Block, ChatReport

    _seller, the_room = room
    stranger = app_client(make_user())
    assert (
        stranger.put(
            f"/api/v1/chat/rooms/{the_room.pk}/block", {"blocked": True}, content_type="application/json"
        ).status_code
        == 404
    )
    assert stranger.post_json(f"/api/v1/chat/rooms/{the_room.pk}/report", {"reason": "abuse"}).status_code == 404
    assert stranger.post_json(f"/api/v1/chat/rooms/{the_room.pk}/messages/1/hide").status_code == 404
    assert not Block.objects.exists() and not ChatReport.objects.exists()
