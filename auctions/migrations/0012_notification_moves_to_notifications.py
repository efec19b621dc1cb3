"""Notification now belongs to notifications/ (issue 17): drop it from auctions' state only.
The table `auctions_notification` and its rows stay (notifications 0001 took them over)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("auctions", "0011_max_bidding"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Notification")],
            database_operations=[],
        ),
    ]
