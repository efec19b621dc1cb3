from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "회원"

    def ready(self):
        # The moderators group and its permissions exist after every migrate (and test flush).
        from accounts.roles import setup_roles_after_migrate

        post_migrate.connect(setup_roles_after_migrate, sender=self, dispatch_uid="accounts.setup_roles")
