"""Staff roles. A staff user who is not a superuser gets only what their group grants; the
"moderators" group grants moderation and nothing else.

The moderation actions are guarded by custom permissions (rows in auth_permission, no model
change): `auctions.moderate_auction` (cancel / hide a listing), `accounts.suspend_user`,
`wallets.adjust_wallet` (the manual correction), `trades.resolve_dispute` (deciding a trade's
dispute) and `chat.moderate_chat` (reading a reported chat room, closing it). Plain view
permissions let moderators read auctions, bids, reports, users, wallets and the ledger;
`auctions.change_report` lets them work the report queue, `fraud.change_shillcase` the
shill-bidding queue (자동 탐지). No add, change or delete permission
on money or auction state is granted.

`ensure_moderators_group()` is idempotent; it runs after every `migrate` (post_migrate, see
accounts.apps) and from `manage.py setup_roles`.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

MODERATORS = "moderators"

# (app_label, model, codename, name) created here (not in a model's Meta).
CUSTOM_PERMISSIONS = [
    ("auctions", "auction", "moderate_auction", "Can cancel or hide listings (moderation)"),
    ("accounts", "user", "suspend_user", "Can suspend or unsuspend users (moderation)"),
    ("wallets", "wallet", "adjust_wallet", "Can make a manual wallet correction (moderation)"),
    # also declared in trades.Trade.Meta.permissions (same name), so either creator may run first
    ("trades", "trade", "resolve_dispute", "Can resolve trade disputes"),
    ("chat", "room", "moderate_chat", "Can read reported chat rooms and close them (moderation)"),
]

MODERATOR_PERMISSIONS = [
    ("auctions", "auction", "view_auction"),
    ("auctions", "auction", "moderate_auction"),
    ("auctions", "bid", "view_bid"),
    ("auctions", "report", "view_report"),
    ("auctions", "report", "change_report"),
    ("accounts", "user", "view_user"),
    ("accounts", "user", "suspend_user"),
    ("accounts", "neighbourhood", "view_neighbourhood"),
    ("wallets", "wallet", "view_wallet"),
    ("wallets", "wallet", "adjust_wallet"),
    ("wallets", "ledgerentry", "view_ledgerentry"),
    ("trades", "trade", "view_trade"),
    ("trades", "trade", "resolve_dispute"),
    ("trades", "tradedisputephoto", "view_tradedisputephoto"),
    ("chat", "room", "view_room"),
    ("chat", "room", "moderate_chat"),
    ("chat", "chatreport", "view_chatreport"),
    ("chat", "chatreport", "change_chatreport"),
    ("fraud", "shillcase", "view_shillcase"),
    ("fraud", "shillcase", "change_shillcase"),
    ("accounts", "devicesighting", "view_devicesighting"),
]


def _permission(app_label: str, model: str, codename: str, name: str | None = None) -> Permission:
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    if name is None:
        # The same name Django's create_permissions gives a built-in permission.
        action = codename.split("_", 1)[0]
        name = f"Can {action} {apps.get_model(app_label, model)._meta.verbose_name_raw}"
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename=codename, defaults={"name": name}
    )
    return permission


def ensure_custom_permissions() -> list[Permission]:
    return [_permission(app, model, codename, name) for app, model, codename, name in CUSTOM_PERMISSIONS]


def ensure_moderators_group() -> Group:
    """Create (or reset) the moderators group to exactly the moderation permissions."""
    with transaction.atomic():
        ensure_custom_permissions()
        group, _ = Group.objects.get_or_create(name=MODERATORS)
        group.permissions.set([_permission(app, model, codename) for app, model, codename in MODERATOR_PERMISSIONS])
    return group


def setup_roles_after_migrate(sender, **kwargs) -> None:
    """post_migrate receiver (connected for the accounts app only)."""
    ensure_moderators_group()
