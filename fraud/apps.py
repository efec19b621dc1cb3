from django.apps import AppConfig


class FraudConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "fraud"
    verbose_name = "부정 거래 탐지"

    def ready(self) -> None:
        # Each settled auction's seller is scanned once the settlement has committed: auctions
        # announces it through its hook, so auctions imports nothing from fraud.
        from auctions.signals import auction_settled
        from fraud.services import on_auction_settled

        auction_settled.connect(on_auction_settled, dispatch_uid="fraud.scan_settled_seller")
