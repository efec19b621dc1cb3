from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_migrate, post_save, pre_save


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "회원"

    def ready(self):
        # The moderators group and its permissions exist after every migrate (and test flush).
        from accounts.roles import setup_roles_after_migrate

        post_migrate.connect(setup_roles_after_migrate, sender=self, dispatch_uid="accounts.setup_roles")

        # Login brute-force protection counts failures and successes (neighborbid/security.py).
        from neighborbid.security import on_logged_in, on_login_failed

        user_login_failed.connect(on_login_failed, dispatch_uid="neighborbid.login_failed")
        user_logged_in.connect(on_logged_in, dispatch_uid="neighborbid.logged_in")

        # A logout or a new password ends live sockets' personal delivery (issue: sessions).
        from accounts.signals import on_logged_in_device, on_logged_out, on_user_post_save, on_user_pre_save

        user_logged_out.connect(on_logged_out, dispatch_uid="accounts.logged_out")
        user_logged_in.connect(on_logged_in_device, dispatch_uid="accounts.device_sighting")
        user_model = self.get_model("User")
        pre_save.connect(on_user_pre_save, sender=user_model, dispatch_uid="accounts.password_changed")
        post_save.connect(on_user_post_save, sender=user_model, dispatch_uid="accounts.password_changed_saved")
