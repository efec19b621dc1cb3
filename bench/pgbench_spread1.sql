-- The same one-round-trip bid spread over 1,000 auctions.
\set bidder random(1, 200)
\set auction random(1, 1000)
SELECT pb_place_bid(:auction, :bidder, md5(random()::text));
