from django.core.management.base import BaseCommand

from accounts.roles import MODERATOR_PERMISSIONS, MODERATORS, ensure_moderators_group


class Command(BaseCommand):
    help = "Create or reset the 'moderators' group (moderation permissions only). Idempotent; migrate runs it too."

    def handle(self, *args, **options):
        group = ensure_moderators_group()
        self.stdout.write(
            f"group {MODERATORS!r}: {group.permissions.count()} permission(s) "
            f"({', '.join(f'{app}.{codename}' for app, _, codename in MODERATOR_PERMISSIONS)})"
        )
