"""Notification moved from auctions/ to notifications/ by state-only migrations (issue 17): a
database migrated before the move keeps its table and rows, and a fresh one gets the table
from auctions' own migrations."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from notifications.models import Notification
from tests.factories import make_user

BEFORE_THE_MOVE = [("auctions", "0011_max_bidding"), ("notifications", None)]


def _migrate(targets: list[tuple[str, str | None]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_a_database_migrated_before_the_move_keeps_its_notifications():
    # given a database as it was before the move, with a notification in auctions' table
    user = make_user()
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    _migrate(BEFORE_THE_MOVE)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO auctions_notification (user_id, kind, message, created_at)"
                " VALUES (%s, 'outbid', '더 높은 입찰이 들어왔어요.', now()) RETURNING id",
                [user.pk],
            )
            (note_id,) = cursor.fetchone()
    finally:
        # when it migrates to today
        _migrate(leaves)
    # then the row is the moved model's, in the same table
    note = Notification.objects.get(pk=note_id)
    assert (note.user_id, note.kind, note.message) == (user.pk, "outbid", "더 높은 입찰이 들어왔어요.")
    assert Notification._meta.db_table == "auctions_notification"
