"""Several bids on one auction, in the order given, decided together: the bids a busy auction's
line holds when its turn comes (auctions/consumers.py). Each gets exactly what bid_place would
have answered had they been placed one after another in that order.

On PostgreSQL (compare-and-set, pipeline ready) the bids are read, then decided one after
another by the same rules (auctions.services.bidding) on the state the bids before them leave
in memory, and every accepted one is written by its own compare-and-set statement, each
expecting exactly what the one before it leaves, all sent as ONE transaction in one round trip
(neighborbid.db.statements.execute_in_one_transaction). So a line of k bids costs one write
round trip instead of k, and the auction's row lock is held only while the server runs the
statements back to back. A refusal decided in memory stands only when every accepted bid
before it committed; from the first statement that found the auction or a wallet changed (by
another process, an admin, a deposit), every bid goes through bid_place again, one by one,
as does any bid the batch does not decide itself (a repeat of a request id, a credential the
read cannot check). A line that fails in the database on a lock or statement timeout or a lost
connection stops there: its unanswered bids get that error (line_stops). Inside a caller's
transaction the same with a savepoint (the caller commits, and the row lock lasts until it
does). Anywhere else (SQLite, client-side binding, a query log) the bids go through bid_place
one by one."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from django.db import Error as DatabaseError
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import (
    access_user_read,
    session_checked,
    session_checked_remember,
    session_in_read,
    session_read_check,
)
from auctions.locks import LockedAuction
from auctions.models import Auction
from auctions.selectors import RECENT_BIDS
from auctions.services import bidding
from auctions.services.bid_plan import BidPlan, apply_bid_state, plan_bid
from auctions.services.bid_writes import (
    SORT_KEYS_MAX_AGE,
    BidExpect,
    CasConflict,
    bid_write_outcome,
    bid_write_statement,
)
from auctions.services.bidding import BidResult, bid_place
from neighborbid.db.statements import execute_in_one_transaction, execute_repeated_rows, pipeline_ready
from neighborbid.errors import AuctionNotFound, DomainError, SellerLinked, ServerError
from neighborbid.logs import money_log
from wallets.locks import WalletRow
from wallets.models import Wallet

logger = logging.getLogger("neighborbid.money")


@dataclass(frozen=True)
class BidAsk:
    """One bid of a batch: bid_place's arguments (the actor by id, as a socket knows it)."""

    actor_id: int
    amount: int
    request_id: str
    max_amount: int | None = None
    session_key: str | None = None


# A bid's answer: its result, its refusal, or (rare) the error that stopped it, as bid_place
# would have raised it.
BidOutcome = BidResult | Exception


def bid_place_many(*, auction_id: int, bids: list[BidAsk]) -> list[BidOutcome]:
    """Place these bids on one auction in this order: for each, its BidResult, or the
    DomainError bid_place would have raised (nothing written for it), or the error that stopped
    it. See the module's text."""
    outcomes: list[BidOutcome] = []
    python_at = -1  # where the server stopped: that bid and the next ones by the Python path
    while len(outcomes) < len(bids):
        rest = bids[len(outcomes) :]
        if len(rest) >= 2 and len(outcomes) != python_at and bidding.decide_ready():
            # the plain bids at the head of the line, decided inside PostgreSQL in one call, up to
            # the first it hands back (or the first it does not decide: a maximum, a session not
            # yet checked); from there the batch below, then the server again
            outcomes += _in_server(auction_id, rest)
            python_at = len(outcomes)
            continue
        if len(rest) < 2 or not bidding.SQL_WRITER or bidding.CAS_ATTEMPTS <= 0 or not pipeline_ready():
            outcomes += [_one(auction_id, ask) for ask in rest]
            break
        outcomes += _batch(auction_id, rest)
    return outcomes


_DECIDE_MANY_SQL = (
    "SELECT * FROM nb_bid_decide_many(%s::bigint, %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], "
    "%s::text[], %s::interval, %s::integer)"
)


def _in_server(auction_id: int, bids: list[BidAsk]) -> list[BidOutcome]:
    """The longest prefix of `bids` that nb_bid_decide_many decides (migrations auctions 0019,
    0020): plain bids whose arguments hold and whose socket session (if any) was checked before,
    decided in order in one call and one transaction, up to the first it hands back. Returns the
    answers of the bids it decided (empty: none; the caller takes the next bid by the Python
    path)."""
    asks: list[tuple[BidAsk, tuple[str, str] | None]] = []
    for ask in bids:
        if ask.max_amount is not None and ask.max_amount != ask.amount:
            break
        try:
            bidding.bid_arguments_check(amount=ask.amount, request_id=ask.request_id, max_amount=ask.max_amount)
        except DomainError:
            break
        session = None
        if ask.session_key is not None:
            if session_in_read(ask.session_key):
                session = session_checked(ask.session_key, user_id=ask.actor_id)
            if session is None:
                break
        asks.append((ask, session))
    if not asks or not bidding.decide_for(auction_id):
        return []
    params = [
        auction_id,
        [ask.actor_id for ask, _session in asks],
        [ask.amount for ask, _session in asks],
        [ask.request_id for ask, _session in asks],
        [ask.session_key for ask, _session in asks],
        [session[0] if session else None for _ask, session in asks],
        [session[1] if session else None for _ask, session in asks],
        SORT_KEYS_MAX_AGE,
        RECENT_BIDS,
    ]
    try:
        if connection.in_atomic_block:  # inside a caller's transaction: a savepoint
            with transaction.atomic():
                rows = execute_repeated_rows(_DECIDE_MANY_SQL, params)
        else:
            rows = execute_repeated_rows(_DECIDE_MANY_SQL, params)
    except DatabaseError as failed:
        if line_stops(failed):
            return [failed] * len(bids)
        return []  # nothing of it was written (one statement): the Python path decides them all
    answers: list[BidOutcome] = []
    for (ask, _session), row in zip(asks, rows, strict=False):
        refusal = None
        result: BidOutcome | None
        try:
            result = bidding.bid_decision(
                row, auction_id=auction_id, bidder_id=ask.actor_id, amount=ask.amount, request_id=ask.request_id
            )
        except DomainError as refused:
            result = refusal = refused
        except Exception:  # noqa: BLE001 (after the commit: the line's other answers must not be lost)
            logger.exception("a bid decided inside PostgreSQL could not be answered: auction %s", auction_id)
            result = refusal = ServerError()  # its retry, by request id, gets its first outcome
        if result is None:
            break  # handed back: it and the rest by the Python path
        answers.append(result)
        money_log("bid", refusal=refusal, auction_id=auction_id, amount=ask.amount, user_id=ask.actor_id, batch=True)
    return answers


def _batch(auction_id: int, bids: list[BidAsk]) -> list[BidOutcome]:
    """Decide and write the longest prefix of `bids` the batch can decide itself (at least one
    bid: a first one it cannot decide goes through bid_place); returns the prefix's answers."""
    decided = _decide(auction_id, bids)
    if not decided.count:  # the first bid is one only bid_place decides
        return [_one(auction_id, bids[0])]
    outcomes = decided.outcomes
    again_from = decided.count  # from here on, bid by bid (a conflict, an error)
    if decided.statements:
        try:
            rows = execute_in_one_transaction([*decided.locks, *decided.statements])[len(decided.locks) :]
        except DatabaseError as failed:
            # nothing of it was written (the transaction rolled back): every bid from the first
            # accepted one on is decided again, one by one (the refusals before it were decided
            # on the committed reads, as bid_place decides them), or the line stops there
            if line_stops(failed):
                stopped_at = decided.accepted[0][0]
                return _logged(auction_id, bids, outcomes[:stopped_at]) + [failed] * (len(bids) - stopped_at)
            rows = []
        for (index, auction, plan, now, user), row in zip(decided.accepted, rows, strict=False):
            written = bid_write_outcome(row)
            if isinstance(written, CasConflict):
                break
            bid_id, notes = written
            outcomes[index] = bidding._bid_accepted(  # noqa: SLF001 (the bid's own after-write)
                auction,
                plan,
                user=user,
                bid_id=bid_id,
                notes=notes,
                request_id=bids[index].request_id,
                now=now,
                push_users=decided.push_users,
            )
        written_count = sum(1 for index, *_rest in decided.accepted if isinstance(outcomes[index], BidResult))
        if written_count < len(decided.accepted):
            # the first write that found something changed (or failed): it and every bid after it,
            # accepted or refused in memory on the state the unwritten plans left, again
            again_from = decided.accepted[written_count][0]
    answered = _logged(auction_id, bids, outcomes[:again_from])
    return answered + [_one(auction_id, ask) for ask in bids[again_from : decided.count]]


def _logged(auction_id: int, bids: list[BidAsk], answered: list[BidOutcome]) -> list[BidOutcome]:
    """The line bid_place's money_action writes, for the bids decided here."""
    for ask, outcome in zip(bids, answered, strict=False):
        refusal = outcome if isinstance(outcome, DomainError) else None
        money_log("bid", refusal=refusal, auction_id=auction_id, amount=ask.amount, user_id=ask.actor_id, batch=True)
    return answered


def line_stops(failed: DatabaseError) -> bool:
    """Does a line whose one statement (or transaction) failed in the database stop there?
    Yes for a lock or statement timeout (overload), a lost or closing connection, and the
    server short of resources or failing (SQLSTATE classes 53, 58): every bid left in the line
    is answered with that error, as a lone bid would be (the 503 of neighborbid/unavailable.py,
    a socket's `server_error`), and none waits a second time on another path, holding the
    auction's turn in this process meanwhile. Nothing of the line was written, except when the
    connection was lost at the COMMIT, when what the server did is unknown: a bid's retry with
    its request id is then answered with its first outcome. No for anything else (a twin of a
    request id another server committed meanwhile, a deadlock PostgreSQL broke, an error one
    bid's data made): nothing was written, and the Python path decides the bids one by one, so
    an error stops only the bid that made it, as bid_place would."""
    state = getattr(failed.__cause__, "sqlstate", None)
    if state is None:  # psycopg's own error: the connection was lost or closed
        return isinstance(failed, (OperationalError, InterfaceError))
    return state in _OVERLOAD or state.startswith(("08", "53", "57P", "58"))


# PostgreSQL's lock_timeout and statement_timeout (neighborbid/settings.py sets both)
_OVERLOAD = frozenset({"55P03", "57014"})


def _one(auction_id: int, ask: BidAsk) -> BidOutcome:
    """One bid through bid_place; its refusal or error is its answer, not the line's."""
    try:
        return bid_place(
            auction_id=auction_id,
            actor=User(pk=ask.actor_id),
            amount=ask.amount,
            max_amount=ask.max_amount,
            request_id=ask.request_id,
            session_key=ask.session_key,
        )
    except Exception as stopped:  # noqa: BLE001 (a DomainError, or the error bid_place raised)
        return stopped


@dataclass
class _Decided:
    count: int  # the prefix decided here (the bids after it are left to the caller)
    outcomes: list[Any]  # per bid of the prefix: a refusal, or None until its write is read
    statements: list[tuple[str, list[Any]]]  # the accepted bids' compare-and-set writes, in order
    accepted: list[tuple[int, LockedAuction, BidPlan, datetime, User]]  # (index, state after it, plan, now, bidder)
    locks: list[tuple[str, list[Any]]]  # the statements that lock the auction, then the wallets by id
    push_users: frozenset[int]


# The batch's first statements: the auction's row, then every wallet its writes touch in
# primary-key order (the lock order of every writer, wallets/locks.py), so the writes that follow
# in the same transaction take no lock out of order.
_LOCK_AUCTION = f"SELECT id FROM {Auction._meta.db_table} WHERE id = %s FOR UPDATE"  # noqa: S608 (table from meta)
_LOCK_WALLETS = f"SELECT count(*) FROM (SELECT id FROM {Wallet._meta.db_table} WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE) AS locked"  # noqa: S608, E501 (table from meta)


def _decide(auction_id: int, bids: list[BidAsk]) -> _Decided:
    """Read the bids in order (bid_place's one read each) up to the first that only bid_place
    decides (a repeat of a request id, a twin in this line, a credential the read cannot check,
    a bidder without a wallet) or whose read shows the auction already changed; then decide the
    read ones in order on the first read's auction, each on the state the accepted ones before
    it leave."""
    users: dict[int, User] = {}
    wallets: dict[int, WalletRow] = {}
    push: set[int] = set()
    outcomes: list[Any] = []
    first = None
    requests: set[tuple[int, str]] = set()
    for ask in bids:
        key = (ask.actor_id, ask.request_id)
        if key in requests or (ask.session_key is not None and not session_in_read(ask.session_key)):
            break
        try:
            bidding.bid_arguments_check(amount=ask.amount, request_id=ask.request_id, max_amount=ask.max_amount)
            read = bidding._bid_read(  # noqa: SLF001 (the bid's own read)
                auction_id=auction_id, bidder_id=ask.actor_id, request_id=ask.request_id, session_key=ask.session_key
            )
            if read.earlier_id is not None or (read.user is not None and read.user.pk not in read.wallets):
                break
            if first is not None and (read.auction is None or read.updated_at != first.updated_at):
                break  # the auction changed since the first read: the rest in a batch of their own
            if ask.session_key is not None:
                session_read_check(read.session_data, read.user, user_id=ask.actor_id)
                session_checked_remember(
                    ask.session_key, str(read.session_data), cast("User", read.user).password, ask.actor_id
                )
            if read.auction is None:
                raise AuctionNotFound()
            user = access_user_read(read.user)
            if read.seller_linked:
                raise SellerLinked()
        except DomainError as refusal:
            outcomes.append(refusal)  # decided without the auction's state, as bid_place decides it
            requests.add(key)
            continue
        requests.add(key)
        users[len(outcomes)] = user
        outcomes.append(None)
        if first is None:
            first = read
        for user_id, row in read.wallets.items():
            wallets.setdefault(user_id, replace(row))  # copies: planning moves the won in place
        push |= read.push_users
    decided = _Decided(len(outcomes), outcomes, [], [], [], frozenset(push))
    if first is None or first.auction is None:
        return decided
    auction = copy.copy(first.auction)
    updated_at = first.updated_at
    touched: set[int] = set()
    for index, user in users.items():
        ask = bids[index]
        maximum = ask.max_amount if ask.max_amount is not None else ask.amount
        expect = BidExpect.of(auction, updated_at=updated_at, wallets=wallets)
        now = timezone.now()
        try:
            bidding._bid_check(auction, user=user, amount=ask.amount, maximum=maximum, now=now)  # noqa: SLF001
            bidding._bid_funds(auction, user=user, amount=ask.amount, maximum=maximum, wallets=wallets)  # noqa: SLF001
            plan = plan_bid(auction, user=user, amount=ask.amount, maximum=maximum, wallets=wallets)
        except DomainError as refusal:
            outcomes[index] = refusal
            continue
        apply_bid_state(auction, plan=plan, now=now)
        if auction.leader_id is not None:
            auction.leader_name = plan.names[auction.leader_id]
        decided.statements.append(bid_write_statement(auction, plan, request_id=ask.request_id, now=now, expect=expect))
        decided.accepted.append((index, copy.copy(auction), plan, now, user))
        touched.update(wallet_id for wallet_id, _balance, _locked in plan.final)
        updated_at = now
    decided.locks = [(_LOCK_AUCTION, [auction_id]), (_LOCK_WALLETS, [sorted(touched)])]
    return decided
