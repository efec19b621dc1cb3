"""Request types for the type checker (django-stubs' pattern): behind `login_required` or the
admin, `request.user` is a real User, never AnonymousUser."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User
