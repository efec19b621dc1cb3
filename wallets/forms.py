from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from auctions.forms import AMOUNT_HELP, WonField


class DepositForm(forms.Form):
    amount = WonField(
        label=_("충전할 금액 (원)"), help_text=AMOUNT_HELP, error_messages={"required": _("금액을 입력해 주세요.")}
    )


class WithdrawForm(forms.Form):
    amount = WonField(
        label=_("출금할 금액 (원)"), help_text=AMOUNT_HELP, error_messages={"required": _("금액을 입력해 주세요.")}
    )
