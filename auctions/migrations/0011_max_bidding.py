"""Max (proxy) bidding: the leader's whole maximum on the auction, each bid's maximum and kind.

Existing rows were plain bids: a bid's maximum is its amount, and a leader's maximum is the
current price (which is what their wallet holds)."""

from django.db import migrations, models


def forwards(apps, schema_editor):
    Auction = apps.get_model("auctions", "Auction")
    Bid = apps.get_model("auctions", "Bid")
    Bid.objects.update(max_amount=models.F("amount"))
    Auction.objects.filter(leader__isnull=False).update(leader_max=models.F("current_price"))


class Migration(migrations.Migration):
    dependencies = [("auctions", "0010_notification_kinds_trade_and_chat")]

    operations = [
        migrations.AddField(
            model_name="auction",
            name="leader_max",
            field=models.BigIntegerField(blank=True, null=True, verbose_name="최고 입찰자의 최대 입찰가"),
        ),
        migrations.AddField(
            model_name="bid",
            name="kind",
            field=models.CharField(
                choices=[("bid", "입찰"), ("auto", "자동 입찰"), ("raise", "최대 입찰가 변경")],
                default="bid",
                max_length=10,
                verbose_name="종류",
            ),
        ),
        migrations.AddField(
            model_name="bid",
            name="max_amount",
            field=models.BigIntegerField(null=True, verbose_name="최대 입찰가"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="bid",
            name="max_amount",
            field=models.BigIntegerField(verbose_name="최대 입찰가"),
        ),
        migrations.AddConstraint(
            model_name="bid",
            constraint=models.CheckConstraint(
                condition=models.Q(max_amount__gte=models.F("amount")), name="bid_max_at_least_amount"
            ),
        ),
    ]
