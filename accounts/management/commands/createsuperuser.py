"""Django's `createsuperuser`, plus the user's wallet in the same transaction (every user has
exactly one wallet from the moment they exist; accounts.services.user_create is the usual way)."""

from __future__ import annotations

from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction

from wallets.models import Wallet
from wallets.services import wallet_create


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        database = options.get("database")
        with transaction.atomic(using=database):
            before = set(self.UserModel._default_manager.db_manager(database).values_list("pk", flat=True))
            result = super().handle(*args, **options)
            for user in self.UserModel._default_manager.db_manager(database).exclude(pk__in=before):
                if not Wallet.objects.filter(user=user).exists():
                    wallet_create(user=user)
        return result
