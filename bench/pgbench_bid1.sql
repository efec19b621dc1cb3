-- One hot auction, the whole bid (with outbid release and a ledger row) as one round trip.
\set bidder random(1, 200)
SELECT pb_place_bid(1, :bidder, md5(random()::text));
