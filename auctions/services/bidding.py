"""Bidding: a bid (with or without a maximum), the way money enters escrow while an auction
runs. Idempotent by the client's request id; a raised DomainError means nothing was written.

On PostgreSQL the rules decide on one committed snapshot (the auction, the bidder's and the
leader's wallets) and one autocommit statement applies the plan only if nothing it was decided
on changed (compare-and-set: the auction's row lock lives inside that statement, issue 19);
after CAS_ATTEMPTS conflicts, and on SQLite, the rules run under the auction's row lock (then
the wallets' locks by primary key). The rules are the same functions on both paths.

The plan of an accepted bid is in auctions.services.bid_plan, its writes in
auctions.services.bid_writes, buy-now in auctions.services.buy_now."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import DeviceSighting, User
from accounts.selectors import (
    access_user,
    access_user_read,
    session_checked,
    session_checked_remember,
    session_in_read,
    session_read_check,
    session_user,
)
from auctions.events import send_user_event_on_commit
from auctions.locks import (
    LOCKED_JOIN_LEADER,
    LOCKED_SELECT,
    BidAuction,
    LockedAuction,
    auction_lock,
    auction_row_lock,
    locked_auction,
)
from auctions.models import Auction, Bid
from auctions.rules import sure_loser_minimum
from auctions.selectors import RECENT_BIDS, PublicState, auction_min_next_bid, auction_public_state
from auctions.services._base import (
    check_amount,
    check_participant,
    check_request_id,
    ensure_open,
    leader_hold,
    publish_state,
)
from auctions.services.bid_plan import BidPlan, apply_bid_state, bid_notices, plan_bid
from auctions.services.bid_writes import SORT_KEYS_MAX_AGE, BidExpect, CasConflict, bid_write_orm, bid_write_sql
from neighborbid.db.statements import execute_repeated
from neighborbid.errors import (
    AuctionNotFound,
    BidTooLow,
    DomainError,
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    LoginRequired,
    MaximumNotRaised,
    SellerLinked,
    ServerError,
    UseBuyNow,
)
from neighborbid.logs import money_action
from notifications.models import PushSubscription
from notifications.services import push_jobs_on_commit
from wallets.locks import WalletRow, wallet_rows_lock, wallets_lock
from wallets.models import Wallet

logger = logging.getLogger("neighborbid.money")

# The bid's one-statement writer on PostgreSQL; False runs the ORM writer there too (the test
# that holds the two writers side by side: tests/auctions/test_bid_writers.py).
SQL_WRITER = True
# Compare-and-set attempts before the locked transaction decides (PostgreSQL with SQL_WRITER);
# 0 always takes the locked transaction (the tests hold the two side by side).
CAS_ATTEMPTS = 3
# A plain bid on a live auction decided inside PostgreSQL in one call (nb_bid_decide, migrations
# auctions 0019, 0020) before the compare-and-set path: on PostgreSQL with SQL_WRITER and CAS_ATTEMPTS.
# False (BID_DECIDE_IN_DATABASE=0): every bid takes the compare-and-set path (the tests hold the
# two side by side).
SQL_DECIDE = settings.BID_DECIDE_IN_DATABASE


@dataclass(frozen=True)
class BidResult:
    bid: Bid
    state: PublicState
    duplicate: bool = False
    leading: bool = True  # does the bidder lead after it (a maximum may have answered at once)
    my_max: int | None = None  # the bidder's own maximum while leading (never public)
    receipt: dict[str, Any] | None = None  # {seq, hash} of this bid in the bid log (issue 24)


def _earlier_bid(*, bidder_id: int, request_id: str) -> Bid | None:
    return Bid.objects.filter(bidder_id=bidder_id, client_request_id=request_id).first()


def _replay(earlier: Bid, *, auction_id: int, amount: int, max_amount: int | None) -> BidResult:
    """The same request again: the first outcome, or an error if it is not really the same.

    A request id names one bid: its auction, its amount and the maximum it asked for (the
    amount when it sent none). A resend must ask for exactly that; a different amount, a
    different or missing maximum, or another auction is `duplicate_request`. A maximum raise
    is recorded at the price with the new maximum, so for a raise the maximum asked for (the
    higher of amount and maximum, what a raise acts on) must match."""
    asked_max = amount if max_amount is None else max(amount, max_amount)
    same = (
        earlier.auction_id == auction_id
        and earlier.max_amount == asked_max
        and (earlier.kind == Bid.Kind.RAISE or earlier.amount == amount)
    )
    if not same:
        raise DuplicateRequest()
    auction = Auction.objects.get(pk=auction_id)
    leading = auction.leader_id == earlier.bidder_id
    return BidResult(
        bid=earlier,
        state=auction_public_state(auction),
        duplicate=True,
        leading=leading,
        my_max=auction.leader_max if leading else None,
    )


@money_action("bid")
def bid_place(
    *,
    auction_id: int,
    actor: User,
    amount: int,
    request_id: str,
    max_amount: int | None = None,
    session_key: str | None = None,
) -> BidResult:
    """Place a bid, optionally with a maximum (max bidding: the system bids for the bidder up
    to it, one ladder step at a time, and the whole maximum is held while it leads).
    Idempotent by (bidder, request_id): the same request again returns the first outcome; the
    same id with another amount, maximum or auction is refused.

    The repeat check is part of the first read (the common retry costs no lock time); a twin
    that raced this request is recognised after a refusal, on a compare-and-set's re-read, or
    by the unique constraint. Replays are decided outside the transaction: a return from inside atomic()
    would commit whatever the block had written so far.

    `session_key` (a socket's credential; `actor` then needs only its pk): the bid acts only
    while that session holds, checked before anything else, repeats included. On the
    compare-and-set path the session row is part of the one read (no query more per bid);
    otherwise accounts.selectors.session_user checks it first."""
    bid_arguments_check(amount=amount, request_id=request_id, max_amount=max_amount)
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise LoginRequired()
    cas = SQL_WRITER and CAS_ATTEMPTS > 0 and connection.vendor == "postgresql"
    in_read = cas and session_key is not None and session_in_read(session_key)
    if session_key is not None and not in_read:
        actor = session_user(session_key=session_key, user_id=actor.pk)
    if cas and decide_ready() and (max_amount is None or max_amount == amount):
        session = None
        if in_read:
            session = session_checked(cast("str", session_key), user_id=actor.pk)
        if session is not None or not in_read:
            try:
                decided = _bid_in_server(
                    auction_id=auction_id,
                    bidder_id=actor.pk,
                    amount=amount,
                    request_id=request_id,
                    session=(cast("str", session_key), *session) if session is not None else None,
                )
            except IntegrityError as exc:
                return _twin_answer(
                    exc,
                    auction_id=auction_id,
                    bidder_id=actor.pk,
                    amount=amount,
                    max_amount=max_amount,
                    request_id=request_id,
                )
            if decided is not None:
                return decided
    if cas:
        # One read: an earlier bid with this request id, the committed auction and wallets
        # (and the socket's session).
        read = _bid_read(
            auction_id=auction_id,
            bidder_id=actor.pk,
            request_id=request_id,
            session_key=session_key if in_read else None,
        )
        if in_read:
            session_read_check(read.session_data, read.user, user_id=actor.pk)
            session_checked_remember(
                cast("str", session_key), cast("str", read.session_data), cast("User", read.user).password, actor.pk
            )
        if read.auction is not None:
            _national_seen(auction_id, national=read.auction.is_national)
        earlier_id, found, seller_linked = read.earlier_id, read.auction is not None, read.seller_linked
    else:
        # One read before the lock: an earlier bid with this request id, and the committed state.
        earlier_id, committed = _bid_preread(auction_id=auction_id, bidder_id=actor.pk, request_id=request_id)
        found, seller_linked = committed is not None, bool(committed and committed["seller_linked"])
    if earlier_id is not None:
        # A repeat is answered with the first outcome even if the user was suspended since:
        # the bid stands, and an error would tell the client nothing happened.
        return _replay(Bid.objects.get(pk=earlier_id), auction_id=auction_id, amount=amount, max_amount=max_amount)
    if not found:
        raise AuctionNotFound()
    user = access_user_read(read.user) if cas else access_user(actor)
    if seller_linked:
        raise SellerLinked()
    try:
        if cas:
            return _bid_by_compare_and_set(
                read, auction_id=auction_id, user=user, amount=amount, max_amount=max_amount, request_id=request_id
            )
        _refuse_early_if_too_low(cast("dict[str, Any]", committed), user=user, amount=amount)
        return _bid_locked(
            auction_id=auction_id, user=user, amount=amount, max_amount=max_amount, request_id=request_id
        )
    except IntegrityError as exc:
        return _twin_answer(
            exc, auction_id=auction_id, bidder_id=user.pk, amount=amount, max_amount=max_amount, request_id=request_id
        )


def _twin_answer(
    exc: IntegrityError, *, auction_id: int, bidder_id: int, amount: int, max_amount: int | None, request_id: str
) -> BidResult:
    """The same request id raced itself and the unique constraint decided: the twin's outcome
    (or DuplicateRequest); any other integrity error is raised as it was."""
    if "bid_unique_request" not in str(exc):
        raise exc
    twin = _earlier_bid(bidder_id=bidder_id, request_id=request_id)
    if twin is None:
        raise DuplicateRequest() from exc
    return _replay(twin, auction_id=auction_id, amount=amount, max_amount=max_amount)


def bid_arguments_check(*, amount: int, request_id: str, max_amount: int | None) -> None:
    """A bid's arguments alone, before any read (bid_place, bid_place_many)."""
    check_amount(amount)
    check_request_id(request_id)
    if max_amount is not None:
        check_amount(max_amount)
        if max_amount < amount:
            raise InvalidAmount("최대 입찰가는 입찰가보다 낮을 수 없어요.")


@dataclass
class _BidRead:
    """The compare-and-set bid's one read (a single statement, so one snapshot)."""

    earlier_id: int | None
    seller_linked: bool
    auction: LockedAuction | None
    updated_at: datetime | None
    wallets: dict[int, WalletRow]  # by user id: the bidder's and the leader's
    user: User | None  # the bidder, as read now
    session_data: str | None = None  # the asked-for session's data, when unexpired
    # which of the bidder and the leader have a push subscription (the only people a bid tells)
    push_users: frozenset[int] = frozenset()


# The two reads before a bid (the compare-and-set read and the locked path's pre-read) share
# these fragments, each with two parameters: this bidder's earlier bid with this request id
# (bidder id, request id), and the hard shill-bidding link of fraud/: the bidder signed in on
# the seller's browser (bidder id twice). `a` is the auction.
_EARLIER_BID_SQL = f"(SELECT b.id FROM {Bid._meta.db_table} b WHERE b.bidder_id = %s AND b.client_request_id = %s)"  # noqa: S608 (meta)
_SELLER_LINKED_SQL = (
    f"EXISTS (SELECT 1 FROM {DeviceSighting._meta.db_table} mine "  # noqa: S608 (tables from meta)
    f"JOIN {DeviceSighting._meta.db_table} theirs ON theirs.device_hash = mine.device_hash "
    "WHERE mine.user_id = %s AND theirs.user_id = a.seller_id AND a.seller_id <> %s)"
)
_READ_SQL = None


def _bid_read(*, auction_id: int, bidder_id: int, request_id: str, session_key: str | None = None) -> _BidRead:
    """One statement, one snapshot: the id of this bidder's earlier bid with this request id,
    the hard shill link (fraud/), the auction's committed row (as the rules read it), the
    wallets of the bidder and the current leader, the bidder's own row and, with
    `session_key`, that session's data if it has not expired."""
    global _READ_SQL
    if _READ_SQL is None:
        _READ_SQL = (
            f"SELECT {_EARLIER_BID_SQL}, {_SELLER_LINKED_SQL}, "  # noqa: S608 (fragments from meta)
            "(SELECT array_agg(ARRAY[w.id, w.user_id, w.balance, w.locked_balance] ORDER BY w.id) "
            f"FROM {Wallet._meta.db_table} w WHERE w.user_id = %s OR w.user_id = a.leader_id), a.updated_at, "
            f"(SELECT array_agg(DISTINCT p.user_id) FROM {PushSubscription._meta.db_table} p "
            "WHERE p.user_id = %s OR p.user_id = a.leader_id), "
            f"{', '.join('me.' + c for c in _USER_COLUMNS)}, "
            f"{LOCKED_SELECT}, "
            f"(SELECT s.session_data FROM {Session._meta.db_table} s WHERE s.session_key = %s AND s.expire_date > %s) "
            f"FROM (SELECT 1 AS one) AS one LEFT JOIN {Auction._meta.db_table} a ON a.id = %s "
            f"{LOCKED_JOIN_LEADER} LEFT JOIN {User._meta.db_table} me ON me.id = %s"
        )
    now = timezone.now() if session_key is not None else None
    with connection.cursor() as cursor:
        cursor.execute(
            _READ_SQL,
            [
                bidder_id,
                request_id,
                bidder_id,
                bidder_id,
                bidder_id,
                bidder_id,
                session_key,
                now,
                auction_id,
                bidder_id,
            ],
        )
        row = cursor.fetchone()
    earlier_id, linked, wallets, updated_at, pushed = row[:5]
    end = 5 + len(_USER_COLUMNS)
    me = User.from_db(connection.alias, _USER_COLUMNS, row[5:end]) if row[5] is not None else None
    auction = locked_auction(row[end:-1]) if row[end] is not None else None
    return _BidRead(
        earlier_id=earlier_id,
        seller_linked=bool(linked),
        auction=auction,
        updated_at=updated_at,
        wallets={int(w[1]): WalletRow(*(int(v) for v in w)) for w in wallets or []},
        user=me,
        session_data=row[-1],
        push_users=frozenset(pushed or ()),
    )


# The bidder's row, read with the auction (access_user_read refuses as access_user would).
_USER_COLUMNS = [f.attname for f in User._meta.concrete_fields]


_PREREAD_SQL = None


def _bid_preread(*, auction_id: int, bidder_id: int, request_id: str) -> tuple[int | None, dict[str, Any] | None]:
    """One statement: the id of this bidder's earlier bid with this request id (if any) and the
    auction's committed state (None: no such auction)."""
    global _PREREAD_SQL
    if _PREREAD_SQL is None:
        _PREREAD_SQL = (
            f"SELECT {_EARLIER_BID_SQL}, "  # noqa: S608 (fragments and tables from meta)
            "a.id, a.status, a.current_price, a.leader_id, a.seq, a.is_national, a.seller_id, "
            f"{_SELLER_LINKED_SQL} "
            f"FROM (SELECT 1 AS one) AS one LEFT JOIN {Auction._meta.db_table} a ON a.id = %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(_PREREAD_SQL, [bidder_id, request_id, bidder_id, bidder_id, auction_id])
        row = cursor.fetchone()
    earlier_id, found = row[0], row[1]
    if found is None:
        return earlier_id, None
    keys = ("status", "current_price", "leader_id", "seq", "is_national", "seller_id", "seller_linked")
    return earlier_id, dict(zip(keys, row[2:], strict=True))


def _refuse_early_if_too_low(committed: dict[str, Any], *, user: User, amount: int) -> None:
    """Refuse a bid that is already too low against the committed price, without queueing for
    the row lock. In a drop most bids lose a race; they should not hold up the winners
    (auctions.rules.sure_loser_minimum says when that is safe). The locked path still checks
    everything. No earlier bid with this request id existed at the pre-read, so this is no
    retry of an accepted bid."""
    if not committed["is_national"] or committed["seller_id"] == user.pk:
        # Only live national auctions (where races happen); anything else gets the locked
        # path's precise reason.
        return
    minimum = sure_loser_minimum(
        status=committed["status"],
        has_bids=committed["leader_id"] is not None,
        current_price=committed["current_price"],
        amount=amount,
        is_leader=committed["leader_id"] == user.pk,
    )
    if minimum is not None:
        raise BidTooLow.below(minimum, current_price=committed["current_price"], seq=committed["seq"])


def _bid_by_compare_and_set(
    read: _BidRead, *, auction_id: int, user: User, amount: int, max_amount: int | None, request_id: str
) -> BidResult:
    """The bid on PostgreSQL: decide on the committed state, then apply the plan in one
    autocommit statement only if nothing it was decided on has changed (compare-and-set), so
    the auction's row lock lives for that one statement, never across a client round trip
    (issue 19). On a conflict, read again and decide again; after CAS_ATTEMPTS conflicts the
    locked transaction decides (it always can), so a busy auction never refuses a bid for
    being busy. A refusal is exact as of a committed snapshot: the rules are the same
    functions on both paths."""
    maximum = max_amount if max_amount is not None else amount
    for attempt in range(CAS_ATTEMPTS):
        if attempt:
            read = _bid_read(auction_id=auction_id, bidder_id=user.pk, request_id=request_id)
            if read.earlier_id is not None:  # the same request raced this one and won
                earlier = Bid.objects.get(pk=read.earlier_id)
                return _replay(earlier, auction_id=auction_id, amount=amount, max_amount=max_amount)
        # A refusal here is decided on a snapshot in which this request id had no bid: a twin
        # sent at the same time either decided on the same snapshot (the same refusal) or will
        # be found by the next read or the unique constraint. No lookup on the hot refusal.
        read_seq = read.auction.seq if read.auction is not None else None  # _bid_cas plans on read.auction
        result = _bid_cas(read, user=user, amount=amount, maximum=maximum, request_id=request_id)
        if not isinstance(result, CasConflict):
            return result
        _refuse_if_overtaken(result, read_seq=read_seq, user=user, amount=amount)
    return _bid_locked(auction_id=auction_id, user=user, amount=amount, max_amount=max_amount, request_id=request_id)


def _refuse_if_overtaken(conflict: CasConflict, *, read_seq: int | None, user: User, amount: int) -> None:
    """Refuse a bid whose compare-and-set write found it overtaken, without another read: the
    write statement's own snapshot (CasConflict) is a committed state newer than the bid's read
    (its seq moved), holds no bid of this request id, and in it `amount` is certainly too low
    (auctions.rules.sure_loser_minimum: an open auction with bids, the bidder not leading, so
    the minimum only grows from there and no twin of this request can be accepted later).
    Anything else (the seq unchanged: the change came while the write waited for the row, or
    was a wallet's; a twin in the snapshot; the bidder leading) is decided on a new read. In a
    drop most refusals are this one (bench/service_bids.py, four threads)."""
    if conflict.seq is None or conflict.status is None or conflict.current_price is None:
        return  # the auction row is gone: the new read says so
    if conflict.seq == read_seq or conflict.earlier_id is not None:
        return
    minimum = sure_loser_minimum(
        status=conflict.status,
        has_bids=conflict.leader_id is not None,
        current_price=conflict.current_price,
        amount=amount,
        is_leader=conflict.leader_id == user.pk,
    )
    if minimum is not None:
        raise BidTooLow.below(minimum, current_price=conflict.current_price, seq=conflict.seq)


# nb_bid_decide (migrations auctions 0019, 0020): one call, one row (see _bid_in_server).
_DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE deadlock_detected
_DECIDE_SQL = (
    "SELECT * FROM nb_bid_decide(%s::bigint, %s::bigint, %s::bigint, %s::text, %s::text, %s::text, %s::text, "
    "%s::interval, %s::integer, %s::timestamptz)"
)
# The auctions a bid here found local (nb_bid_decide passes on them): their plain bids go
# straight to the compare-and-set path, with no call that would pass. Bounded; only a shortcut.
_LOCAL_AUCTIONS: set[int] = set()
_LOCAL_AUCTIONS_MAX = 10_000


def decide_ready() -> bool:
    """Can a plain bid be decided inside PostgreSQL here (SQL_DECIDE, on the compare-and-set
    path's PostgreSQL)?"""
    return SQL_DECIDE and SQL_WRITER and CAS_ATTEMPTS > 0 and connection.vendor == "postgresql"


def decide_for(auction_id: int) -> bool:
    """Ask PostgreSQL to decide this auction's plain bids? Not for an auction a bid here found
    local (the call would hand every bid back)."""
    return auction_id not in _LOCAL_AUCTIONS


def _national_seen(auction_id: int, *, national: bool) -> None:
    if national:
        _LOCAL_AUCTIONS.discard(auction_id)
        return
    if len(_LOCAL_AUCTIONS) >= _LOCAL_AUCTIONS_MAX:
        _LOCAL_AUCTIONS.clear()
    _LOCAL_AUCTIONS.add(auction_id)


class NotDecided(ServerError):
    """nb_bid_decide refused a bid that the Python rules accept (the tests prove it never
    happens): nothing was written. A lone bid goes on to the compare-and-set path; in a line,
    whose later bids the server went on to decide, it is answered as a server error."""


def _bid_in_server(
    *, auction_id: int, bidder_id: int, amount: int, request_id: str, session: tuple[str, str, str] | None
) -> BidResult | None:
    """A plain bid (no maximum above its amount) decided inside PostgreSQL in one call, so the
    auction's row lock lives inside one server-side call with no client round trip (issue 19
    #1): nb_bid_decide locks the auction, then the wallets by primary key, decides the
    commonest case (a national auction, open, a bidder in good standing who does not lead,
    below buy-now, covered by their balance, beating the leader's whole maximum), writes every
    row of an accepted bid and returns the locked row as it was before. A sure loser is refused
    on the committed row without the lock, as the compare-and-set path refuses it. Anything else
    it hands back untouched (None here: the compare-and-set path decides, as it always did).
    `session`: (key, session_data, password hash) of a socket's session as session_read_check
    last found it good (the call acts only while both are unchanged); None when the caller
    checked the actor itself."""
    if not decide_for(auction_id):
        return None
    key, data, password = session if session is not None else (None, None, None)
    params = [auction_id, bidder_id, amount, request_id, key, data, password, SORT_KEYS_MAX_AGE, RECENT_BIDS, None]
    try:
        if connection.in_atomic_block:  # inside a caller's transaction: a savepoint, as _bid_cas
            with transaction.atomic():
                row = execute_repeated(_DECIDE_SQL, params)
        else:
            row = execute_repeated(_DECIDE_SQL, params)
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != _DEADLOCK:
            raise  # a twin (bid_place answers it), or a timeout or lost connection (a 503)
        # a deadlock PostgreSQL broke, which only a caller holding the auction's row when it bids
        # could make (docs/architecture.md): nothing of it was written (one statement, or its
        # savepoint), so the compare-and-set path decides
        logger.warning("nb_bid_decide met a deadlock, the compare-and-set path decides: auction %s", auction_id)
        return None
    try:
        return bid_decision(
            cast("tuple[Any, ...]", row),
            auction_id=auction_id,
            bidder_id=bidder_id,
            amount=amount,
            request_id=request_id,
        )
    except NotDecided:
        return None  # nothing was written: the compare-and-set path decides


def bid_decision(
    row: tuple[Any, ...], *, auction_id: int, bidder_id: int, amount: int, request_id: str
) -> BidResult | None:
    """What one row of nb_bid_decide (or nb_bid_decide_many) means: the BidResult of an accepted
    bid, the refusal raised, or None for a bid handed back (nothing written).

    The Python rules stay the reference: the outcome is re-derived from the returned row by the
    same functions as every other path (_bid_check, _bid_funds, plan_bid, apply_bid_state),
    which raise the refusal with its message, build the events and the answer, and must land on
    the same seq and bid-log head as the server wrote (tests/auctions/test_bid_writers.py,
    test_bid_decide.py and test_model_based.py hold the two side by side)."""
    outcome, reason, now, bid_id, notes, wallets, pushed, nickname, username, *rest = row
    locked, (new_seq, new_head) = rest[:-2], rest[-2:]
    if locked[0] is not None:
        _national_seen(auction_id, national=bool(locked[6]))
    if outcome == "pass":
        return None
    auction = locked_auction(locked)
    user = User(pk=bidder_id, nickname=nickname, username=username)
    if outcome == "refused":
        _bid_check(auction, user=user, amount=amount, maximum=amount, now=now)  # raises the refusal
        logger.error("nb_bid_decide refused a bid the rules accept: auction %s amount %s", auction_id, amount)
        raise NotDecided()  # nothing was written
    # Accepted: committed by the server, so its rows stand. Anything the rules say otherwise is
    # said loudly (the tests prove it never happens) and answered as an error, never as a
    # refusal of a bid that stands nor as a state that is not the row's.
    try:
        wallet_rows = {int(w[1]): WalletRow(*(int(v) for v in w)) for w in wallets}
        _bid_check(auction, user=user, amount=amount, maximum=amount, now=now)
        _bid_funds(auction, user=user, amount=amount, maximum=amount, wallets=wallet_rows)
        plan = plan_bid(auction, user=user, amount=amount, maximum=amount, wallets=wallet_rows)
        apply_bid_state(auction, plan=plan, now=now)
    except Exception as exc:
        logger.error("nb_bid_decide accepted a bid the rules refuse: auction %s amount %s", auction_id, amount)
        raise ServerError() from exc
    if (auction.seq, auction.log_head) != (new_seq, new_head) or len(bid_notices(auction, plan)) != len(notes):
        logger.error(
            "nb_bid_decide and the rules disagree: auction %s amount %s (seq %s/%s, head %s/%s)",
            auction_id,
            amount,
            new_seq,
            auction.seq,
            new_head,
            auction.log_head,
        )
        raise ServerError()
    return _bid_accepted(
        auction,
        plan,
        user=user,
        bid_id=bid_id,
        notes=list(notes),
        request_id=request_id,
        now=now,
        push_users=frozenset(pushed or ()),
    )


def _bid_locked(*, auction_id: int, user: User, amount: int, max_amount: int | None, request_id: str) -> BidResult:
    """The locked transaction, and after its refusal a look for a twin of this request that
    raced it and was accepted (its outcome is the answer)."""
    maximum = max_amount if max_amount is not None else amount
    try:
        return _bid_atomic(auction_id=auction_id, user=user, amount=amount, maximum=maximum, request_id=request_id)
    except DomainError:
        twin = _earlier_bid(bidder_id=user.pk, request_id=request_id)
        if twin is not None:
            return _replay(twin, auction_id=auction_id, amount=amount, max_amount=max_amount)
        raise


def _bid_cas(read: _BidRead, *, user: User, amount: int, maximum: int, request_id: str) -> BidResult | CasConflict:
    """One compare-and-set attempt on one read; a CasConflict when the state moved under it."""
    auction = read.auction
    if auction is None:
        raise AuctionNotFound()
    now = timezone.now()  # read after the snapshot: a successful write's clock follows its predecessor's
    _bid_check(auction, user=user, amount=amount, maximum=maximum, now=now)
    wallets = read.wallets
    _bid_funds(auction, user=user, amount=amount, maximum=maximum, wallets=wallets)
    expect = BidExpect.of(auction, updated_at=read.updated_at, wallets=wallets)
    plan = plan_bid(auction, user=user, amount=amount, maximum=maximum, wallets=wallets)
    apply_bid_state(auction, plan=plan, now=now)
    if connection.in_atomic_block:  # inside a caller's transaction: a savepoint, not autocommit
        with transaction.atomic():
            written = bid_write_sql(auction, plan, request_id=request_id, now=now, expect=expect)
    else:
        written = bid_write_sql(auction, plan, request_id=request_id, now=now, expect=expect)
    if isinstance(written, CasConflict):
        return written
    bid_id, notes = written
    return _bid_accepted(
        auction,
        plan,
        user=user,
        bid_id=bid_id,
        notes=notes,
        request_id=request_id,
        now=now,
        push_users=read.push_users,
    )


def _bid_atomic(*, auction_id: int, user: User, amount: int, maximum: int, request_id: str) -> BidResult:
    """Lock, decide, write, commit: the bid on SQLite (the embedded default), and on PostgreSQL
    after CAS_ATTEMPTS conflicts (or with CAS_ATTEMPTS = 0). On PostgreSQL the locked section
    is three statements with no ORM compile and no model instance: lock the auction row, lock
    the wallets (by primary key), and one statement that writes the bids, the wallets, the
    ledger, the notifications and the auction. A refusal raises inside the block, so the
    transaction rolls back: whatever a future change might write before a check can never be
    committed by a refusal (issue 9 #11). (We tried committing the empty transaction instead,
    to keep psycopg from deallocating prepared statements after a ROLLBACK;
    tests/auctions/test_replay_outside_the_transaction.py showed why not.)"""
    fast = SQL_WRITER and connection.vendor == "postgresql"
    with transaction.atomic():
        auction: BidAuction = auction_row_lock(auction_id=auction_id) if fast else auction_lock(auction_id=auction_id)
        now = timezone.now()  # the server clock, read under the auction lock
        _bid_check(auction, user=user, amount=amount, maximum=maximum, now=now)
        lock = wallet_rows_lock if fast else wallets_lock
        wallets: dict[int, Any] = lock(user_ids=[user.pk, auction.leader_id])
        _bid_funds(auction, user=user, amount=amount, maximum=maximum, wallets=wallets)
        # the accepted bid's writes
        plan = plan_bid(auction, user=user, amount=amount, maximum=maximum, wallets=wallets)
        apply_bid_state(auction, plan=plan, now=now)
        if fast:
            bid_id, notes = cast("tuple[int, list[int]]", bid_write_sql(auction, plan, request_id=request_id, now=now))
        else:
            bid_id, notes = bid_write_orm(auction, plan, request_id=request_id, now=now)
        return _bid_accepted(auction, plan, user=user, bid_id=bid_id, notes=notes, request_id=request_id, now=now)


def _bid_accepted(
    auction: BidAuction,
    plan: BidPlan,
    *,
    user: User,
    bid_id: int,
    notes: list[int],
    request_id: str,
    now: datetime,
    push_users: frozenset[int] | None = None,
) -> BidResult:
    """After the write: who is told what (on commit), the push outbox (after commit, outside
    any lock), the new public state (on commit) and the result. `push_users`: who of the people
    told had a push subscription as the compare-and-set read saw it (None: not read, ask the
    outbox's own statement), so a bid that tells nobody with push costs no statement for it."""
    notices = bid_notices(auction, plan)
    pushed = [
        note_id
        for (user_id, *_rest), note_id in zip(notices, notes, strict=True)
        if push_users is None or user_id in push_users
    ]
    for (user_id, kind, message, extra), note_id in zip(notices, notes, strict=True):
        send_user_event_on_commit(
            user_id=user_id,
            event={
                "type": "notification",
                "kind": kind,
                "notification_id": note_id,
                "message": message,
                "auction_id": auction.pk,
                **extra,
            },
        )
    # the push outbox's INSERT runs after commit, outside the auction lock (issue 22), and only
    # for someone with a subscription when the read already knows who has one
    push_jobs_on_commit(notification_ids=pushed)
    if plan.outcome.price_moved:
        state = publish_state(auction, leader_name=plan.names[auction.leader_id])
    else:
        state = auction_public_state(auction, leader_name=plan.names[auction.leader_id])
    placed = plan.outcome.rows[0]
    bid = Bid(
        id=bid_id,
        auction_id=auction.pk,
        bidder_id=user.pk,
        amount=placed.amount,
        max_amount=placed.max_amount,
        kind=placed.kind,
        client_request_id=request_id,
    )
    bid.created_at = now
    leading = plan.outcome.leader_id == user.pk
    return BidResult(
        bid=bid,
        state=state,
        leading=leading,
        my_max=plan.outcome.leader_max if leading else None,
        receipt=plan.receipt,
    )


def _bid_check(auction: BidAuction, *, user: User, amount: int, maximum: int, now: datetime) -> None:
    """The rules of a bid against the auction (locked, or as read for a compare-and-set)."""
    ensure_open(auction, now)
    check_participant(user=user, auction=auction)
    minimum = auction_min_next_bid(auction)
    leading = auction.leader_id is not None and auction.leader_id == user.pk
    if leading:
        new_max = max(amount, maximum)
        held = auction.leader_max if auction.leader_max is not None else auction.current_price
        if new_max <= held:
            raise MaximumNotRaised(
                f"지금 최대 입찰가({held:,}원)보다 높게만 바꿀 수 있어요.",
                my_max=held,
                current_price=auction.current_price,
            )
    elif amount < minimum:
        raise BidTooLow.below(minimum, current_price=auction.current_price, seq=auction.seq)
    top = max(amount, maximum)
    if auction.buy_now_price is not None and top >= auction.buy_now_price:
        raise UseBuyNow(
            f"즉시구매가({auction.buy_now_price:,}원) 이상은 입찰할 수 없어요. 즉시구매를 이용해 주세요.",
            buy_now_price=auction.buy_now_price,
            current_price=auction.current_price,
            min_next_bid=minimum,
        )


def _bid_funds(auction: BidAuction, *, user: User, amount: int, maximum: int, wallets: dict[int, Any]) -> None:
    """Does the bidder's wallet cover what the bid holds (the whole maximum, or a leader's raise)?"""
    leading = auction.leader_id is not None and auction.leader_id == user.pk
    top = max(amount, maximum)
    needed = top - leader_hold(auction) if leading else top
    if wallets[user.pk].balance < needed:
        raise InsufficientFunds(
            f"사용 가능한 잔액({wallets[user.pk].balance:,}원)이 부족해요. 필요한 금액: {needed:,}원",
            current_price=auction.current_price,
            min_next_bid=auction_min_next_bid(auction),
        )
