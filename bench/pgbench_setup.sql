-- Tables shaped like the bid path (see docs/benchmarks.md). Run against neighborbid_bench.
DROP TABLE IF EXISTS pb_bid, pb_ledger, pb_wallet, pb_auction;
CREATE TABLE pb_auction (id bigint PRIMARY KEY, current_price bigint NOT NULL, seq bigint NOT NULL, bid_count int NOT NULL, leader_id bigint);
CREATE TABLE pb_wallet (id bigint PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0), locked bigint NOT NULL CHECK (locked >= 0));
CREATE TABLE pb_bid (id bigserial PRIMARY KEY, auction_id bigint NOT NULL REFERENCES pb_auction, bidder_id bigint NOT NULL REFERENCES pb_wallet, amount bigint NOT NULL, request_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (bidder_id, request_id));
CREATE TABLE pb_ledger (id bigserial PRIMARY KEY, wallet_id bigint NOT NULL REFERENCES pb_wallet, delta bigint NOT NULL, locked_delta bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO pb_auction SELECT g, 10000, 0, 0, NULL FROM generate_series(1, 1000) g;
INSERT INTO pb_wallet SELECT g, 1000000000000, 0 FROM generate_series(1, 200) g;
CREATE OR REPLACE FUNCTION pb_place_bid(p_auction bigint, p_bidder bigint, p_rid text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE a pb_auction; amt bigint;
BEGIN
  SELECT * INTO a FROM pb_auction WHERE id = p_auction FOR UPDATE;
  amt := a.current_price + 1000;
  PERFORM 1 FROM pb_wallet WHERE id IN (p_bidder, coalesce(a.leader_id, p_bidder)) ORDER BY id FOR UPDATE;
  UPDATE pb_wallet SET balance = balance - amt, locked = locked + amt WHERE id = p_bidder;
  IF a.leader_id IS NOT NULL THEN
    UPDATE pb_wallet SET balance = balance + a.current_price, locked = locked - a.current_price WHERE id = a.leader_id;
  END IF;
  INSERT INTO pb_bid (auction_id, bidder_id, amount, request_id) VALUES (p_auction, p_bidder, amt, p_rid);
  INSERT INTO pb_ledger (wallet_id, delta, locked_delta) VALUES (p_bidder, -amt, amt);
  UPDATE pb_auction SET current_price = amt, seq = seq + 1, bid_count = bid_count + 1, leader_id = p_bidder WHERE id = p_auction;
  RETURN amt;
END $$;
