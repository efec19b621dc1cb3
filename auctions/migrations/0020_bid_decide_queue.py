"""A contested plain bid waits for its turn in a queue, not on the auction's row (issue 19):
nb_bid_decide (migration 0019) took the auction's row lock (`FOR UPDATE`) before it knew
whether the bid could still win. On a contested auction most of the bids that waited had lost
by the time their turn came (4 threads racing one auction: 6,517 of 9,920 row locks granted
ended in a refusal). Each of those refusals held the row, gave its transaction an id, wrote the
row lock to the WAL and flushed it at the commit, and every commit woke every waiter to fight
for the row again.

Now the bids that would take the row lock first take their turn in a per-auction queue (a
transaction-level advisory lock on the auction's id, bigint key space; nothing else in
NeighborBid takes advisory locks). A bid that finds the turn free (pg_try_advisory_xact_lock: an
uncontested auction pays one function call) goes on exactly as in 0019. A bid that finds it
taken waits for it, then reads the committed row again: if it lost while it waited it is
refused there, with no row lock, no transaction id and no WAL (the same sure-loser rule as the
read before the queue: on an open auction with a leader the minimum only grows); otherwise it
takes the row lock as before and goes on unchanged. The queue is speed, not safety: the row lock
still orders every writer, and the Python paths never take the queue. The queue comes before the row lock in every
function that takes both (nb_bid_decide_many takes it first, up front), and no caller holds an
auction's row when it calls them, so no wait forms a cycle.

The text is 0019's with that one change (0019 itself stays as it landed); reversing puts 0019's
back. PostgreSQL only."""

from importlib import import_module

from django.db import migrations

_0019 = import_module("auctions.migrations.0019_bid_decide_function")


def _between(text: str, start: str, end: str) -> str:
    """The one stretch of `text` from `start` up to (not including) `end`."""
    if text.count(start) != 1:
        raise RuntimeError("migration 0019's text is not the one 0020 changes")
    at = text.index(start)
    return text[at : text.index(end, at)]


# the row lock of 0019 and the checks under it, up to where both branches meet
LOCKED = _between(_0019.FUNCTION, "        -- the lock order of every writer", "    o_now := t;")

# the sure-loser rule of 0019's read before the queue, word for word
SURE_LOSER = _between(
    _0019.FUNCTION, "a.is_national AND NOT a.is_hidden AND a.status = 'open' AND t >= a.starts_at", " THEN\n"
)

QUEUED = """        -- the auction's queue first: when another bid holds its turn, wait for it, then read the
        -- committed row again (a new snapshot: every bid before this one in the queue has
        -- committed) and look again for a twin of this request
        IF NOT pg_try_advisory_xact_lock(p_auction) THEN
            PERFORM pg_advisory_xact_lock(p_auction);
            SELECT * INTO a FROM auctions_auction WHERE id = p_auction;
            t := COALESCE(p_now, clock_timestamp());
            IF EXISTS (SELECT 1 FROM auctions_bid b WHERE b.bidder_id = p_bidder AND b.client_request_id = p_request) THEN
                o_outcome := 'pass'; o_reason := 'repeat'; RETURN NEXT; RETURN;
            END IF;
            IF SURE_LOSER THEN
                locked := false;  -- lost while it waited: refused below on this committed row
            END IF;
        END IF;
        IF locked IS NULL THEN
            -- the lock order of every writer: the auction first, then wallets by primary key
            SELECT * INTO a FROM auctions_auction WHERE id = p_auction FOR UPDATE;
            t := COALESCE(p_now, clock_timestamp());  -- the clock, read under the lock
            locked := true;
            -- and again under the lock: a twin of this request may have committed on a path
            -- that does not queue
            IF EXISTS (SELECT 1 FROM auctions_bid b WHERE b.bidder_id = p_bidder AND b.client_request_id = p_request) THEN
                o_outcome := 'pass'; o_reason := 'repeat'; RETURN NEXT; RETURN;
            END IF;
        END IF;
    END IF;
"""
QUEUED = QUEUED.replace("SURE_LOSER", SURE_LOSER)

MANY_LOCK = "    PERFORM 1 FROM auctions_auction WHERE id = p_auction FOR UPDATE;\n"
MANY_QUEUED = (
    "    PERFORM pg_advisory_xact_lock(p_auction);  -- the auction's queue (0020), before its row\n" + MANY_LOCK
)


def _changed(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise RuntimeError("migration 0019's text is not the one 0020 changes")
    return text.replace(old, new)


FUNCTION = _changed(_0019.FUNCTION, LOCKED, QUEUED)
MANY = _changed(_0019.MANY, MANY_LOCK, MANY_QUEUED)


def _install(functions: tuple[str, ...]):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for text in functions:
            schema_editor.execute(text, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("auctions", "0019_bid_decide_function")]

    operations = [
        migrations.RunPython(_install((FUNCTION, MANY)), _install((_0019.FUNCTION, _0019.MANY))),
    ]
