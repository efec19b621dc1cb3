"""Notification moves from auctions/ to notifications/ (issue 17): state only.

The table keeps its name (`auctions_notification`), its rows and its index; this migration
only tells Django the model now belongs here. It runs after auctions' last migration that
shaped the table, and auctions 0012 (which drops the model from auctions' state) runs after
it, so a fresh database (tables created by auctions 0001..0011) and an existing one migrate
the same way."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("auctions", "0011_max_bidding"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("outbid", "상위 입찰"),
                                    ("won", "낙찰"),
                                    ("sold", "판매 완료"),
                                    ("unsold", "유찰"),
                                    ("ending_soon", "마감 임박"),
                                    ("cancelled", "경매 취소"),
                                    ("suspended", "이용 정지"),
                                    ("trade_shipped", "거래: 발송"),
                                    ("trade_handed_over", "거래: 전달 완료"),
                                    ("trade_completed", "거래: 구매 확정"),
                                    ("trade_refunded", "거래: 환불"),
                                    ("trade_disputed", "거래: 분쟁"),
                                    ("trade_resolved", "거래: 분쟁 해결"),
                                    ("question", "상품 문의"),
                                    ("answer", "문의 답변"),
                                ],
                                max_length=20,
                                verbose_name="종류",
                            ),
                        ),
                        ("message", models.CharField(max_length=300, verbose_name="내용")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="보낸 시각")),
                        ("read_at", models.DateTimeField(blank=True, null=True, verbose_name="읽은 시각")),
                        (
                            "auction",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="auctions.auction",
                                verbose_name="경매",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="회원",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "알림",
                        "verbose_name_plural": "알림",
                        "db_table": "auctions_notification",
                        "ordering": ["-id"],
                        "indexes": [models.Index(fields=["user", "read_at", "-id"], name="notification_user_unread")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
