"""The public profile (/u/<id>/), the "후기 남기기" list and the review form. Pages parse input
and call one service or selector; the rules (who may review, when, what) are the services'."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.selectors import user_location_verified
from neighborbid.errors import DomainError
from neighborbid.replica import standby_reads
from reviews import selectors
from reviews.forms import ReviewForm
from reviews.services import review_create, review_update

REVIEWS_PER_PAGE = 10


@require_GET
@standby_reads  # public, read-only: may come from the standby (neighborbid/replica.py)
def profile(request, user_id: int):
    person = selectors.public_user(user_id=user_id)
    if person is None:
        raise Http404(_("사용자를 찾을 수 없어요."))
    texts = Paginator(selectors.user_review_texts(user_id=person.pk), REVIEWS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "person": person,
        "verified": user_location_verified(person),
        "summary": selectors.user_trust_summary(user_id=person.pk),
        "texts": texts,
        "page": texts,
        "live_listings": selectors.user_public_listings(user_id=person.pk, ended=False),
        "past_listings": selectors.user_public_listings(user_id=person.pk, ended=True),
        "is_me": request.user.is_authenticated and request.user.pk == person.pk,
    }
    return render(request, "accounts/profile_public.html", context)


@login_required
@require_GET
def pending(request):
    trades = list(selectors.reviews_pending(user_id=request.user.pk)[:50])
    for trade in trades:
        trade.other = trade.seller if trade.buyer_id == request.user.pk else trade.buyer
        trade.my_role = _("구매자") if trade.buyer_id == request.user.pk else _("판매자")
    return render(request, "reviews/pending.html", {"trades": trades})


@login_required
@require_http_methods(["GET", "POST"])
def review_form(request, trade_id: int):
    user = request.user
    trade = selectors.trade_for_party(trade_id=trade_id, user_id=user.pk)
    if trade is None:
        raise Http404(_("거래를 찾을 수 없어요."))
    other = trade.seller if trade.buyer_id == user.pk else trade.buyer
    existing = selectors.review_of(trade_id=trade.pk, reviewer_id=user.pk)
    deadline = selectors.review_edit_deadline(existing) if existing else None
    initial = {"rating": existing.rating, "tags": existing.tags, "text": existing.text} if existing else None
    form = ReviewForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                if existing:
                    review_update(
                        review_id=existing.pk, actor=user, rating=data["rating"], tags=data["tags"], text=data["text"]
                    )
                else:
                    review_create(
                        trade_id=trade.pk, actor=user, rating=data["rating"], tags=data["tags"], text=data["text"]
                    )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    _("후기를 고쳤어요.")
                    if existing
                    else _("%(name)s님께 후기를 남겼어요. 고마워요!") % {"name": other},
                )
                return redirect(reverse("reviews:profile", args=[other.pk]))
    context = {
        "trade": trade,
        "other": other,
        "existing": existing,
        "can_edit": deadline is None or timezone.now() <= deadline,
        "deadline": deadline,
        "reviewable": trade.status in selectors.REVIEWABLE_STATUSES,
        "form": form,
    }
    return render(request, "reviews/form.html", context, status=400 if form.errors else 200)
