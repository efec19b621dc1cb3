"""Signal receivers that turn Django's own auth events into the accounts services' calls.

Only plumbing: the rule (what a changed session means for live sockets) is
accounts.services.user_sessions_changed."""

from __future__ import annotations

from typing import Any


def on_logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if user is not None and getattr(user, "pk", None) is not None:
        from accounts.services import user_sessions_changed

        user_sessions_changed(user_id=user.pk)


def on_user_pre_save(sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    """A password set on an existing user (change, reset, admin) ends the other sessions."""
    if raw or instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        from accounts.services import user_sessions_changed

        user_sessions_changed(user_id=instance.pk)
