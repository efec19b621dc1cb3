"""자동 탐지 in the admin: a moderator reads a shill case's evidence on one page and closes it."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from fraud.models import ShillCase
from fraud.services import shill_scan
from tests.factories import make_user, neighbourhood
from tests.fraud.test_scan import long_time_member, run_auction

pytestmark = pytest.mark.django_db


@pytest.fixture
def case() -> ShillCase:
    home = neighbourhood()
    seller = long_time_member(place=home, nickname="판매왕")
    shill = make_user(place=home, balance=3_000_000, nickname="새이웃")
    for _ in range(2):
        run_auction(seller, early=[(long_time_member(), 30_000)], late=[], probe_by=shill)
    shill_scan()
    return ShillCase.objects.get()


def test_the_queue_and_the_case_page_show_the_evidence(mod_client, case):
    listing = mod_client.get(reverse("admin:fraud_shillcase_changelist")).content.decode()
    assert "자동 탐지" in listing and "판매왕" in listing and "새이웃" in listing
    assert "최대 입찰가 떠보기" in listing

    page = mod_client.get(reverse("admin:fraud_shillcase_change", args=[case.pk])).content.decode()
    for signal in case.signals:
        assert signal["label"] in page and signal["detail"] in page
    assert page.count("자동 입찰") >= 4  # the bid rows of both auctions, the answers included
    assert "원</td>" in page


def test_dismissing_closes_the_case_names_the_moderator_and_changes_nothing_else(mod_client, moderator, case):
    response = mod_client.post(
        reverse("admin:fraud_shillcase_changelist"), {"action": "dismiss_cases", "_selected_action": [str(case.pk)]}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.handled_by_id) == ("dismissed", moderator.pk)
    assert LogEntry.objects.filter(object_id=str(case.pk), user=moderator).exists()
    # a second try is refused with a message, not a 500
    again = mod_client.post(
        reverse("admin:fraud_shillcase_changelist"),
        {"action": "mark_actioned", "_selected_action": [str(case.pk)]},
        follow=True,
    )
    assert "이미 처리된 탐지 건이에요." in again.content.decode()
    assert ShillCase.objects.get(pk=case.pk).status == "dismissed"


def test_a_staff_user_without_the_group_sees_no_queue(client, case):
    staff = make_user(is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("admin:fraud_shillcase_changelist")).status_code == 403
