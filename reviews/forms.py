"""The review form: shape only (the tag/rating agreement and lengths are the service's)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from reviews import rules
from reviews.models import Review


class ReviewForm(forms.Form):
    rating = forms.ChoiceField(
        label=_("거래는 어떠셨어요?"),
        choices=Review.Rating.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("평가를 골라 주세요.")},
    )
    tags = forms.MultipleChoiceField(
        label=_("어떤 점이 좋았나요? / 아쉬웠나요? (선택)"),
        choices=[(t, t) for t in rules.ALL_TAGS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    text = forms.CharField(
        label=_("따뜻한 후기를 남겨 주세요 (선택)"),
        required=False,
        max_length=rules.TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": rules.TEXT_MAX}),
        help_text=_("%(n)s자까지 쓸 수 있어요. 상대방의 프로필에 공개돼요.") % {"n": rules.TEXT_MAX},
    )

    # The checkboxes in two groups, so the page can show only those that fit the rating picked
    # (static/js/app.js reviewTags); the service still refuses a mix (rules.tags_clean).
    def positive_boxes(self) -> list[forms.boundfield.BoundWidget]:
        return [box for box in self["tags"] if box.data["value"] in rules.POSITIVE_TAGS]

    def negative_boxes(self) -> list[forms.boundfield.BoundWidget]:
        return [box for box in self["tags"] if box.data["value"] in rules.NEGATIVE_TAGS]
