"""Signal receivers that turn Django's own auth events into the accounts services' calls.

Only plumbing: the rule (what a changed session means for live sockets) is
accounts.services.user_sessions_changed. The announcement must go out only once the change is
in the database, or a socket re-checks its session too early, finds it still valid, and keeps
the user's personal notifications (issue 9 #3)."""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

# The hook of a suspension (accounts.services.user_suspend), sent after the suspension has
# committed, with keyword arguments user_id (the suspended user), staff_user (the acting
# moderator, already checked) and reason. Each receiver returns how many of the user's things
# it took down (an int) or None; user_suspend returns the sum. Receivers run in order, outside
# the suspension's transaction, and an exception propagates to the moderator (the suspension
# stays: running user_suspend again finishes what is left). The feature apps connect here in
# their AppConfig.ready() (auctions: hide and refund the live listings,
# auctions.services.moderation.on_user_suspended), so accounts imports none of them.
user_suspended = Signal()


def on_logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if user is None or getattr(user, "pk", None) is None:
        return
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        # Django's logout() flushes the session only after this signal: delete it first, so
        # the sockets that re-check on the announcement find it gone (the flush that follows
        # finds nothing left to delete).
        session.delete()
    from accounts.services import user_sessions_changed

    user_sessions_changed(user_id=user.pk)


def on_user_pre_save(sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    """A password set on an existing user (change, reset, admin) ends the other sessions:
    noted here, announced after the row is written (on_user_post_save)."""
    if raw or instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        instance._nb_password_changed = True


def on_user_post_save(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if getattr(instance, "_nb_password_changed", False):
        instance._nb_password_changed = False
        from accounts.services import device_tokens_revoke_all, user_sessions_changed

        user_sessions_changed(user_id=instance.pk)  # after commit (or now, in autocommit)
        device_tokens_revoke_all(user_id=instance.pk)  # the apps' sign-ins end with the old password


def on_logged_in_device(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """Record the browser a user signed in from (neighborbid.middleware.DeviceCookieMiddleware)."""
    device_id = getattr(request, "nb_device_id", "") if request is not None else ""
    if user is None or getattr(user, "pk", None) is None or not device_id:
        return
    from accounts.services import device_sighting_record

    device_sighting_record(user_id=user.pk, device_id=device_id)
