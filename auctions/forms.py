"""Forms for the auction pages. They parse and check the shape of input only; every rule
(prices, duration, eligibility, permissions) is the services' business."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from auctions.images import MAX_PHOTOS
from auctions.models import Auction, Report
from neighborbid.errors import InvalidAmount
from wallets.amounts import parse_won

AMOUNT_HELP = _("원 단위 금액을 입력해 주세요. 예: 12,000")


class WonField(forms.CharField):
    """A whole-won amount: "12000", "12,000" or "12,000원". Floats, negatives, text → error."""

    default_error_messages = {
        "invalid_amount": _("금액은 1원 이상의 정수(원)로 입력해 주세요. 예: 12,000"),
    }

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "numeric", "autocomplete": "off", "placeholder": "0", "maxlength": "20"})
        return attrs

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return parse_won(value)
        except InvalidAmount as exc:
            raise forms.ValidationError(self.error_messages["invalid_amount"], code="invalid_amount") from exc


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several files from one <input multiple>. Only the count is checked here; the type,
    size and content are checked by the photo service (auctions.images)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            files = [single(item, initial) for item in data if item]
        else:
            files = [single(data, initial)] if data else []
        files = [f for f in files if f]
        if len(files) > MAX_PHOTOS:
            raise forms.ValidationError(_("사진은 최대 %(n)s장까지 올릴 수 있어요.") % {"n": MAX_PHOTOS})
        return files


DURATION_CHOICES = [
    (1, _("1시간")),
    (3, _("3시간")),
    (6, _("6시간")),
    (12, _("12시간")),
    (24, _("1일")),
    (48, _("2일")),
    (72, _("3일")),
    (120, _("5일")),
    (168, _("7일")),
]
MIN_TEMPERATURE_CHOICES = [
    ("", _("제한 없음")),
    ("30.0", _("30.0°C 이상 (비매너가 쌓인 이웃만 막아요)")),
    ("36.5", _("36.5°C 이상 (첫 거래인 이웃도 참여할 수 있어요)")),
    ("37.5", _("37.5°C 이상 (좋은 후기가 있는 이웃만)")),
    ("40.0", _("40.0°C 이상 (후기가 많이 쌓인 이웃만)")),
]
KIND_CHOICES = [("local", _("동네 경매 (인증한 이웃만)")), ("national", _("전국 실시간 경매"))]


class AuctionEditForm(forms.Form):
    title = forms.CharField(label=_("제목"), max_length=100)
    description = forms.CharField(
        label=_("자세한 설명"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 6})
    )
    category = forms.ChoiceField(label=_("카테고리"), choices=Auction.Category.choices)
    condition = forms.ChoiceField(label=_("상품 상태"), choices=Auction.Condition.choices)
    start_price = WonField(label=_("시작가 (원)"), help_text=AMOUNT_HELP)
    buy_now_price = WonField(
        label=_("즉시구매가 (원, 선택)"), required=False, help_text=_("비워 두면 즉시구매 없이 경매만 진행해요.")
    )
    photos = MultiplePhotoField(
        label=_("사진 (최대 10장)"), help_text=_("JPG, PNG, WEBP · 한 장에 10MB까지 · 자동으로 크기를 줄여요.")
    )

    field_order = ["photos", "title", "category", "condition", "description", "start_price", "buy_now_price"]


class AuctionForm(AuctionEditForm):
    duration_hours = forms.TypedChoiceField(
        label=_("경매 기간"), choices=DURATION_CHOICES, coerce=int, initial=24, widget=forms.Select
    )
    kind = forms.ChoiceField(label=_("경매 종류"), choices=KIND_CHOICES, initial="local", widget=forms.RadioSelect)
    min_manner_temperature = forms.TypedChoiceField(
        label=_("입찰할 수 있는 최소 매너온도 (동네 경매, 선택)"),
        choices=MIN_TEMPERATURE_CHOICES,
        coerce=Decimal,
        empty_value=None,
        required=False,
        help_text=_(
            "정하면 매너온도가 이보다 낮은 이웃은 입찰하거나 즉시구매할 수 없어요. 전국 경매에는 쓸 수 없어요."
        ),
    )

    field_order = [*AuctionEditForm.field_order, "duration_hours", "kind", "min_manner_temperature"]

    @property
    def duration(self) -> timedelta:
        return timedelta(hours=self.cleaned_data["duration_hours"])


class RequestIdField(forms.CharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("widget", forms.HiddenInput)
        kwargs.setdefault(
            "error_messages", {"required": _("요청 번호가 없어요. 페이지를 새로 고친 뒤 다시 시도해 주세요.")}
        )
        super().__init__(*args, **kwargs)


class BidForm(forms.Form):
    amount = WonField(label=_("입찰가 (원)"), error_messages={"required": _("입찰가를 입력해 주세요.")})
    max_amount = WonField(label=_("최대 입찰가 (선택)"), required=False)
    request_id = RequestIdField()
    confirmed = forms.BooleanField(required=False)


class BuyNowForm(forms.Form):
    request_id = RequestIdField()


class ReportForm(forms.Form):
    reason = forms.ChoiceField(label=_("신고 사유"), choices=Report.Reason.choices)
    text = forms.CharField(
        label=_("내용 (선택)"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
