"""Trade forms: parsing only (the rules live in trades.services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class ShipForm(forms.Form):
    carrier = forms.CharField(
        label=_("택배사"), max_length=50, widget=forms.TextInput(attrs={"placeholder": "CJ대한통운"})
    )
    tracking_number = forms.CharField(
        label=_("송장 번호"), max_length=50, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern); the images are checked by
    the service (auctions.images.process_upload)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data]
        return single(data, initial)


class DisputeForm(forms.Form):
    reason = forms.CharField(
        label=_("분쟁 사유"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("어떤 문제가 있었는지 알려 주세요.")}),
    )
    photos = MultipleFileField(label=_("사진 (선택, 최대 5장)"), required=False)
