"""Partial indexes for the home list at 100k open auctions (docs/benchmarks.md, "Pages at scale").

Each covers one sort of `auctions.selectors.auction_list` over the open, visible rows, with the
filter columns INCLUDEd so that the id query of a page (and its "is there a next page" probe)
can run as an index-only scan. `auction_open_local_nbhd_ends` serves a small radius (a few 동,
sorted by end). `auction_open_bigrams` serves two-character searches (most Korean words: 식탁,
의자): pg_trgm cannot extract a trigram from them, so 0002's indexes never help and a rare
two-character term scanned every open row (325 ms at 100k); the selector adds the bigram
containment as a prefilter for such terms. PostgreSQL only, like 0002; plain CREATE INDEX
(the bigram one takes about 15 s at 100k open rows).
"""

from django.db import migrations

OPEN = "WHERE status = 'open' AND NOT is_hidden"
INCLUDE = "INCLUDE (neighbourhood_id, starts_at, category)"
INDEXES = {
    "auction_open_ends": f"(is_national, ends_at, id) {INCLUDE} {OPEN}",
    "auction_open_created": f"(is_national, created_at DESC, id DESC) {INCLUDE} {OPEN}",
    "auction_open_price": f"(is_national, current_price, id) {INCLUDE} {OPEN}",
    "auction_open_bids": f"(is_national, bid_count DESC, ends_at, id) {INCLUDE} {OPEN}",
    "auction_open_local_nbhd_ends": f"(neighbourhood_id, ends_at, id) INCLUDE (starts_at, category) {OPEN} AND NOT is_national",
    "auction_open_bigrams": f"USING gin (nb_bigrams(upper(title || ' ' || description))) {OPEN}",
}
# Every two-character substring of a text (the selector's prefilter for two-character terms).
BIGRAMS = """
CREATE OR REPLACE FUNCTION nb_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT coalesce(array_agg(DISTINCT substr(t, i, 2)), '{}') FROM generate_series(1, length(t) - 1) AS i $$
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BIGRAMS, params=None)
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON auctions_auction {definition}", params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}", params=None)
        schema_editor.execute("DROP FUNCTION IF EXISTS nb_bigrams(text)", params=None)


class Migration(migrations.Migration):
    dependencies = [("auctions", "0007_min_manner_temperature")]
    operations = [migrations.RunPython(create, drop)]
