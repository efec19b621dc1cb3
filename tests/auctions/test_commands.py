"""seed_demo is idempotent and tops up; run_worker --once settles; audit_ledger passes after."""

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from auctions.models import Auction
from auctions.worker import worker_loop
from tests.factories import ensure_neighbourhoods
from tests.money import assert_books_balance, world

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_tops_up_ended_auctions(capsys):
    call_command("seed_demo")
    first = world()
    users = User.objects.count()
    assert User.objects.filter(username="admin", is_superuser=True).exists()
    assert Auction.objects.filter(is_national=True, status="open").exists()
    assert Auction.objects.filter(is_national=False, status="open").exists()
    assert Auction.objects.filter(ends_at__lte=timezone.now() + timedelta(minutes=15)).exists()
    assert_books_balance()

    # running it again changes nothing
    call_command("seed_demo")
    assert world() == first and User.objects.count() == users

    # when the demo auctions have ended, a new run adds fresh open ones
    Auction.objects.update(ends_at=timezone.now() - timedelta(seconds=1), starts_at=timezone.now() - timedelta(hours=1))
    call_command("run_worker", "--once")
    assert not Auction.objects.filter(status="open").exists()
    call_command("seed_demo")
    assert Auction.objects.filter(status="open").count() == sum(
        a["status"] == "open" for a in first["auctions"].values()
    )
    assert User.objects.count() == users
    assert_books_balance()
    call_command("audit_ledger")
    assert "OK: the books balance." in capsys.readouterr().out


def test_seed_demo_tops_up_whatever_state_the_demo_users_are_in(capsys):
    # given: a demo whose auctions have ended, then an operator suspended one seller, another
    # demo user lost their verification, a third spent their wallet, a fourth was deactivated
    from accounts.services import user_suspend
    from wallets.models import Wallet
    from wallets.services import wallet_withdraw

    call_command("seed_demo")
    admin = User.objects.get(username="admin")
    Auction.objects.update(ends_at=timezone.now() - timedelta(seconds=1), starts_at=timezone.now() - timedelta(hours=1))
    call_command("run_worker", "--once")
    user_suspend(user_id=User.objects.get(username="jiyoung").pk, staff_user=admin, reason="테스트 정지")
    User.objects.filter(username="hyunwoo").update(location_verified_at=None)
    minsu = User.objects.get(username="minsu")
    wallet_withdraw(actor=minsu, amount=Wallet.objects.get(user=minsu).balance)
    User.objects.filter(username="haneul").update(is_active=False)
    capsys.readouterr()

    # when: the demo is topped up (what `make run` does at every start)
    call_command("seed_demo")

    # then: it finished, the suspension and deactivation stand, the others got fresh auctions
    out = capsys.readouterr().out
    assert "demo ready" in out
    jiyoung = User.objects.get(username="jiyoung")
    assert jiyoung.is_suspended and not User.objects.get(username="haneul").is_active
    open_sellers = set(Auction.objects.filter(status="open").values_list("seller__username", flat=True))
    assert open_sellers == {"minsu", "hyunwoo", "seoyeon", "dohyun", "halla", "jeonju", "haeundae"}
    assert not Auction.objects.filter(status="open", bids__bidder__username__in=["jiyoung", "haneul"]).exists()
    assert Wallet.objects.get(user=minsu).balance > 0  # the spent demo wallet was refilled
    assert_books_balance()
    call_command("audit_ledger")
    assert "OK: the books balance." in capsys.readouterr().out


def test_seed_demo_shows_a_trade_in_each_state():
    from trades.models import Trade

    call_command("seed_demo")
    states = set(Trade.objects.values_list("status", flat=True))
    assert states == {"awaiting_handover", "shipped", "completed", "disputed", "refunded"}
    call_command("seed_demo")
    assert Trade.objects.count() == 5
    assert_books_balance()


def test_seed_demo_lists_across_the_country():
    # issue 20: a newcomer sees the national reach, and a second run adds nothing
    call_command("seed_demo")
    local = Auction.objects.filter(is_national=False, status=Auction.Status.OPEN)
    sidos = set(local.values_list("neighbourhood__sido", flat=True))
    assert {"제주특별자치도", "전북특별자치도", "부산광역시"} <= sidos
    count = local.count()
    call_command("seed_demo")
    assert local.count() == count


@pytest.mark.django_db(transaction=True)  # the worker's loop commits and tidies connections
def test_while_the_demo_runs_the_worker_brings_its_listings_back(settings):
    # given: the demo of `make run` (DEMO_TOP_UP_SECONDS), 40 minutes later: every listing ended
    ensure_neighbourhoods()  # a transactional test may have flushed the migration's 동
    call_command("seed_demo")
    local_at_start = Auction.objects.filter(is_national=False, status="open").count()
    Auction.objects.update(ends_at=timezone.now() - timedelta(seconds=1), starts_at=timezone.now() - timedelta(hours=1))
    call_command("run_worker", "--once")
    assert not Auction.objects.filter(status="open").exists()
    # when the worker keeps running with the demo's top-up due
    settings.NEIGHBORBID = {**settings.NEIGHBORBID, "DEMO_TOP_UP_SECONDS": 0.001}
    passes = iter(range(3))
    worker_loop(interval=0.01, should_stop=lambda: next(passes, None) is None, sleep=lambda s: time.sleep(0.002))
    # then 우리 동네 has its listings again, and the books still balance
    assert Auction.objects.filter(is_national=False, status="open").count() == local_at_start > 0
    assert_books_balance()


@pytest.mark.django_db(transaction=True)
def test_without_the_demo_setting_the_worker_adds_nothing(settings):
    ensure_neighbourhoods()
    call_command("seed_demo")
    Auction.objects.update(ends_at=timezone.now() - timedelta(seconds=1), starts_at=timezone.now() - timedelta(hours=1))
    settings.NEIGHBORBID = {**settings.NEIGHBORBID, "DEMO_TOP_UP_SECONDS": 0}
    passes = iter(range(3))
    worker_loop(interval=0.01, should_stop=lambda: next(passes, None) is None, sleep=lambda s: None)
    assert not Auction.objects.filter(status="open").exists()
