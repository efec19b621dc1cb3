"""Reviews in the admin: read-only (they are written by reviews.services only)."""

from __future__ import annotations

from django.contrib import admin

from reviews.models import Review


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("id", "trade", "reviewer", "reviewee", "rating", "created_at")
    list_filter = ("rating",)
    search_fields = ("reviewer__username", "reviewee__username", "text")
    list_select_related = ("trade", "reviewer", "reviewee")
    readonly_fields = ("trade", "reviewer", "reviewee", "rating", "tags", "text", "created_at", "updated_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
