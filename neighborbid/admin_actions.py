"""Admin actions that need more input (a reason, an amount) get an intermediate page, like
Django's delete confirmation: the first POST from the change list shows the form with the
selected objects; the second POST (with `apply`) validates it and calls the service.

Doors only: every action calls one service per object and turns DomainErrors into messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from neighborbid.errors import DomainError
from neighborbid.korean import particle

MAX_OBJECTS = 200


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="사유", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=1000, required=True
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("사유를 입력해 주세요.")
        return reason


def form_action(
    modeladmin,
    request,
    queryset,
    *,
    action: str,
    title: str,
    form_class: type[forms.Form],
    perform: Callable[[Any, dict[str, Any]], str | None],
    intro: str = "",
    single: bool = False,
    details: Callable[[Any], str] | None = None,
) -> TemplateResponse | None:
    """Run `perform(obj, cleaned_data)` on each selected object once the form is valid.

    `perform` returns a short success note (or None) and may raise DomainError, which becomes
    an error message for that object. Returns the intermediate page, or None to go back to the
    change list. A single-object action refused by its service shows the form again, with
    the refusal and what was typed (issue 18 #21: an invalid split lost the typed amount).
    `details(obj)` adds a line per object on the page (a dispute's amount, say)."""
    count = queryset.count()
    if single and count != 1:
        modeladmin.message_user(request, "이 작업은 한 번에 하나씩만 할 수 있어요. 하나만 골라 주세요.", messages.ERROR)
        return None
    if count > MAX_OBJECTS:
        modeladmin.message_user(request, f"한 번에 {MAX_OBJECTS}개까지만 처리할 수 있어요.", messages.ERROR)
        return None
    if request.POST.get("apply") == "yes":
        form = form_class(request.POST)
        if form.is_valid():
            done, failed = 0, 0
            for obj in queryset:
                try:
                    note = perform(obj, form.cleaned_data)
                except DomainError as exc:
                    failed += 1
                    if single:  # the same page again: the refusal, and the typed values kept
                        form.add_error(None, exc.message)
                        break
                    modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
                    continue
                done += 1
                # The admin's history ("기록") names who did what, with the reason.
                reason = form.cleaned_data.get("reason", "")
                modeladmin.log_change(request, obj, f"{title}: {note or ''} 사유: {reason}".strip())
                if note:
                    modeladmin.message_user(request, f"{obj}: {note}", messages.SUCCESS)
            if single and failed:
                return _page(
                    modeladmin, request, queryset, form, action=action, title=title, intro=intro, details=details
                )
            if done and not failed:
                modeladmin.message_user(request, f"{title}: {done}건 처리했어요.", messages.SUCCESS)
            elif done:
                modeladmin.message_user(request, f"{title}: {done}건 처리, {failed}건 실패.", messages.WARNING)
            return None
    else:
        form = form_class()
    return _page(modeladmin, request, queryset, form, action=action, title=title, intro=intro, details=details)


def _page(modeladmin, request, queryset, form, *, action, title, intro, details) -> TemplateResponse:
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "details": [details(obj) for obj in queryset] if details else [],
        "form": form,
        "queryset": queryset,
        "opts": opts,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/neighborbid/action_form.html", context)


def resolve_each(
    modeladmin, request, queryset, *, resolve: Callable[[Any], object], noun: str, label: str, verb: str = "처리했어요"
) -> None:
    """A queue action: `resolve(obj)` (a service call) for each selected row, logged in the
    admin's history; a DomainError becomes that row's error message. Used by the report queue
    (신고) and the shill-bidding queue (자동 탐지)."""
    done = 0
    for obj in queryset:
        try:
            resolve(obj)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
            continue
        modeladmin.log_change(request, obj, f"{noun} {label}")
        done += 1
    if done:
        modeladmin.message_user(
            request, f"{noun} {done}건을 '{label}'{particle(label, '으로/로')} {verb}.", messages.SUCCESS
        )


class ObjectActionsMixin:
    """The change list's actions, offered on one object's own page too (a moderator reading a
    report acts on it there): one button per action the user may run, each posting this one
    object to the change list's action, so the same permission, intermediate form and messages
    apply (templates/admin/neighborbid/object_actions_change_form.html)."""

    change_form_template: Any = "admin/neighborbid/object_actions_change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from django.urls import reverse

        opts = self.model._meta
        actions = [
            (name, str(description).replace("선택한 ", "이 "))
            for name, (_func, _name, description) in self.get_actions(request).items()
        ]
        extra = {
            "object_actions": actions,
            "object_actions_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})
