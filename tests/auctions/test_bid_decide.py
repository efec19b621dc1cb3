"""The plain bid decided inside PostgreSQL (nb_bid_decide, migrations auctions 0019, 0020; issue 19 #1)
against the Python rules: the same bids on two identical worlds, one decided in the server and
one by the compare-and-set path, must get the same answers and write the same rows; the parts
the function computes itself (the masked name, the clock's ISO text, the soft close, the leaf,
the notice, the ladder) must be what the Python functions give; and everything it does not
decide goes back to the Python path untouched, in order."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest
from django.contrib.sessions.models import Session
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings

from accounts.models import User
from auctions.bidlog import canonical, leaf_hash, micros, pseudonym
from auctions.models import Auction, Bid, BidLogLeaf
from auctions.rules import PRICE_LADDER, mask_name, min_next_bid, soft_close_end
from auctions.selectors import RECENT_BIDS
from auctions.services import bid_place, bid_place_many, bidding
from auctions.services.bid_writes import SORT_KEYS_MAX_AGE
from neighborbid.errors import AccountSuspended, BidTooLow, LoginRequired
from notifications.models import Notification
from tests.auctions.test_bid_batch import LED, SCRIPTS, STEP, asks_of, bids, one_by_one, outcome_of, rows, world
from tests.auctions.test_bid_session import session_of, socket_bid
from tests.factories import make_auction, make_user, rid
from tests.money import assert_books_balance, wallet_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(monkeypatch):
    """The nb_bid_decide / nb_bid_decide_many calls made, as (outcome, reason) per bid."""
    from auctions.services import bid_batch

    seen: list[tuple[str, str | None]] = []

    one, many = bidding.execute_repeated, bid_batch.execute_repeated_rows

    def spy_one(sql, params):
        row = one(sql, params)
        if "nb_bid_decide(" in sql:
            seen.append((row[0], row[1]))
        return row

    def spy_many(sql, params):
        found = many(sql, params)
        if "nb_bid_decide_many(" in sql:
            seen.extend((row[0], row[1]) for row in found)
        return found

    monkeypatch.setattr(bidding, "execute_repeated", spy_one)
    monkeypatch.setattr(bid_batch, "execute_repeated_rows", spy_many)
    return seen


def by_server_and_by_python(script, *, monkeypatch, before=None, line=False):
    """The script on two identical worlds: plain bids decided inside PostgreSQL (as a line with
    bid_place_many when `line`, else one by one), and every bid by the compare-and-set path one
    by one. Returns (answers, rows) of each."""
    results = []
    for server in (True, False):
        monkeypatch.setattr(bidding, "SQL_DECIDE", server)
        seller, people, auction, roles = world()
        if before:
            one_by_one(auction, asks_of(before, people, seller))
        asks = asks_of(script, people, seller)
        got = bid_place_many(auction_id=auction.pk, bids=asks) if line and server else one_by_one(auction, asks)
        results.append(([outcome_of(o) for o in got], rows(auction, roles)))
    assert_books_balance()
    return results[0], results[1]


@pytest.mark.parametrize("line", [False, True], ids=["one by one", "a line"])
@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_server_answers_and_writes_as_the_python_rules(name, line, monkeypatch, calls):
    (server, server_rows), (python, python_rows) = by_server_and_by_python(
        SCRIPTS[name], monkeypatch=monkeypatch, line=line
    )
    assert server == python
    assert server_rows == python_rows
    # and the server was asked, and decided the script's first bid when that is a plain one
    # (not the seller's own, which it hands back); a line that opens with a maximum goes to the
    # compare-and-set batch whole
    who, _amount, maximum = SCRIPTS[name][0][:3]
    assert calls or (line and maximum is not None)
    if maximum is None and who != "seller":
        assert calls[0] == ("accepted", None)


@pytest.mark.parametrize("line", [False, True], ids=["one by one", "a line"])
@pytest.mark.parametrize("name", list(LED))
def test_on_a_led_auction_too(name, line, monkeypatch, calls):
    before, script = LED[name]
    (server, server_rows), (python, python_rows) = by_server_and_by_python(
        script, before=before, monkeypatch=monkeypatch, line=line
    )
    assert server == python
    assert server_rows == python_rows
    assert calls or (line and script[0][2] is not None)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=bids)
def test_any_bids_are_answered_and_written_as_the_python_rules_do(script, monkeypatch):
    # given any bids (amounts and maximums in ladder steps, some too low, some raises), one by
    # one and as a line
    steps = [(who, 10_000 + up * STEP, None if top is None else 10_000 + (up + top) * STEP) for who, up, top in script]
    for line in (False, True):
        (server, server_rows), (python, python_rows) = by_server_and_by_python(
            steps, monkeypatch=monkeypatch, line=line
        )
        # then every answer and every row is the same
        assert server == python
        assert server_rows == python_rows


def decide(auction: Auction, bidder: User, amount: int, at: datetime) -> tuple:
    """nb_bid_decide called as the service calls it, with its clock fixed at `at`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o_outcome, o_reason FROM nb_bid_decide(%s, %s, %s, %s, NULL, NULL, NULL, %s, %s, %s)",
            [auction.pk, bidder.pk, amount, rid(), SORT_KEYS_MAX_AGE, RECENT_BIDS, at],
        )
        return cursor.fetchone()


@pytest.mark.parametrize("nickname", ["", "김", "민지", "김민수", "jisoo", "a b"])
@pytest.mark.parametrize("fraction", [0, 123_456], ids=["whole second", "microseconds"])
def test_the_name_the_clock_and_the_leaf_are_the_python_functions(nickname, fraction):
    # given a national auction led by someone, and a bidder by this name
    auction = make_auction(start_price=10_000, is_national=True, title="원목 '식탁'")
    first = make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=rid())
    bidder = make_user(balance=100_000)
    User.objects.filter(pk=bidder.pk).update(nickname=nickname)  # as stored, "" included
    before = Auction.objects.get(pk=auction.pk)
    at = (timezone.now() + timedelta(seconds=1)).replace(microsecond=fraction)
    # when PostgreSQL decides their plain bid at that clock
    assert decide(auction, bidder, 1_234_000 // 100, at) == ("accepted", None)
    # then the recent bid, the leaf, the notice and the ledger are what the Python rules write
    after = Auction.objects.get(pk=auction.pk)
    name = nickname or bidder.username
    assert after.recent_bids[0] == {"amount": 12_340, "bidder": mask_name(name), "at": at.isoformat()}
    assert after.recent_bids[1:] == before.recent_bids[: RECENT_BIDS - 1]
    leaf = BidLogLeaf.objects.get(auction=auction, seq=before.log_seq + 1)
    body = canonical(
        {
            "auction": auction.pk,
            "seq": before.log_seq + 1,
            "kind": "bid",
            "amount": 12_340,
            "at": micros(at),
            "bidder": pseudonym(before.log_salt, bidder.pk),
            "prev": before.log_head,
        }
    )
    assert (leaf.body, leaf.hash, after.log_head) == (body, leaf_hash(body), leaf_hash(body))
    note = Notification.objects.get(user=first, kind="outbid")
    assert note.message == (
        "'원목 '식탁'' 경매에서 더 높은 입찰(12,340원)이 들어왔어요. 입찰금 10,000원은 지갑으로 돌아왔어요."
    )
    assert wallet_of(first) == (100_000, 0) and wallet_of(bidder) == (100_000 - 12_340, 12_340)
    assert (after.seq, after.current_price, after.leader_id, after.leader_max) == (
        before.seq + 1,
        12_340,
        bidder.pk,
        12_340,
    )
    assert_books_balance()


@pytest.mark.parametrize("nickname", [" 민지", "민지 ", "민지\u3000", "\t김"])
def test_a_name_python_would_strip_first_is_left_to_python(nickname, calls):
    # given a bidder whose name has whitespace at an end (mask_name strips it first)
    auction = make_auction(start_price=10_000, is_national=True)
    bidder = make_user(balance=100_000)
    User.objects.filter(pk=bidder.pk).update(nickname=nickname)  # as stored (a form would strip it)
    # when they bid
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    # then the server handed it back, and the Python path wrote what it always writes
    assert calls == [("pass", "name")]
    assert Auction.objects.get(pk=auction.pk).recent_bids[0]["bidder"] == mask_name(nickname)


@pytest.mark.parametrize("seconds_left", [30, 59, 61, 600])
def test_the_soft_close_is_the_python_rule(seconds_left):
    # given an auction with a soft close (60 s window, 120 s extension, capped) ending soon
    auction = make_auction(
        start_price=10_000,
        is_national=True,
        soft_close_window_s=60,
        soft_close_extension_s=120,
        soft_close_cap_s=90,
    )
    at = timezone.now()
    Auction.objects.filter(pk=auction.pk).update(ends_at=at + timedelta(seconds=seconds_left))
    before = Auction.objects.get(pk=auction.pk)
    # when a bid lands at `at`
    assert decide(auction, make_user(balance=100_000), 10_000, at) == ("accepted", None)
    # then the end is where auctions.rules.soft_close_end puts it
    expected = soft_close_end(
        now=at,
        ends_at=before.ends_at,
        original_ends_at=before.original_ends_at,
        window_s=60,
        extension_s=120,
        cap_s=90,
    )
    assert Auction.objects.get(pk=auction.pk).ends_at == expected


BOUNDARIES = sorted({price for bound, _step in PRICE_LADDER for price in (bound - 1, bound)} | {1_000, 2_000_000})


@pytest.mark.parametrize("price", BOUNDARIES)
def test_the_ladder_is_the_python_ladder(price, calls):
    # given an auction led at `price`
    auction = make_auction(start_price=price, is_national=True)
    bid_place(auction_id=auction.pk, actor=make_user(balance=10_000_000), amount=price, request_id=rid())
    minimum = min_next_bid(current_price=price, has_bids=True)
    rival = make_user(balance=10_000_000)
    # when a rival bids one won under the minimum, then the minimum
    with pytest.raises(BidTooLow) as refused:
        bid_place(auction_id=auction.pk, actor=rival, amount=minimum - 1, request_id=rid())
    result = bid_place(auction_id=auction.pk, actor=rival, amount=minimum, request_id=rid())
    # then the server refused the first (on the committed row, no lock) and took the second
    assert refused.value.details["min_next_bid"] == minimum
    assert calls[-2:] == [("refused", "sure loser"), ("accepted", None)]
    assert result.state["current_price"] == minimum


def test_a_first_bid_below_the_start_is_refused_under_the_lock(calls):
    auction = make_auction(start_price=10_000, is_national=True)
    with pytest.raises(BidTooLow):
        bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=9_999, request_id=rid())
    assert calls == [("refused", "too low")]
    assert not Bid.objects.filter(auction=auction).exists()


def test_a_local_auction_is_asked_once_then_never(calls):
    # given a local (동네) auction
    auction = make_auction(start_price=10_000)
    first, second = make_user(balance=50_000), make_user(balance=50_000)
    # when two plain bids come
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=second, amount=11_000, request_id=rid())
    # then the server handed the first back and was not asked about the second
    assert calls == [("pass", "not open")]
    assert Auction.objects.get(pk=auction.pk).current_price == 11_000


def test_a_sockets_session_is_checked_once_then_decided_in_the_server(calls):
    # given a leader and a rival on a socket
    auction = make_auction(start_price=10_000, is_national=True)
    first, second = make_user(balance=50_000), make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=rid())
    key = session_of(second)
    # when the rival bids twice through the socket (the first checks the session in the read)
    socket_bid(second.pk, key, auction_id=auction.pk, amount=11_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=first, amount=12_000, request_id=rid())
    with CaptureQueriesContext(connection) as ctx:
        socket_bid(second.pk, key, auction_id=auction.pk, amount=13_000, request_id=rid())
    # then the second was one call, decided inside PostgreSQL with the session checked there
    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) == 1 and sql[0].startswith("SELECT * FROM nb_bid_decide(")
    assert calls[-1] == ("accepted", None)
    assert Auction.objects.get(pk=auction.pk).leader_id == second.pk


@pytest.mark.parametrize("change", ["logged out", "password changed", "suspended", "deactivated"])
def test_a_session_that_changed_goes_back_to_the_python_path_and_is_refused(change, calls):
    # given a rival whose socket session was checked once
    auction = make_auction(start_price=10_000, is_national=True)
    first, second = make_user(balance=50_000), make_user(balance=50_000)
    key = session_of(second)
    socket_bid(second.pk, key, auction_id=auction.pk, amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=first, amount=11_000, request_id=rid())
    # when the session or the account changes
    if change == "logged out":
        Session.objects.filter(session_key=key).delete()
    elif change == "password changed":
        second.set_password("새 비밀번호 1234!")
        second.save()
    elif change == "suspended":
        User.objects.filter(pk=second.pk).update(is_suspended=True, suspended_reason="신고 누적")
    else:
        User.objects.filter(pk=second.pk).update(is_active=False)
    before = wallet_of(second), Bid.objects.count()
    # then the socket's next bid is handed back by the server and refused by the Python path
    error = AccountSuspended if change == "suspended" else LoginRequired
    with pytest.raises(error):
        socket_bid(second.pk, key, auction_id=auction.pk, amount=12_000, request_id=rid())
    assert calls[-1][0] == "pass" and calls[-1][1] in ("session", "user")
    assert (wallet_of(second), Bid.objects.count()) == before


def test_a_line_stops_at_the_first_bid_handed_back_and_keeps_the_order(calls):
    # given a line of plain bids where the third is the leader's own (handed back: a raise)
    seller, people, auction, roles = world()
    script = [("a", 10_000, None), ("b", 11_000, None), ("b", 12_000, None), ("c", 13_000, None)]
    # when it is placed
    answers = bid_place_many(auction_id=auction.pk, bids=asks_of(script, people, seller))
    # then the one call decided a and b and stopped at b's second bid; the batch took that
    # raise and c's bid after it, in order
    assert calls == [("accepted", None), ("accepted", None), ("pass", "leading")]
    assert [outcome_of(a)[:3] for a in answers] == [
        ("ok", 10_000, 10_000),
        ("ok", 11_000, 11_000),
        ("ok", 11_000, 12_000),  # a raise: b's maximum to 12,000 at the unchanged price
        ("ok", 13_000, 13_000),
    ]
    assert Auction.objects.get(pk=auction.pk).leader_id == people["c"].pk
    assert_books_balance()


def test_a_line_that_opens_with_a_plain_bid_then_a_maximum(calls):
    # given a line: a plain bid, a bid with a maximum (the Python path's), then plain ones
    seller, people, auction, roles = world()
    asks = asks_of(
        [("a", 10_000, None), ("b", 11_000, 30_000), ("c", 12_000, None), ("d", 35_000, None)], people, seller
    )
    # when it is placed
    answers = bid_place_many(auction_id=auction.pk, bids=asks)
    # then a led, b took the lead with a maximum, c lost at once to b's maximum, d won
    assert [outcome_of(a)[0] for a in answers] == ["ok", "ok", "ok", "ok"]
    assert [a.state["seq"] for a in answers] == [1, 2, 3, 4]
    assert Auction.objects.get(pk=auction.pk).leader_id == people["d"].pk
    # the server decided a's bid alone (the line's call ends before b's maximum, a bid it never
    # decides), and the compare-and-set batch took b, c and d, in order
    assert calls == [("accepted", None)]
    assert_books_balance()


def test_a_repeat_of_an_accepted_and_overtaken_bid_gets_its_first_answer(calls):
    # given a bid accepted, then overtaken by someone else
    auction = make_auction(start_price=10_000, is_national=True)
    first, second = make_user(balance=50_000), make_user(balance=50_000)
    request = rid()
    placed = bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=request)
    bid_place(auction_id=auction.pk, actor=second, amount=11_000, request_id=rid())
    # when the first bidder's client sends the same request again (a lost answer)
    again = bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=request)
    # then it is the first outcome again, not "too low": the server handed the repeat back
    assert again.duplicate and again.bid.pk == placed.bid.pk
    assert calls[-1] == ("pass", "repeat")
    assert Bid.objects.filter(auction=auction).count() == 2


def test_the_functions_text_is_what_the_migration_installs():
    # the teeth tests and the bench replace the function's text; a test run must start from the
    # migration's own (a leftover variant would change what every other test measures)
    from importlib import import_module

    migration = import_module("auctions.migrations.0020_bid_decide_queue")
    with connection.cursor() as cursor:
        cursor.execute("SELECT proname, prosrc FROM pg_proc WHERE proname LIKE 'nb_bid_decide%' ORDER BY proname")
        installed = dict(cursor.fetchall())
    assert installed["nb_bid_decide"].strip() in migration.FUNCTION
    assert installed["nb_bid_decide"].count("FOR UPDATE") == 2  # the auction's row, then the wallets'
    assert installed["nb_bid_decide"].count("PERFORM pg_advisory_xact_lock(p_auction)") == 1  # its queue, before
    assert installed["nb_bid_decide_many"].strip() in migration.MANY
    assert installed["nb_bid_decide_many"].count("FOR UPDATE") == 2  # the auction, then every wallet
    assert installed["nb_bid_decide_many"].count("PERFORM pg_advisory_xact_lock(p_auction)") == 1


def failing_decide(monkeypatch, cause: type[Exception]) -> list[str]:
    """nb_bid_decide's call fails in the database with `cause` (a psycopg error), as Django
    raises it; returns the calls that failed."""
    real = bidding.execute_repeated
    failed: list[str] = []

    def failing(sql, params):
        if "nb_bid_decide(" in sql:
            failed.append(sql)
            try:
                raise cause("from the test")
            except psycopg.Error as error:
                raise OperationalError(str(error)) from error
        return real(sql, params)

    monkeypatch.setattr(bidding, "execute_repeated", failing)
    return failed


@pytest.mark.parametrize("in_transaction", [False, True], ids=["autocommit", "in a caller's transaction"])
def test_a_deadlocked_call_leaves_the_bid_to_the_compare_and_set_path(monkeypatch, in_transaction):
    # given a live auction, and a call to nb_bid_decide that PostgreSQL breaks as a deadlock
    auction = make_auction(start_price=10_000, is_national=True)
    bidder = make_user(balance=100_000)
    failed = failing_decide(monkeypatch, psycopg.errors.DeadlockDetected)
    # when the bidder bids
    if in_transaction:
        with transaction.atomic():
            placed = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    else:
        placed = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    # then the compare-and-set path placed it, once, and the books balance
    assert failed and placed.leading
    assert Bid.objects.filter(auction=auction).count() == 1
    assert wallet_of(bidder) == (90_000, 10_000)
    assert_books_balance()


def test_a_call_that_times_out_is_not_tried_again_by_another_path(monkeypatch):
    # given a live auction, and a call to nb_bid_decide that waited past lock_timeout (overload)
    auction = make_auction(start_price=10_000, is_national=True)
    bidder = make_user(balance=100_000)
    failed = failing_decide(monkeypatch, psycopg.errors.LockNotAvailable)
    # when the bidder bids, then the error goes up (the 503 of neighborbid/unavailable.py), not to
    # a second wait on another path, and nothing is written
    with pytest.raises(OperationalError):
        bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    assert len(failed) == 1
    assert not Bid.objects.filter(auction=auction).exists()
    assert wallet_of(bidder) == (100_000, 0)
