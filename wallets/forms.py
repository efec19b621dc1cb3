"""Wallet forms, and the whole-won amount field every money form uses (auctions.forms too)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from neighborbid.errors import InvalidAmount
from wallets.amounts import parse_won

AMOUNT_HELP = _("원 단위 금액을 입력해 주세요. 예: 12,000 또는 5만")


class WonField(forms.CharField):
    """A whole-won amount: "12000", "12,000" or "12,000원". Floats, negatives, text → error."""

    default_error_messages = {
        "invalid_amount": _("금액은 1원 이상으로 입력해 주세요. 예: 12,000 또는 5만 3천"),
    }

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "numeric", "autocomplete": "off", "placeholder": "0", "maxlength": "20"})
        return attrs

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return parse_won(value)
        except InvalidAmount as exc:
            raise forms.ValidationError(self.error_messages["invalid_amount"], code="invalid_amount") from exc


class DepositForm(forms.Form):
    amount = WonField(
        label=_("충전할 금액 (원)"), help_text=AMOUNT_HELP, error_messages={"required": _("금액을 입력해 주세요.")}
    )


class WithdrawForm(forms.Form):
    amount = WonField(
        label=_("출금할 금액 (원)"), help_text=AMOUNT_HELP, error_messages={"required": _("금액을 입력해 주세요.")}
    )
