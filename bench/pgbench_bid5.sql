-- One hot auction, the bid as separate statements under the auction's row lock (like the ORM path).
\set bidder random(1, 200)
BEGIN;
SELECT current_price, leader_id FROM pb_auction WHERE id = 1 FOR UPDATE;
SELECT id FROM pb_wallet WHERE id = :bidder FOR UPDATE;
UPDATE pb_wallet SET balance = balance - 1000, locked = locked + 1000 WHERE id = :bidder;
INSERT INTO pb_bid (auction_id, bidder_id, amount, request_id) VALUES (1, :bidder, 1000, md5(random()::text));
UPDATE pb_auction SET current_price = current_price + 1000, seq = seq + 1, bid_count = bid_count + 1, leader_id = :bidder WHERE id = 1;
COMMIT;
