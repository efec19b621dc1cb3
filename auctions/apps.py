from django.apps import AppConfig


class AuctionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "auctions"
    verbose_name = "경매"

    def ready(self) -> None:
        # A suspended seller's live listings are hidden and refunded: accounts announces the
        # suspension through its hook, so accounts imports nothing from auctions.
        from accounts.signals import user_suspended
        from auctions.services.moderation import on_user_suspended

        user_suspended.connect(on_user_suspended, dispatch_uid="auctions.hide_suspended_sellers_listings")
