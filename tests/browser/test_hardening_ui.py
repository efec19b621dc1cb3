"""Issue 18, what a newcomer tripped over, tried in a real browser: each test types and clicks
as a person does and then reads what the database holds."""

from __future__ import annotations

import pytest

from reviews import rules
from reviews.models import Review
from tests.browser.test_trust_story import login
from tests.factories import make_user
from tests.reviews.helpers import make_trade

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_review_form_offers_only_the_tags_that_fit_the_rating(site, new_page, shot):
    # given a completed trade, the buyer on the review form
    buyer = make_user(username="jiyoung")
    trade = make_trade(buyer=buyer, seller=make_user(nickname="민수네"))
    page = new_page()
    login(page, site, "jiyoung")
    page.goto(f"{site}/reviews/trade/{trade.pk}/")
    praise, complaint = page.get_by_label(rules.POSITIVE_TAGS[0]), page.get_by_label(rules.NEGATIVE_TAGS[0])
    # before a rating no tag is offered, and a hint says why
    assert not praise.is_visible() and not complaint.is_visible()
    assert page.locator("[data-tags-hint]").is_visible()
    # 좋아요: only what was good
    page.get_by_role("radio", name="좋아요", exact=True).check()
    assert praise.is_visible() and not complaint.is_visible()
    praise.check()
    # changed to 별로예요: the praise goes away, unticked; only what was bad is offered
    page.get_by_role("radio", name="별로예요", exact=True).check()
    assert not praise.is_visible() and complaint.is_visible()
    complaint.check()
    shot(page, "hardening-review-tags")
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_url(f"{site}/u/{trade.seller_id}/")
    # then what was stored agrees with the rating: no refusal after submit
    review = Review.objects.get(trade=trade, reviewer=buyer)
    assert (review.rating, review.tags) == (rules.BAD, [rules.NEGATIVE_TAGS[0]])
