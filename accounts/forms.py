from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordResetForm,
    SetPasswordForm,
    UserCreationForm,
)
from django.utils.translation import gettext_lazy as _

from accounts.models import Neighbourhood, User
from neighborbid.admin_site import NeighborBidAuthenticationForm
from neighborbid.security import LOCKED_ATTR

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class SignupForm(UserCreationForm):
    """Django's UserCreationForm (password validators included); the account itself is
    created by accounts.services.user_create. No 동 here: the verification page that follows
    finds it from where the user stands (or by search), never from a list of 3,512 names."""

    nickname = forms.CharField(label=_("닉네임"), max_length=30, help_text=_("이웃에게 보이는 이름이에요."))
    email = forms.EmailField(
        label=_("이메일 (선택)"),
        required=False,
        help_text=_("비밀번호를 잊었을 때 재설정 링크를 이 주소로 보내요."),
        error_messages={"invalid": _("올바른 이메일 주소를 입력해 주세요.")},
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "nickname", "email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("아이디")
        self.fields["username"].help_text = _("로그인할 때 쓰는 아이디예요. (영문, 숫자, @/./+/-/_)")


class VerifyLocationForm(forms.Form):
    # the page offers buttons (the nearest 동, search results), never a list of 3,500 names
    neighbourhood = forms.ModelChoiceField(
        queryset=Neighbourhood.objects.filter(is_offered=True),
        error_messages={"required": _("동네를 골라 주세요."), "invalid_choice": _("목록에 있는 동네를 골라 주세요.")},
    )
    latitude = forms.CharField(required=False, widget=forms.HiddenInput, max_length=40)
    longitude = forms.CharField(required=False, widget=forms.HiddenInput, max_length=40)

    def clean(self):
        data = super().clean()
        if not data.get("latitude") or not data.get("longitude"):
            raise forms.ValidationError(
                _("현재 위치를 가져오지 못했어요. 브라우저에서 위치 권한을 허용한 뒤 다시 시도해 주세요.")
            )
        return data


class RadiusForm(forms.Form):
    radius_km = forms.TypedChoiceField(label=_("동네 범위"), choices=User.Radius.choices, coerce=int)


class LockoutAwareMixin:
    """A login refused by the lock-out (neighborbid.security) says so, with the real minutes
    left, instead of "wrong password" (the password may well be right)."""

    error_messages: dict[str, StrOrPromise] = {
        "invalid_login": _("아이디 또는 비밀번호가 맞지 않아요."),
        "inactive": _("사용할 수 없는 계정이에요."),
    }

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            lock = getattr(self.request, LOCKED_ATTR, None)
            if lock is not None:
                raise forms.ValidationError(lock.message, code="locked") from None
            raise


class LoginForm(LockoutAwareMixin, AuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("아이디")


class AdminLoginForm(LockoutAwareMixin, NeighborBidAuthenticationForm):
    """The admin's login: "아이디", the lock-out message, and no admin for suspended staff
    (neighborbid.admin_site)."""

    error_messages = {
        **LockoutAwareMixin.error_messages,
        "invalid_login": _("아이디 또는 비밀번호가 맞지 않아요. 운영진 계정으로만 들어올 수 있어요."),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("아이디")


class ResetRequestForm(PasswordResetForm):
    email = forms.EmailField(
        label=_("가입할 때 등록한 이메일"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={"required": _("이메일을 입력해 주세요."), "invalid": _("올바른 이메일 주소를 입력해 주세요.")},
    )


class ResetPasswordForm(SetPasswordForm):
    error_messages = {"password_mismatch": _("두 비밀번호가 서로 달라요.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = _("새 비밀번호")
        self.fields["new_password2"].label = _("새 비밀번호 확인")
