from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Neighbourhood, User


class NeighbourhoodChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Neighbourhood) -> str:
        return f"{obj.name} ({obj.district})"


def neighbourhood_field(**kwargs) -> NeighbourhoodChoiceField:
    return NeighbourhoodChoiceField(
        queryset=Neighbourhood.objects.order_by("district", "name"),
        label=kwargs.pop("label", _("내 동네")),
        empty_label=_("동네를 골라 주세요"),
        error_messages={"required": _("동네를 골라 주세요."), "invalid_choice": _("목록에 있는 동네를 골라 주세요.")},
        **kwargs,
    )


class SignupForm(UserCreationForm):
    """Django's UserCreationForm (password validators included); the account itself is
    created by accounts.services.user_create."""

    nickname = forms.CharField(label=_("닉네임"), max_length=30, help_text=_("이웃에게 보이는 이름이에요."))
    neighbourhood = neighbourhood_field()

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "nickname", "neighbourhood")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("아이디")
        self.fields["username"].help_text = _("로그인할 때 쓰는 아이디예요. (영문, 숫자, @/./+/-/_)")


class VerifyLocationForm(forms.Form):
    neighbourhood = neighbourhood_field(label=_("인증할 동네"))
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


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("아이디 또는 비밀번호가 맞지 않아요."),
        "inactive": _("사용할 수 없는 계정이에요."),
    }
