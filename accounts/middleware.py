"""The user of a page request, as Django's AuthenticationMiddleware sets it, read in one
statement where Django reads twice (accounts.selectors.request_user)."""

from __future__ import annotations

from django.contrib.auth import middleware as auth_middleware
from django.utils.functional import SimpleLazyObject

from accounts.selectors import request_user


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """django.contrib.auth's middleware with `request.user` from request_user (the same answer;
    `request.auser` stays Django's)."""

    def process_request(self, request) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: request_user(request))
