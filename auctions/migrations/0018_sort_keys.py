"""The open lists sort on sort keys, so that most bids update the auction's row HOT (issue 19).

A bid changes the price, the bid count and the leader. While any index names one of them,
PostgreSQL writes a new entry into every index of the table for every accepted bid: 17 of them,
three GIN text indexes, all under the auction's row lock. Here the lists' price and bid-count
sorts move to `sort_price` / `sort_bids` (refreshed by a busy auction's bids at most once a
second, the rest by the worker), the leader loses its unread index, and the table keeps 15 %
of each page free for the new row version, so a bid on a busy auction touches no index at all.
On the service bench's database the bid's row update alone went from 835–1,151 to 1,596–1,970 tps
(docs/benchmarks.md). The two list indexes are rebuilt on the new columns (PostgreSQL only,
like 0008)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

OPEN = "WHERE status = 'open' AND NOT is_hidden"
INCLUDE = "INCLUDE (neighbourhood_id, starts_at, category)"
SORT_INDEXES = {
    "auction_open_price": f"(is_national, sort_price, id) {INCLUDE} {OPEN}",
    "auction_open_bids": f"(is_national, sort_bids DESC, ends_at, id) {INCLUDE} {OPEN}",
}
OLD_INDEXES = {
    "auction_open_price": f"(is_national, current_price, id) {INCLUDE} {OPEN}",
    "auction_open_bids": f"(is_national, bid_count DESC, ends_at, id) {INCLUDE} {OPEN}",
}


def sort_keys_fill(apps, schema_editor):
    Auction = apps.get_model("auctions", "Auction")
    Auction.objects.update(
        sort_price=models.F("current_price"),
        sort_bids=models.F("bid_count"),
        sort_at=models.F("updated_at"),
        sort_stale=False,
    )


def indexes(definitions: dict[str, str], fillfactor: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, definition in definitions.items():
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}", params=None)
            schema_editor.execute(f"CREATE INDEX {name} ON auctions_auction {definition}", params=None)
        schema_editor.execute(f"ALTER TABLE auctions_auction {fillfactor}", params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_device_tokens"),
        ("auctions", "0017_unread_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="auction",
            name="sort_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="정렬 키 갱신 시각"),
        ),
        migrations.AddField(
            model_name="auction",
            name="sort_bids",
            field=models.PositiveIntegerField(db_default=0, default=0, verbose_name="정렬용 입찰 수"),
        ),
        migrations.AddField(
            model_name="auction",
            name="sort_price",
            field=models.BigIntegerField(db_default=0, default=0, verbose_name="정렬용 현재가"),
        ),
        migrations.AddField(
            model_name="auction",
            name="sort_stale",
            field=models.BooleanField(db_default=True, default=False, verbose_name="정렬 키 갱신 필요"),
        ),
        migrations.RunPython(sort_keys_fill, migrations.RunPython.noop),
        migrations.RunPython(
            indexes(SORT_INDEXES, "SET (fillfactor = 85)"), indexes(OLD_INDEXES, "RESET (fillfactor)")
        ),
        migrations.AlterField(
            model_name="auction",
            name="leader",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="leading_auctions",
                to=settings.AUTH_USER_MODEL,
                verbose_name="최고 입찰자",
            ),
        ),
        migrations.AddIndex(
            model_name="auction",
            index=models.Index(condition=models.Q(("sort_stale", True)), fields=["id"], name="auction_sort_stale"),
        ),
    ]
