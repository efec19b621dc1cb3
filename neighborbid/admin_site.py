"""The admin site of NeighborBid: Django's, except that a suspended staff user has no admin at
all (issue 9 #9). Suspension takes away staff powers too: the services refuse a suspended
moderator (accounts.selectors.access_staff); here the door refuses them before any page."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError

SUSPENDED_STAFF = "이용 정지된 계정은 운영 화면을 쓸 수 없어요."


def _suspended(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_suspended", False))


class NeighborBidAuthenticationForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if _suspended(user):
            raise ValidationError(SUSPENDED_STAFF, code="suspended")


class NeighborBidAdminSite(AdminSite):
    site_header = "NeighborBid 운영"
    # The app list lives on the first page; on a 1366 px laptop the change lists need the width the
    # side navigation took (issue 18 #21, tests/browser/test_hardening_ui.py).
    enable_nav_sidebar = False
    site_title = "NeighborBid 운영"
    index_title = "운영 · 모더레이션"
    login_form = NeighborBidAuthenticationForm
    index_template = "admin/neighborbid/index.html"

    def index(self, request, extra_context=None):
        from neighborbid.selectors import moderation_queue

        return super().index(request, {"moderation_queue": moderation_queue(), **(extra_context or {})})

    def has_permission(self, request):
        # request.user is read from the database on every request (the session's user), so
        # a suspension counts from the suspended user's next click.
        return super().has_permission(request) and not _suspended(request.user)

    def login(self, request, extra_context=None):
        if request.method == "GET" and _suspended(request.user) and request.user.is_staff:
            raise PermissionDenied(SUSPENDED_STAFF)  # the Korean 403 page, with the reason
        return super().login(request, extra_context)
