"""nb_bigrams (0008) in linear time. Every accepted bid updates its auction's row, and because
the price and bid count are indexed that update is never HOT: the row re-enters every index of
auctions_auction, and the bigram index calls this function on the title and description each
time, under the auction's row lock. The first version took every piece with substr(t, i, 2),
which walks the UTF-8 text from its start for each i: 0.39 ms on a 280-character listing. Two
regexp passes (pieces at even offsets, then at odd ones) give the same set of pieces in one walk
each: 0.10 ms (docs/benchmarks.md). Same name and the same set of pieces, so the index and the
list's prefilter (auctions.selectors._bigram_prefilter) keep matching; the index is rebuilt all
the same, concurrently (so the migration holds no lock that stops bids: a plain REINDEX would
block writes to auctions_auction for the ~15 s it takes at 100k open rows). PostgreSQL only, like
0008.
"""

from django.db import migrations

FAST = r"""
CREATE OR REPLACE FUNCTION nb_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT ARRAY(SELECT m[1] FROM regexp_matches(t, '(..)', 'g') AS m
                UNION ALL SELECT m[1] FROM regexp_matches(substr(t, 2), '(..)', 'g') AS m) $$;
"""
SLOW = """
CREATE OR REPLACE FUNCTION nb_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT coalesce(array_agg(DISTINCT substr(t, i, 2)), '{}') FROM generate_series(1, length(t) - 1) AS i $$;
"""
REINDEX = "REINDEX INDEX CONCURRENTLY auction_open_bigrams"


def fast(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FAST, params=None)
        schema_editor.execute(REINDEX, params=None)


def slow(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SLOW, params=None)
        schema_editor.execute(REINDEX, params=None)


class Migration(migrations.Migration):
    atomic = False  # REINDEX CONCURRENTLY runs outside a transaction
    dependencies = [("auctions", "0014_bid_log")]
    operations = [migrations.RunPython(fast, slow)]
