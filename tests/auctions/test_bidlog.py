"""The verifiable bid log (issue 24): a hash chain of every public bid event, written in the same
write as the bid, that anyone can recompute (verify.json + `python -m neighborbid.verify`), with
receipts in every bid's answer."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from auctions.bidlog import pseudonym
from auctions.models import Auction, BidLogLeaf
from auctions.services import auction_cancel, auction_settle, bid_place
from neighborbid import verify
from tests.factories import make_auction, make_user, rid, set_end
from tests.realtime.conftest import open_socket, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def log_json(auction_id: int) -> dict:
    response = Client().get(f"/auctions/{auction_id}/verify.json")
    assert response.status_code == 200
    return json.loads(response.content)


def bids(auction, people, amounts):
    return [
        bid_place(auction_id=auction.pk, actor=person, amount=amount, request_id=rid())
        for person, amount in zip(people, amounts, strict=True)
    ]


def test_every_bid_is_a_leaf_and_the_downloaded_log_verifies_with_the_receipts(tmp_path, capsys):
    # given three bids on a live auction
    auction = make_auction(start_price=10_000, is_national=True)
    a, b = make_user(balance=100_000), make_user(balance=100_000)
    results = bids(auction, [a, b, a], [10_000, 11_000, 12_000])
    # when anyone downloads the log and checks it with the standalone command
    data = log_json(auction.pk)
    path = tmp_path / "auction.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    receipts = [f"{r.receipt['seq']}:{r.receipt['hash']}" for r in results]
    code = verify.main([str(path), *[arg for receipt in receipts for arg in ("--receipt", receipt)]])
    # then every leaf chains, the head is the auction's, and each bid's receipt is in it
    assert code == 0, capsys.readouterr().out
    assert [leaf["seq"] for leaf in data["leaves"]] == [1, 2, 3]
    assert [json.loads(leaf["body"])["amount"] for leaf in data["leaves"]] == [10_000, 11_000, 12_000]
    assert data["head"] == Auction.objects.get(pk=auction.pk).log_head == data["leaves"][-1]["hash"]
    assert [r.receipt["seq"] for r in results] == [1, 2, 3]
    # and while the auction runs its salt is secret: pseudonyms link no one across auctions
    assert data["salt"] is None


def test_a_leaf_changed_after_the_fact_fails_at_its_seq(tmp_path, capsys):
    # given a log of three bids
    auction = make_auction(start_price=10_000, is_national=True)
    a, b = make_user(balance=100_000), make_user(balance=100_000)
    bids(auction, [a, b, a], [10_000, 11_000, 12_000])
    # when someone with database access rewrites the second bid's amount (the trigger taken out)
    leaf = BidLogLeaf.objects.get(auction=auction, seq=2)
    forged = leaf.body.replace('"amount":11000', '"amount":10500')
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE auctions_bidlogleaf DISABLE TRIGGER auctions_bidlog_append_only")
        cursor.execute("UPDATE auctions_bidlogleaf SET body = %s WHERE id = %s", [forged, leaf.pk])
        cursor.execute("ALTER TABLE auctions_bidlogleaf ENABLE TRIGGER auctions_bidlog_append_only")
    # then the command fails at that seq
    path = tmp_path / "auction.json"
    path.write_text(json.dumps(log_json(auction.pk), ensure_ascii=False), encoding="utf-8")
    assert verify.main([str(path)]) == 1
    assert "FAILED at seq 2" in capsys.readouterr().out
    # and so does a forger who also recomputes that leaf's hash: the next leaf names the old one
    data = log_json(auction.pk)
    data["leaves"][1]["hash"] = hashlib.sha256(forged.encode()).hexdigest()
    assert verify.problem(data)[0] == 3


def test_the_log_is_append_only_in_the_database():
    auction = make_auction(start_price=10_000, is_national=True)
    bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())
    for statement in ("UPDATE auctions_bidlogleaf SET kind = 'x'", "DELETE FROM auctions_bidlogleaf"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert BidLogLeaf.objects.filter(auction=auction).count() == 1


def test_a_raise_of_ones_own_maximum_is_no_leaf_and_no_maximum_leaks():
    auction = make_auction(start_price=10_000, is_national=True)
    leader = make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=leader, amount=10_000, max_amount=20_000, request_id=rid())
    raised = bid_place(auction_id=auction.pk, actor=leader, amount=10_000, max_amount=35_000, request_id=rid())
    assert raised.receipt is None
    bodies = [leaf.body for leaf in BidLogLeaf.objects.filter(auction=auction)]
    assert len(bodies) == 1 and "20000" not in bodies[0] and "35000" not in bodies[0]


def test_automatic_bids_settlement_and_the_salt_after_the_end(tmp_path, capsys):
    # given a maximum that answers a rival automatically, then the end
    auction = make_auction(start_price=10_000, is_national=True)
    a, b = make_user(balance=100_000), make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=a, amount=10_000, max_amount=30_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=b, amount=15_000, request_id=rid())
    set_end(auction, timezone.now() - timedelta(seconds=1))
    auction_settle(auction_id=auction.pk)
    data = log_json(auction.pk)
    kinds = [leaf["kind"] for leaf in data["leaves"]]
    assert kinds == ["bid", "bid", "auto", "settled"]
    # then the salt is public and a bidder can find their own leaves by their id
    row = Auction.objects.get(pk=auction.pk)
    assert data["salt"] == row.log_salt
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert verify.main([str(path), "--me", str(a.pk)]) == 0
    assert "[1, 3, 4]" in capsys.readouterr().out  # a's bid, a's automatic answer, a won


def test_one_person_is_a_different_pseudonym_in_each_auction():
    person = make_user(balance=100_000)
    first, second = make_auction(start_price=1_000), make_auction(start_price=1_000)
    for auction in (first, second):
        bid_place(auction_id=auction.pk, actor=person, amount=1_000, request_id=rid())
    names = [json.loads(BidLogLeaf.objects.get(auction=a).body)["bidder"] for a in (first, second)]
    assert names[0] != names[1]
    assert names[0] == pseudonym(Auction.objects.get(pk=first.pk).log_salt, person.pk)


def test_a_cancelled_auction_ends_its_log():
    auction = make_auction(start_price=10_000)
    auction_cancel(auction_id=auction.pk, actor=auction.seller)
    assert [leaf["kind"] for leaf in log_json(auction.pk)["leaves"]] == ["cancelled"]
    assert verify.problem(log_json(auction.pk)) is None


async def test_the_sockets_ack_carries_a_receipt_that_is_in_the_log():
    auction = await database_sync_to_async(make_auction)(start_price=10_000, is_national=True)
    bidder = await database_sync_to_async(make_user)(balance=50_000)
    sock, _snapshot = await open_socket(auction.pk, user=bidder)
    await sock.send_json_to({"type": "bid", "amount": 10_000, "request_id": "r-1"})
    frames = await receive_until(sock, lambda f: f["type"] in ("ack", "error"))
    ack = frames[-1]
    assert ack["type"] == "ack", ack
    leaf = await database_sync_to_async(BidLogLeaf.objects.get)(auction_id=auction.pk, seq=ack["receipt"]["seq"])
    assert ack["receipt"] == {"seq": 1, "hash": leaf.hash}
    await sock.disconnect()
