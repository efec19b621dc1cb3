from django.apps import AppConfig


class TradesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "trades"
    verbose_name = "거래"
