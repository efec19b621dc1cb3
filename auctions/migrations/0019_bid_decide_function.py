"""The plain bid on a live auction decided inside PostgreSQL, in one call (issue 19 #1):
nb_bid_decide locks the auction, then the wallets by primary key, checks, writes and returns,
so the auction's row lock is held for one server-side call with no client round trip in it.

It decides only the commonest case and hands everything else back to the Python path
(outcome 'pass', nothing written): a national auction, open, not hidden; a bidder who is active,
not suspended, not the seller, not linked to the seller, with no earlier bid of this request id,
whose session (when the caller names one) is still the very row the caller already checked;
a plain bid (no maximum above the amount) that does not lead already, that is below any buy-now
price, that the bidder's balance covers, and that beats the leader's whole maximum. Then it is
either refused as too low ('refused', nothing written) or accepted ('accepted', every row
written). The Python rules (auctions.rules, auctions.services.bidding, bid_plan, bidlog) stay
the reference: the service re-derives the outcome from the locked row this function returns and
checks that both agree, and tests/auctions/test_bid_writers.py and test_model_based.py run the
same bids through both and compare every row. PostgreSQL only (SQLite: nothing here runs)."""

from django.db import migrations

# What nb_bid_decide returns (and nb_bid_decide_many, one row per bid): the outcome, the
# clock, the written ids, the wallets and the locked auction row as they were before the bid.
DECISION = """
    o_outcome text, o_reason text, o_now timestamptz, o_bid bigint, o_notes bigint[],
    o_wallets bigint[], o_push bigint[], o_nickname text, o_username text,
    o_id bigint, o_seller bigint, o_title text, o_status text, o_end_reason text,
    o_hidden boolean, o_national boolean, o_nbhd bigint, o_starts timestamptz,
    o_ends timestamptz, o_original_ends timestamptz, o_price bigint, o_buy_now bigint,
    o_leader bigint, o_leader_max bigint, o_bid_count integer, o_recent jsonb, o_seq bigint,
    o_window integer, o_extension integer, o_cap integer, o_min_manner numeric,
    o_log_seq integer, o_log_head text, o_log_salt text, o_leader_name text,
    o_new_seq bigint, o_new_head text"""

TYPE = f"CREATE TYPE nb_bid_decision AS ({DECISION})"

FUNCTION = r"""
CREATE OR REPLACE FUNCTION nb_bid_decide(
    p_auction bigint, p_bidder bigint, p_amount bigint, p_request text,
    p_session_key text, p_session_data text, p_password text,
    p_sort_age interval, p_recent integer, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (DECISION)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    a auctions_auction%ROWTYPE;
    me accounts_user%ROWTYPE;
    bw wallets_wallet%ROWTYPE;
    lw wallets_wallet%ROWTYPE;
    t timestamptz;
    minimum bigint;
    shown text;
    masked text;
    n integer;
    at_iso text;
    leaf text;
    head text;
    new_ends timestamptz;
    new_recent jsonb;
    new_count integer;
    due timestamptz;
    note_id bigint;
    locked boolean;
BEGIN
    t := COALESCE(p_now, clock_timestamp());
    -- first, without any lock: what only the Python path answers (a bidder not in good
    -- standing, a session that is not the one already checked, a repeat of this request)
    SELECT * INTO me FROM accounts_user WHERE id = p_bidder;
    IF NOT FOUND OR NOT me.is_active OR me.is_suspended THEN
        o_outcome := 'pass'; o_reason := 'user'; RETURN NEXT; RETURN;
    END IF;
    IF p_session_key IS NOT NULL AND NOT (
        p_session_data IS NOT NULL AND me.password = p_password AND EXISTS (
            SELECT 1 FROM django_session s WHERE s.session_key = p_session_key
            AND s.expire_date > t AND s.session_data = p_session_data)) THEN
        o_outcome := 'pass'; o_reason := 'session'; RETURN NEXT; RETURN;
    END IF;
    -- a sure loser (auctions.rules.sure_loser_minimum) is refused on the committed row, without
    -- queueing for its lock: on an open auction with bids the minimum only grows, so a bid too
    -- low now is too low under the lock too (the Python path's early refusal)
    SELECT * INTO a FROM auctions_auction WHERE id = p_auction;
    IF NOT FOUND THEN
        o_outcome := 'pass'; o_reason := 'no auction'; RETURN NEXT; RETURN;
    END IF;
    -- a repeat of this request, looked for after the auction's row was read: a twin committed
    -- before that read is found here too, so no refusal below is decided on a state that
    -- already holds this request's own bid (the Python read has both in one snapshot)
    IF EXISTS (SELECT 1 FROM auctions_bid b WHERE b.bidder_id = p_bidder AND b.client_request_id = p_request) THEN
        o_outcome := 'pass'; o_reason := 'repeat'; RETURN NEXT; RETURN;
    END IF;
    o_id := a.id;
    o_national := a.is_national;
    -- the seller, or the hard shill-bidding link of fraud/ (the bidder signed in on the seller's
    -- browser); the seller of an auction never changes
    IF a.seller_id = p_bidder OR EXISTS (
        SELECT 1 FROM accounts_devicesighting mine JOIN accounts_devicesighting theirs
        ON theirs.device_hash = mine.device_hash
        WHERE mine.user_id = p_bidder AND theirs.user_id = a.seller_id) THEN
        o_outcome := 'pass'; o_reason := 'seller'; RETURN NEXT; RETURN;
    END IF;
    IF a.is_national AND NOT a.is_hidden AND a.status = 'open' AND t >= a.starts_at AND t < a.ends_at
       AND a.leader_id IS NOT NULL AND a.leader_id <> p_bidder
       AND p_amount < a.current_price + (CASE
           WHEN a.current_price < 10000 THEN 500 WHEN a.current_price < 50000 THEN 1000
           WHEN a.current_price < 100000 THEN 2000 WHEN a.current_price < 500000 THEN 5000
           WHEN a.current_price < 1000000 THEN 10000 ELSE 50000 END) THEN
        locked := false;
    ELSE
        -- the lock order of every writer: the auction first, then wallets by primary key
        SELECT * INTO a FROM auctions_auction WHERE id = p_auction FOR UPDATE;
        t := COALESCE(p_now, clock_timestamp());  -- the clock, read under the lock
        locked := true;
        -- and again under the lock: a twin of this request may have committed while it waited
        IF EXISTS (SELECT 1 FROM auctions_bid b WHERE b.bidder_id = p_bidder AND b.client_request_id = p_request) THEN
            o_outcome := 'pass'; o_reason := 'repeat'; RETURN NEXT; RETURN;
        END IF;
    END IF;
    o_now := t;
    IF NOT a.is_national OR a.is_hidden OR a.status <> 'open' OR t < a.starts_at OR t >= a.ends_at THEN
        o_outcome := 'pass'; o_reason := 'not open'; RETURN NEXT; RETURN;
    END IF;
    IF a.leader_id = p_bidder THEN
        o_outcome := 'pass'; o_reason := 'leading'; RETURN NEXT; RETURN;
    END IF;

    -- the public part of the locked row, as it was before this bid (the Python rules re-derive
    -- the outcome from it)
    o_id := a.id; o_seller := a.seller_id; o_title := a.title; o_status := a.status;
    o_end_reason := a.end_reason; o_hidden := a.is_hidden; o_national := a.is_national;
    o_nbhd := a.neighbourhood_id; o_starts := a.starts_at; o_ends := a.ends_at;
    o_original_ends := a.original_ends_at; o_price := a.current_price; o_buy_now := a.buy_now_price;
    o_leader := a.leader_id; o_leader_max := a.leader_max; o_bid_count := a.bid_count;
    o_recent := a.recent_bids; o_seq := a.seq; o_window := a.soft_close_window_s;
    o_extension := a.soft_close_extension_s; o_cap := a.soft_close_cap_s;
    o_min_manner := a.min_manner_temperature; o_log_seq := a.log_seq; o_log_head := a.log_head;
    o_log_salt := a.log_salt;
    o_nickname := me.nickname; o_username := me.username;

    -- the minimum next bid (auctions.rules.min_next_bid and PRICE_LADDER)
    minimum := CASE WHEN a.leader_id IS NULL THEN a.current_price ELSE a.current_price + CASE
        WHEN a.current_price < 10000 THEN 500 WHEN a.current_price < 50000 THEN 1000
        WHEN a.current_price < 100000 THEN 2000 WHEN a.current_price < 500000 THEN 5000
        WHEN a.current_price < 1000000 THEN 10000 ELSE 50000 END END;
    IF p_amount < minimum THEN
        o_outcome := 'refused'; o_reason := CASE WHEN locked THEN 'too low' ELSE 'sure loser' END;
        RETURN NEXT; RETURN;
    END IF;
    IF NOT locked THEN  -- (never: a sure loser is below the minimum)
        o_outcome := 'pass'; o_reason := 'unlocked'; RETURN NEXT; RETURN;
    END IF;
    IF a.buy_now_price IS NOT NULL AND p_amount >= a.buy_now_price THEN
        o_outcome := 'pass'; o_reason := 'buy now'; RETURN NEXT; RETURN;
    END IF;
    IF a.leader_id IS NOT NULL AND (a.leader_max IS NULL OR p_amount <= a.leader_max) THEN
        o_outcome := 'pass'; o_reason := 'maximum answers'; RETURN NEXT; RETURN;
    END IF;
    IF jsonb_typeof(a.recent_bids) <> 'array' THEN
        o_outcome := 'pass'; o_reason := 'recent bids'; RETURN NEXT; RETURN;
    END IF;

    PERFORM 1 FROM wallets_wallet w WHERE w.user_id = p_bidder OR w.user_id = a.leader_id ORDER BY w.id FOR UPDATE;
    SELECT * INTO bw FROM wallets_wallet w WHERE w.user_id = p_bidder;
    IF NOT FOUND OR bw.balance < p_amount THEN
        o_outcome := 'pass'; o_reason := 'funds'; RETURN NEXT; RETURN;
    END IF;
    IF a.leader_id IS NOT NULL THEN
        SELECT * INTO lw FROM wallets_wallet w WHERE w.user_id = a.leader_id;
        IF NOT FOUND OR lw.locked_balance < a.leader_max THEN
            o_outcome := 'pass'; o_reason := 'leader wallet'; RETURN NEXT; RETURN;
        END IF;
        o_wallets := ARRAY[[bw.id, bw.user_id, bw.balance, bw.locked_balance],
                           [lw.id, lw.user_id, lw.balance, lw.locked_balance]];
        o_leader_name := (SELECT COALESCE(NULLIF(u.nickname, ''), u.username) FROM accounts_user u WHERE u.id = a.leader_id);
    ELSE
        o_wallets := ARRAY[[bw.id, bw.user_id, bw.balance, bw.locked_balance]];
    END IF;

    -- the bidder's masked name (auctions.rules.mask_name); a name Python would strip first
    -- (whitespace at either end) is left to Python
    shown := COALESCE(NULLIF(me.nickname, ''), me.username);
    IF shown ~ '^[\s\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u001c-\u001f]'
       OR shown ~ '[\s\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u001c-\u001f]$' THEN
        o_outcome := 'pass'; o_reason := 'name'; RETURN NEXT; RETURN;
    END IF;
    n := length(shown);
    masked := CASE WHEN n <= 1 THEN COALESCE(NULLIF(shown, ''), '?') || '*'
                   WHEN n = 2 THEN left(shown, 1) || '*'
                   ELSE left(shown, 1) || repeat('*', n - 2) || right(shown, 1) END;

    -- datetime.isoformat() of the clock (no fraction when it is whole seconds)
    at_iso := to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN extract(microseconds FROM t)::bigint % 1000000 = 0 THEN ''
                ELSE '.' || to_char(t AT TIME ZONE 'UTC', 'US') END || '+00:00';
    SELECT COALESCE(jsonb_agg(e ORDER BY i), '[]'::jsonb) INTO new_recent
    FROM jsonb_array_elements(jsonb_build_array(jsonb_build_object('amount', p_amount, 'bidder', masked, 'at', at_iso))
                              || a.recent_bids) WITH ORDINALITY AS r(e, i)
    WHERE i <= p_recent;

    -- soft close (auctions.rules.soft_close_end)
    new_ends := a.ends_at;
    IF a.soft_close_window_s > 0 AND a.soft_close_extension_s > 0
       AND a.ends_at - t <= make_interval(secs => a.soft_close_window_s) THEN
        new_ends := GREATEST(a.ends_at, LEAST(t + make_interval(secs => a.soft_close_extension_s),
                                              a.original_ends_at + make_interval(secs => a.soft_close_cap_s)));
    END IF;

    -- the bid log's leaf (auctions.bidlog.log_append: canonical JSON, SHA-256, HMAC pseudonym)
    leaf := '{"amount":' || p_amount || ',"at":' || (extract(epoch FROM t) * 1000000)::bigint
        || ',"auction":' || a.id || ',"bidder":"' || left(encode(hmac(p_bidder::text, a.log_salt, 'sha256'), 'hex'), 16)
        || '","kind":"bid","prev":"' || a.log_head || '","seq":' || (a.log_seq + 1) || '}';
    head := encode(sha256(convert_to(leaf, 'UTF8')), 'hex');

    INSERT INTO auctions_bid (auction_id, bidder_id, amount, max_amount, kind, client_request_id, created_at)
    VALUES (a.id, p_bidder, p_amount, p_amount, 'bid', p_request, t) RETURNING id INTO o_bid;
    UPDATE wallets_wallet SET balance = bw.balance - p_amount, locked_balance = bw.locked_balance + p_amount,
        updated_at = t WHERE id = bw.id;
    INSERT INTO wallets_ledgerentry (wallet_id, kind, balance_delta, locked_delta, balance_after, locked_after,
        auction_id, bid_id, staff_user_id, memo, created_at)
    VALUES (bw.id, 'bid_hold', -p_amount, p_amount, bw.balance - p_amount, bw.locked_balance + p_amount,
        a.id, o_bid, NULL, '', t);
    IF a.leader_id IS NOT NULL THEN
        UPDATE wallets_wallet SET balance = lw.balance + a.leader_max, locked_balance = lw.locked_balance - a.leader_max,
            updated_at = t WHERE id = lw.id;
        INSERT INTO wallets_ledgerentry (wallet_id, kind, balance_delta, locked_delta, balance_after, locked_after,
            auction_id, bid_id, staff_user_id, memo, created_at)
        VALUES (lw.id, 'hold_release', a.leader_max, -a.leader_max, lw.balance + a.leader_max,
            lw.locked_balance - a.leader_max, a.id, o_bid, NULL, '', t);
        -- auctions.services.bid_plan.bid_notices: the previous leader's whole maximum came back
        INSERT INTO auctions_notification (user_id, kind, auction_id, message, created_at, read_at)
        VALUES (a.leader_id, 'outbid', a.id,
            '''' || a.title || ''' 경매에서 더 높은 입찰(' || to_char(p_amount, 'FM999,999,999,999,999,999,999')
            || '원)이 들어왔어요. 입찰금 ' || to_char(a.leader_max, 'FM999,999,999,999,999,999,999')
            || '원은 지갑으로 돌아왔어요.', t, NULL)
        RETURNING id INTO note_id;
        o_notes := ARRAY[note_id];
    ELSE
        o_notes := ARRAY[]::bigint[];
    END IF;
    INSERT INTO auctions_bidlogleaf (auction_id, seq, kind, body, hash, created_at)
    VALUES (a.id, a.log_seq + 1, 'bid', leaf, head, t);

    -- the new state, and the lists' sort keys as bid_writes.bid_write_statement moves them
    new_count := a.bid_count + 1;
    due := t - p_sort_age;
    UPDATE auctions_auction SET current_price = p_amount, leader_id = p_bidder, leader_max = p_amount,
        bid_count = new_count, recent_bids = new_recent, ends_at = new_ends, status = 'open',
        seq = a.seq + 1, updated_at = t, log_seq = a.log_seq + 1, log_head = head,
        sort_price = CASE WHEN sort_at IS NULL OR sort_at <= due THEN p_amount ELSE sort_price END,
        sort_bids = CASE WHEN sort_at IS NULL OR sort_at <= due THEN new_count ELSE sort_bids END,
        sort_stale = CASE WHEN sort_at IS NULL OR sort_at <= due THEN false
                          ELSE (sort_price <> p_amount OR sort_bids <> new_count) END,
        sort_at = CASE WHEN sort_at IS NULL OR sort_at <= due THEN t ELSE sort_at END
    WHERE id = a.id;

    o_push := ARRAY(SELECT DISTINCT p.user_id FROM notifications_pushsubscription p
                    WHERE p.user_id = p_bidder OR p.user_id = a.leader_id);
    o_new_seq := a.seq + 1;
    o_new_head := head;
    o_outcome := 'accepted';
    RETURN NEXT;
END
$fn$;
"""


FUNCTION = FUNCTION.replace("DECISION", DECISION)

# A line's bids on one auction, in order, each decided by nb_bid_decide in the same transaction
# (one round trip for the lot: the auction's lock, once taken, is held to the end of the call).
# It stops after the first bid handed back to the Python path: that bid and the ones after it
# are decided there, in order.
MANY = r"""
CREATE OR REPLACE FUNCTION nb_bid_decide_many(
    p_auction bigint, p_bidders bigint[], p_amounts bigint[], p_requests text[],
    p_session_keys text[], p_session_data text[], p_passwords text[],
    p_sort_age interval, p_recent integer)
RETURNS SETOF nb_bid_decision
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    r nb_bid_decision;
BEGIN
    -- The locks of the whole line up front, in the order of every writer: the auction, then
    -- every wallet the line can touch (its bidders' and the current leader's; each later
    -- leader is one of its bidders) by primary key. One transaction holds them all to its end,
    -- so taking them bid by bid would take wallets out of that order.
    PERFORM 1 FROM auctions_auction WHERE id = p_auction FOR UPDATE;
    PERFORM 1 FROM wallets_wallet w
    WHERE w.user_id = ANY(p_bidders) OR w.user_id = (SELECT leader_id FROM auctions_auction WHERE id = p_auction)
    ORDER BY w.id FOR UPDATE;
    FOR i IN 1 .. COALESCE(array_length(p_bidders, 1), 0) LOOP
        SELECT * INTO r FROM nb_bid_decide(p_auction, p_bidders[i], p_amounts[i], p_requests[i],
            p_session_keys[i], p_session_data[i], p_passwords[i], p_sort_age, p_recent);
        RETURN NEXT r;
        IF r.o_outcome = 'pass' THEN
            RETURN;
        END IF;
    END LOOP;
END
$fn$;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
    schema_editor.execute(TYPE, params=None)
    schema_editor.execute(FUNCTION, params=None)
    schema_editor.execute(MANY, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP FUNCTION IF EXISTS nb_bid_decide_many(bigint, bigint[], bigint[], text[], text[], text[], text[], "
        "interval, integer)"
    )
    schema_editor.execute(
        "DROP FUNCTION IF EXISTS nb_bid_decide(bigint, bigint, bigint, text, text, text, text, interval, integer, timestamptz)"
    )
    schema_editor.execute("DROP TYPE IF EXISTS nb_bid_decision")


class Migration(migrations.Migration):
    dependencies = [
        ("auctions", "0018_sort_keys"),
        ("accounts", "0009_device_tokens"),
        ("wallets", "0007_ledger_request_id"),
        ("notifications", "0004_chat_push_and_devices"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
