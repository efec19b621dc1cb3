"""Demo data: idempotent. Running it again neither duplicates nor breaks anything; it tops the
demo up with fresh open auctions when the old ones have ended.

It works whatever state an operator left the demo users in: a suspended or deactivated demo
user is left as the admin set them (no listings, no bids for them, said in the output); a demo
wallet spent below DEMO_REFILL_BELOW is refilled to DEMO_BALANCE (a normal deposit, on the ledger);
anything a service refuses is skipped with its message, never a crash."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Neighbourhood, User
from accounts.services import user_create
from auctions.models import Auction
from auctions.services import auction_create, bid_place
from neighborbid.errors import DomainError
from wallets.models import Wallet
from wallets.services import wallet_deposit

ADMIN = ("admin", "neighborbid-admin", "운영자")
DEMO_PASSWORD = "demo-pass-1234"  # noqa: S105 (the documented demo login)
DEMO_BALANCE = 3_000_000
DEMO_REFILL_BELOW = 1_000_000
# username, nickname, (district, 동)
DEMO_USERS = [
    ("minsu", "민수네", ("서울특별시 마포구", "합정동")),
    ("jiyoung", "지영", ("서울특별시 마포구", "서교동")),
    ("hyunwoo", "현우아빠", ("서울특별시 마포구", "망원1동")),
    ("seoyeon", "서연", ("서울특별시 강남구", "역삼1동")),
    ("dohyun", "도현", ("서울특별시 강남구", "삼성1동")),
    ("haneul", "하늘맘", ("경기도 성남시 분당구", "정자동")),
    # outside the capital region: the national reach (issue 20)
    ("halla", "한라봉농부", ("제주특별자치도 제주시", "일도1동")),
    ("jeonju", "전주댁", ("전북특별자치도 전주시 완산구", "풍남동")),
    ("haeundae", "해운대갈매기", ("부산광역시 해운대구", "우1동")),
]
# seller, title, category, condition, start, buy-now, minutes, national, description
DEMO_AUCTIONS = [
    (
        "minsu",
        "이케아 4인용 원목 식탁",
        "furniture",
        "good",
        30_000,
        80_000,
        8,
        False,
        "이사 가서 내놓아요. 상판에 작은 생활 기스가 있어요. 합정역 근처 직거래.",
    ),
    (
        "jiyoung",
        "다이슨 V10 무선청소기",
        "appliance",
        "like_new",
        120_000,
        250_000,
        180,
        False,
        "1년 사용, 배터리 짱짱해요. 헤드 3종 포함.",
    ),
    (
        "hyunwoo",
        "아기 범퍼침대 (거의 새 것)",
        "kids",
        "like_new",
        15_000,
        None,
        45,
        False,
        "두 달 썼어요. 세탁 완료. 망원동 직거래만.",
    ),
    (
        "seoyeon",
        "LG 그램 16 (2023)",
        "digital",
        "good",
        450_000,
        800_000,
        300,
        False,
        "i5, 16GB, 512GB. 충전기 포함. 역삼역 직거래.",
    ),
    ("dohyun", "캠핑 의자 2개 세트", "sports", "fair", 5_000, 20_000, 25, False, "사용감 있지만 튼튼해요."),
    ("haneul", "어린이 동화책 전집 60권", "books", "good", 20_000, 60_000, 600, False, "정자동 아파트 1층 직거래."),
    ("halla", "제주 감귤 따는 가위 세트", "hobby", "good", 8_000, 20_000, 900, False, "일도1동 동문시장 앞 직거래."),
    ("jeonju", "전주 한옥마을 원목 좌식 책상", "furniture", "good", 25_000, 60_000, 720, False, "풍남동 직거래만."),
    ("haeundae", "서핑보드 7피트 (해운대)", "sports", "fair", 90_000, 200_000, 1_000, False, "해수욕장 앞 직거래."),
    (
        "seoyeon",
        "[한정판] 나이키 에어 조던 1 레트로 시카고",
        "limited",
        "new",
        200_000,
        600_000,
        12,
        True,
        "미개봉 새 상품, 270mm. 전국 실시간 경매로 진행해요.",
    ),
    (
        "minsu",
        "[한정판] 레고 UCS 밀레니엄 팔콘 75192",
        "limited",
        "new",
        800_000,
        1_500_000,
        90,
        True,
        "국내 정발 미개봉. 택배 거래.",
    ),
    (
        "dohyun",
        "[한정판] 포켓몬 카드 리자몽 PSA 10",
        "hobby",
        "new",
        300_000,
        None,
        240,
        True,
        "PSA 10 등급. 전국 실시간 경매.",
    ),
]
DEMO_BIDS = [  # (auction title prefix, bidder, amount)
    ("이케아 4인용", "jiyoung", 30_000),
    ("이케아 4인용", "hyunwoo", 32_000),
    ("다이슨 V10", "minsu", 120_000),
    ("[한정판] 나이키", "minsu", 200_000),
    ("[한정판] 나이키", "dohyun", 210_000),
    ("[한정판] 나이키", "haneul", 220_000),
]


# Demo trades, one per state (issue 10): (title, seller, buyer, price, national, steps). The
# steps run through the trade services; a trade already there is left alone (idempotent).
DEMO_TRADES = [
    ("[거래 데모] 원목 책장", "jiyoung", "minsu", 25_000, False, ()),
    ("[거래 데모] 닌텐도 스위치 OLED", "dohyun", "haneul", 280_000, True, ("ship",)),
    ("[거래 데모] 유아 식탁의자", "hyunwoo", "jiyoung", 15_000, False, ("hand_over", "confirm")),
    ("[거래 데모] 블루투스 스피커", "seoyeon", "minsu", 60_000, True, ("ship", "dispute")),
    ("[거래 데모] 캠핑 의자 2개", "minsu", "hyunwoo", 18_000, False, ("refund",)),
]


def seed_demo_trades(users: dict[str, User], *, say=lambda line: None) -> int:
    """Buy each demo trade's item now and walk it to its state. Returns how many were made."""
    from auctions.services import auction_buy_now
    from trades.models import Trade
    from trades.services import (
        trade_confirm,
        trade_dispute_open,
        trade_mark_handed_over,
        trade_mark_shipped,
        trade_refund,
    )

    made = 0
    for title, seller, buyer, price, national, steps in DEMO_TRADES:
        if seller not in users or buyer not in users:
            continue  # a suspended or deactivated demo user takes part in no new trade
        if Trade.objects.filter(auction__title=title, seller=users[seller]).exists():
            continue
        auction = Auction.objects.filter(title=title, seller=users[seller], status=Auction.Status.OPEN).first()
        if auction is None:
            auction = auction_create(
                actor=users[seller],
                title=title,
                description="거래 화면을 보여 주는 데모 상품이에요.",
                category="other",
                condition="good",
                start_price=max(100, price // 2),
                buy_now_price=price,
                duration=timedelta(hours=1),
                is_national=national,
            )
        try:
            auction_buy_now(auction_id=auction.pk, actor=users[buyer], request_id=uuid.uuid4().hex)
            trade = Trade.objects.get(auction=auction)
            for step in steps:
                if step == "ship":
                    trade_mark_shipped(
                        trade_id=trade.pk, actor=users[seller], carrier="CJ대한통운", tracking_number="6012-3456-7890"
                    )
                elif step == "hand_over":
                    trade_mark_handed_over(trade_id=trade.pk, actor=users[seller])
                elif step == "confirm":
                    trade_confirm(trade_id=trade.pk, actor=users[buyer])
                elif step == "dispute":
                    trade_dispute_open(trade_id=trade.pk, actor=users[buyer], reason="소리가 한쪽만 나와요.")
                elif step == "refund":
                    trade_refund(trade_id=trade.pk, actor=users[seller])
        except DomainError as exc:
            say(f"demo trade skipped ({title}): {exc.message}")
            continue
        made += 1
    return made


class Command(BaseCommand):
    help = "Create or top up the demo data (users, funded wallets, local and national auctions)."

    def handle(self, *args, **options):
        now = timezone.now()
        admin = User.objects.filter(username=ADMIN[0]).first()
        if admin is None:
            admin = user_create(username=ADMIN[0], password=ADMIN[1], nickname=ADMIN[2], superuser=True)
            self.stdout.write(f"created superuser {ADMIN[0]}")
        users: dict[str, User] = {}
        for username, nickname, (district, dong) in DEMO_USERS:
            place = Neighbourhood.objects.get(district=district, name=dong)
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(username=username, password=DEMO_PASSWORD, nickname=nickname, neighbourhood=place)
                self.stdout.write(f"created demo user {username}")
            # demo users stay verified (verification lasts 30 days) and keep a home 동
            User.objects.filter(pk=user.pk).update(location_verified_at=now, search_radius_km=User.Radius.MIDDLE)
            User.objects.filter(pk=user.pk, neighbourhood__isnull=True).update(neighbourhood=place)
            user.refresh_from_db()
            if not user.is_active or user.is_suspended:
                # An operator's decision: the demo respects it and goes on without this user.
                state = "suspended" if user.is_suspended else "deactivated"
                self.stdout.write(f"demo user {username} is {state}: no demo listings or bids for them")
                continue
            self._refill(user)
            users[username] = user

        live = Auction.objects.filter(
            seller__username__in=[u[0] for u in DEMO_USERS],
            status__in=[Auction.Status.OPEN, Auction.Status.SCHEDULED],
        )
        live_titles = set(live.values_list("title", flat=True))
        created = []
        for seller, title, category, condition, start, buy_now, minutes, national, description in DEMO_AUCTIONS:
            if title in live_titles or seller not in users:
                continue
            try:
                auction = auction_create(
                    actor=users[seller],
                    title=title,
                    description=description,
                    category=category,
                    condition=condition,
                    start_price=start,
                    buy_now_price=buy_now,
                    duration=timedelta(hours=1),
                    is_national=national,
                )
            except DomainError as exc:
                self.stdout.write(f"demo auction skipped ({title}): {exc.message}")
                continue
            # Demo only: some auctions end within minutes, so the worker's settlement shows.
            end = now + timedelta(minutes=minutes)
            with transaction.atomic():
                Auction.objects.filter(pk=auction.pk).update(ends_at=end, original_ends_at=end)
            created.append(auction)
        for prefix, bidder, amount in DEMO_BIDS:
            auction = next((a for a in created if a.title.startswith(prefix)), None)
            if auction is None or bidder not in users:
                continue
            try:
                bid_place(auction_id=auction.pk, actor=users[bidder], amount=amount, request_id=uuid.uuid4().hex)
            except DomainError as exc:
                self.stdout.write(f"demo bid skipped: {exc.message}")
        trades_made = seed_demo_trades(users, say=self.stdout.write)
        self.stdout.write(
            self.style.SUCCESS(
                f"demo ready: {len(created)} new auction(s), {trades_made} new "
                f"trade(s); log in as {', '.join(u[0] for u in DEMO_USERS)} "
                f"with password {DEMO_PASSWORD!r}, admin: {ADMIN[0]} / {ADMIN[1]!r}"
            )
        )

    def _refill(self, user: User) -> None:
        wallet = Wallet.objects.filter(user=user).first()
        balance = wallet.balance if wallet is not None else 0
        if balance >= DEMO_REFILL_BELOW:
            return
        try:
            wallet_deposit(actor=user, amount=DEMO_BALANCE - balance, memo="데모 충전")
        except DomainError as exc:
            self.stdout.write(f"demo top-up skipped for {user.username}: {exc.message}")
