"""Issue 9 #12: watching (찜) is check-then-act; a double submit must not raise IntegrityError
(a 500 on the page) nor leave two rows."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from auctions.models import Watch
from auctions.services import watch_toggle
from tests.factories import make_auction, make_user

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

ROUNDS = 15


def test_two_simultaneous_watches_make_one_row_and_no_error(concurrently):
    user = make_user()
    for _ in range(ROUNDS):
        # given an auction the user does not watch
        auction = make_auction()
        # when two watch requests run at the same instant
        outcomes = concurrently([lambda a=auction: watch_toggle(actor=user, auction_id=a.pk) for _ in range(2)])
        # then neither fails, and the rows agree with the answers
        assert [o.error for o in outcomes] == [None, None]
        rows = Watch.objects.filter(user=user, auction=auction).count()
        answers = sorted(o.value for o in outcomes)
        # both saw "not watching" (the race): both say watching, one row; or one ran after the
        # other committed: a watch then an unwatch, no row
        assert (answers, rows) in (([True, True], 1), ([False, True], 0))


def test_an_http_double_submit_never_answers_500(concurrently):
    user = make_user()
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    for _ in range(ROUNDS):
        auction = make_auction()
        url = reverse("auctions:watch", args=[auction.pk])

        def submit(url=url):
            tab = Client()
            tab.cookies[settings.SESSION_COOKIE_NAME] = cookie
            return tab.post(url).status_code

        outcomes = concurrently([submit, submit])
        assert [o.error for o in outcomes] == [None, None]
        assert [o.value for o in outcomes] == [302, 302]
        assert Watch.objects.filter(user=user, auction=auction).count() <= 1
