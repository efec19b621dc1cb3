"""A short pending list for the auction row's three GIN text indexes (0002, 0008). Every accepted
bid re-enters its auction's row into them (the update is never HOT), and GIN appends new entries
to a pending list that the inserting statement itself merges into the index once the list passes
`gin_pending_list_limit` (4 MB by default): about every 4–6 s of one hot auction's bids, a bid's
statement spent 46–75 ms merging, under the auction's row lock, holding up every other bidder.
At 256 kB the merges are small: the same one-row update ran at the same rate (interleaved:
867–946 against 869–967 tps), its slowest update took 16–17 ms instead of 46–50 ms (and 9–10 ms
against 66–75 ms in another pair), for a p99 about 1 ms longer (2.5–2.9 against 1.6–1.9 ms):
many short waits instead of one that holds up the whole auction (docs/benchmarks.md). Searches
scan the pending list too, so a short one also helps them. PostgreSQL only, like 0002 and 0008.
"""

from django.db import migrations

INDEXES = ("auction_title_trgm", "auction_desc_trgm", "auction_open_bigrams")
PENDING_KB = 256


def short(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"ALTER INDEX {name} SET (gin_pending_list_limit = {PENDING_KB})", params=None)


def default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"ALTER INDEX {name} RESET (gin_pending_list_limit)", params=None)


class Migration(migrations.Migration):
    dependencies = [("auctions", "0015_faster_bigrams")]
    operations = [migrations.RunPython(short, default)]
