"""Questions on a listing and the seller's answers (public Q&A)."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from accounts.selectors import access_user
from auctions.models import Auction
from chat.models import QUESTION_MAX, Answer, Question
from chat.services._common import (
    _clean,
    _refuse_if_blocked,
)
from neighborbid.errors import (
    AuctionNotOpen,
    PermissionDenied,
    QuestionNotFound,
)
from notifications.models import Notification
from notifications.services import notification_create

# --- questions on a listing ---------------------------------------------------------------------


def question_ask(*, actor: User, auction_id: int, text: str) -> Question:
    """A signed-in, non-suspended neighbour (not the seller) asks publicly on a live listing;
    the seller is told."""
    user = access_user(actor)
    text = _clean(text, label="질문", max_length=QUESTION_MAX)
    with transaction.atomic():
        auction = Auction.objects.filter(pk=auction_id, is_hidden=False).first()
        if auction is None:
            raise AuctionNotOpen("문의할 수 없는 경매예요.")
        if auction.is_ended:
            raise AuctionNotOpen("끝난 경매에는 문의할 수 없어요.")
        if auction.seller_id == user.pk:
            raise PermissionDenied("내 경매에는 질문할 수 없어요. 설명을 고쳐 주세요.")
        _refuse_if_blocked(user.pk, auction.seller_id)
        question = Question.objects.create(auction=auction, asker=user, text=text)
        notification_create(
            user_ids=[auction.seller_id],
            kind=Notification.Kind.QUESTION,
            auction=auction,
            message=f"'{auction.title[:40]}'에 새 문의가 있어요: {text[:80]}",
        )
    return question


def question_answer(*, actor: User, question_id: int, text: str) -> Answer:
    """The seller answers in the question's thread; the asker is told."""
    user = access_user(actor)
    text = _clean(text, label="답변", max_length=QUESTION_MAX)
    with transaction.atomic():
        question = Question.objects.select_related("auction").filter(pk=question_id).first()
        if question is None or question.auction.is_hidden:
            raise QuestionNotFound()
        if question.auction.seller_id != user.pk:
            raise PermissionDenied("판매자만 답변할 수 있어요.")
        answer = Answer.objects.create(question=question, author=user, text=text)
        notification_create(
            user_ids=[question.asker_id],
            kind=Notification.Kind.ANSWER,
            auction=question.auction,
            message=f"'{question.auction.title[:40]}' 문의에 판매자가 답했어요: {text[:80]}",
        )
    return answer
