"""The chat pages over plain HTTP: the room works without JavaScript (POST, redirect), the
JSON re-check, the badge, the auction page's questions, and text shown as text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chat import services
from chat.models import Message, Question
from tests import factories as f
from tests.chat.conftest import chat_world, make_sale
from tests.web.conftest import follow_messages, signed_in

pytestmark = pytest.mark.django_db


def test_a_room_over_plain_http_posts_redirects_and_shows_the_message_as_text():
    sale = make_sale()
    buyer = signed_in(sale.buyer)
    response = buyer.post(reverse("chat:send", args=[sale.room.pk]), {"text": "<b>안녕</b> 010-1234-5678"})
    assert response.status_code == 302
    notes = follow_messages(buyer, response)
    assert any("안전결제" in note for note in notes)
    page = signed_in(sale.seller).get(reverse("chat:room", args=[sale.room.pk]))
    html = page.content.decode()
    assert "&lt;b&gt;안녕&lt;/b&gt;" in html and "<b>안녕</b>" not in html
    assert "안전결제를 이용하세요" in html


def test_the_json_recheck_gives_the_messages_after_a_seq():
    sale = make_sale()
    for text in ("하나", "둘", "셋"):
        services.message_send(actor=sale.seller, room_id=sale.room.pk, text=text)
    body = signed_in(sale.buyer).get(reverse("chat:messages", args=[sale.room.pk]), {"after": 1}).json()
    assert [m["text"] for m in body["messages"]] == ["둘", "셋"]
    assert body["seq"] == 3 and body["more"] is False


def test_strangers_get_404_and_send_nothing():
    sale = make_sale()
    stranger = signed_in(f.make_user())
    before = chat_world()
    assert stranger.get(reverse("chat:room", args=[sale.room.pk])).status_code == 404
    assert stranger.get(reverse("chat:messages", args=[sale.room.pk])).status_code == 404
    assert stranger.post(reverse("chat:send", args=[sale.room.pk]), {"text": "hi"}).status_code == 404
    answer = stranger.post(
        reverse("chat:send", args=[sale.room.pk]), {"text": "hi"}, headers={"accept": "application/json"}
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "chat_not_found"
    assert chat_world() == before


def test_the_header_badge_counts_and_opening_the_room_clears_it():
    sale = make_sale()
    services.message_send(actor=sale.seller, room_id=sale.room.pk, text="안녕하세요")
    buyer = signed_in(sale.buyer)
    assert buyer.get(reverse("chat:unread")).json() == {"total": 1, "rooms": {str(sale.room.pk): 1}}
    home = buyer.get(reverse("chat:list")).content.decode()
    assert 'aria-label="채팅, 읽지 않은 메시지 1개"' in home  # the header link says the count
    assert 'data-chat-badge aria-hidden="true">1</span>' in home
    buyer.get(reverse("chat:room", args=[sale.room.pk]))
    assert buyer.get(reverse("chat:unread")).json()["total"] == 0


def test_the_http_message_limit_refuses_past_the_burst(settings):
    settings.CHAT = {**settings.CHAT, "MESSAGE_BURST": 2, "MESSAGE_RATE_PER_S": 0.001}
    sale = make_sale()
    buyer = signed_in(sale.buyer)
    url = reverse("chat:send", args=[sale.room.pk])
    for n in range(2):
        assert buyer.post(url, {"text": f"{n}"}).status_code == 302
    refused = buyer.post(url, {"text": "셋"}, headers={"accept": "application/json"})
    assert refused.status_code == 429
    assert Message.objects.count() == 2


def test_meeting_over_http_propose_then_accept():
    sale = make_sale()
    url = reverse("chat:meeting_propose", args=[sale.room.pk])
    day = timezone.localdate() + timedelta(days=2)
    response = signed_in(sale.buyer).post(url, {"meet_at": f"{day.isoformat()}T15:30", "place": "망원시장 입구"})
    assert response.status_code == 302
    proposal = Message.objects.get(kind="meeting")
    assert timezone.localtime(proposal.meet_at).strftime("%H:%M") == "15:30"  # the time as typed, in Seoul
    accept = reverse("chat:meeting_accept", args=[sale.room.pk, proposal.pk])
    assert signed_in(sale.seller).post(accept).status_code == 302
    page = signed_in(sale.buyer).get(reverse("auctions:detail", args=[sale.trade.auction_id])).content.decode()
    assert "망원시장 입구" in page and "채팅으로 거래하기" in page


def test_a_bad_meeting_time_is_a_message_not_a_500():
    sale = make_sale()
    client = signed_in(sale.buyer)
    response = client.post(reverse("chat:meeting_propose", args=[sale.room.pk]), {"meet_at": "내일", "place": "역"})
    assert any("날짜" in note for note in follow_messages(client, response))
    assert not Message.objects.exists()


def test_questions_on_the_auction_page_and_the_sellers_answer():
    seller, asker = f.make_user(), f.make_user(nickname="이지은")
    auction = f.make_auction(seller=seller)
    detail = reverse("auctions:detail", args=[auction.pk])
    response = signed_in(asker).post(reverse("chat:question_ask", args=[auction.pk]), {"text": "<i>직거래</i> 되나요?"})
    assert response.status_code == 302
    question = Question.objects.get()
    signed_in(seller).post(reverse("chat:question_answer", args=[question.pk]), {"text": "네 돼요"})
    html = signed_in(f.make_user()).get(detail).content.decode()
    assert "&lt;i&gt;직거래&lt;/i&gt; 되나요?" in html and "네 돼요" in html and "이*은" in html
    assert signed_in(seller).get(detail).content.decode().count('name="text" maxlength="500"') == 1  # answer box


def test_a_moderator_reads_a_reported_room_and_closes_it_over_http():
    sale = make_sale()
    services.message_send(actor=sale.buyer, room_id=sale.room.pk, text="계좌로 보내요")
    moderator = signed_in(f.make_moderator())
    room_url = reverse("chat:room", args=[sale.room.pk])
    assert moderator.get(room_url).status_code == 404
    signed_in(sale.seller).post(reverse("chat:report", args=[sale.room.pk]), {"reason": "fraud"})
    page = moderator.get(room_url)
    assert page.status_code == 200 and "채팅방 닫기" in page.content.decode()
    moderator.post(reverse("chat:close", args=[sale.room.pk]), {"reason": "사기 의심"})
    sale.room.refresh_from_db()
    assert sale.room.status == "closed"
