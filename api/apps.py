from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON API for apps under /api/v1 (django-ninja): a door like the views and the
    consumers. It parses, authorises, calls one service or selector, and turns a DomainError
    into RFC 9457 problem+json (api/problems.py). No rule lives here; no service imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "앱 API"
