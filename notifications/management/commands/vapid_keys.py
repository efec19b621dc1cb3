"""Print a new VAPID key pair as environment lines (VAPID_PRIVATE_KEY=..., VAPID_PUBLIC_KEY=...).

`make run` calls it once and keeps the output in var/vapid.env (gitignored); in production run it
once and put the two lines in the environment of the web and worker processes (docs/operations.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from notifications.push import vapid_keys_new


class Command(BaseCommand):
    help = "Print a new VAPID key pair for Web Push as VAPID_PRIVATE_KEY=/VAPID_PUBLIC_KEY= lines."

    def handle(self, *args, **options):
        private, public = vapid_keys_new()
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}\nVAPID_PUBLIC_KEY={public}")
