"""Users in the admin. Moderators (staff, not superusers) see users read-only and can suspend or
unsuspend them through the account services; only a superuser edits accounts (staff flags,
groups, passwords). Suspension fields are never edited by hand: the action hides and refunds the
user's live listings too."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from accounts.forms import AdminLoginForm
from accounts.models import Neighbourhood, User
from accounts.services import user_create, user_suspend, user_unsuspend
from neighborbid.admin_actions import ReasonForm, form_action
from neighborbid.errors import DomainError
from wallets.models import Wallet

admin.site.site_header = "NeighborBid 운영"
admin.site.site_title = "NeighborBid 운영"
admin.site.index_title = "운영 · 모더레이션"
admin.site.login_form = AdminLoginForm  # "아이디"; a locked login says so (not "wrong password")


class NeighborBidUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "nickname")


class NeighborBidUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = NeighborBidUserChangeForm
    add_form = NeighborBidUserCreationForm
    list_display = (
        "id",
        "username",
        "nickname",
        "neighbourhood",
        "is_suspended",
        "is_staff",
        "is_active",
        "available_balance",
        "date_joined",
    )
    list_filter = ("is_suspended", "is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("=id", "username", "nickname", "email")
    list_select_related = ("neighbourhood", "wallet")
    ordering = ("-id",)
    show_full_result_count = False
    actions = ["suspend_users", "unsuspend_users"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("프로필", {"fields": ("nickname", "email", "neighbourhood", "search_radius_km", "location_verified_at")}),
        ("이용 정지", {"fields": ("is_suspended", "suspended_reason", "suspended_at")}),
        ("지갑", {"fields": ("wallet_summary",)}),
        ("권한", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("기록", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "nickname", "password1", "password2")}),)
    readonly_fields = (
        "is_suspended",
        "suspended_reason",
        "suspended_at",
        "location_verified_at",
        "wallet_summary",
        "last_login",
        "date_joined",
    )

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False  # users own money and history (PROTECT); deactivate or suspend instead

    def has_suspend_permission(self, request) -> bool:
        return request.user.has_perm("accounts.suspend_user")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # "Add user" goes through the one way users come to be (with their wallet).
        try:
            created = user_create(
                username=obj.username,
                password=form.cleaned_data.get("password1") or None,
                nickname=obj.nickname or obj.username,
                neighbourhood=obj.neighbourhood,
                is_staff=obj.is_staff,
            )
        except DomainError as exc:
            raise ValidationError(exc.message) from exc
        obj.pk = created.pk
        obj._state.adding = False

    @admin.display(description="사용 가능 잔액", ordering="wallet__balance")
    def available_balance(self, obj: User) -> str:
        wallet = getattr(obj, "wallet", None)
        return "-" if wallet is None else f"{wallet.balance:,}원"

    @admin.display(description="지갑")
    def wallet_summary(self, obj: User) -> str:
        wallet = Wallet.objects.filter(user=obj).first()
        if wallet is None:
            return "-"
        url = reverse("admin:wallets_wallet_change", args=[wallet.pk])
        return format_html(
            '<a href="{}">사용 가능 {}원 · 입찰 중 잠김 {}원</a>',
            url,
            f"{wallet.balance:,}",
            f"{wallet.locked_balance:,}",
        )

    @admin.action(description="선택한 회원 이용 정지 (판매 중 경매 숨김·환불)", permissions=["suspend"])
    def suspend_users(self, request, queryset):
        def perform(user, data):
            hidden = user_suspend(user_id=user.pk, staff_user=request.user, reason=data["reason"])
            return f"이용 정지 (숨긴 경매 {hidden}건)."

        return form_action(
            self,
            request,
            queryset,
            action="suspend_users",
            title="이용 정지",
            form_class=ReasonForm,
            perform=perform,
            intro="정지된 회원은 경매 등록, 입찰, 구매를 할 수 없어요. 진행 중인 판매 경매는 숨기고 "
            "입찰금을 환불해요. 사유는 본인에게 보여요.",
        )

    @admin.action(description="선택한 회원 이용 정지 해제", permissions=["suspend"])
    def unsuspend_users(self, request, queryset):
        done = 0
        for user in queryset:
            try:
                user_unsuspend(user_id=user.pk, staff_user=request.user)
                self.log_change(request, user, "이용 정지 해제")
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{user}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{done}명의 이용 정지를 풀었어요.", messages.SUCCESS)


@admin.register(Neighbourhood)
class NeighbourhoodAdmin(admin.ModelAdmin):
    list_display = ("district", "name", "latitude", "longitude")
    search_fields = ("name", "district")
    list_filter = ("district",)

    def has_delete_permission(self, request, obj=None):
        return False
