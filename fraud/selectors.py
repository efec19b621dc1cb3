"""Reads for the shill-bidding scan: each (seller, bidder) pair's history in a few queries.

One query for the sellers' settled auctions in the window, one for all their bid rows, one each
for the bidders' auctions and wins in the window, one for the users, one for their devices; the
signals themselves are pure Python (fraud.rules), so the same code runs on PostgreSQL and on
the embedded SQLite."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count

from accounts.models import DeviceSighting, User
from auctions.models import Auction, Bid
from fraud.models import ShillCase
from fraud.rules import AuctionRecord, BidRow, PairHistory


def pair_histories(*, since: datetime, seller_ids: Iterable[int] | None = None) -> list[PairHistory]:
    auctions_qs = Auction.objects.filter(status=Auction.Status.SOLD, ended_at__gte=since)
    if seller_ids is not None:
        auctions_qs = auctions_qs.filter(seller_id__in=list(seller_ids))
    auctions = list(
        auctions_qs.values_list("id", "seller_id", "starts_at", "original_ends_at", "winner_id", "current_price")
    )
    if not auctions:
        return []
    rows: dict[int, list[BidRow]] = defaultdict(list)
    for auction_id, bidder_id, amount, max_amount, kind, created_at in (
        Bid.objects.filter(auction_id__in=[a[0] for a in auctions])
        .order_by("auction_id", "id")
        .values_list("auction_id", "bidder_id", "amount", "max_amount", "kind", "created_at")
    ):
        rows[auction_id].append(BidRow(bidder_id, amount, max_amount, kind, created_at))

    per_pair: dict[tuple[int, int], list[AuctionRecord]] = defaultdict(list)
    for auction_id, seller_id, starts_at, ends_at, winner_id, price in auctions:
        record = AuctionRecord(auction_id, starts_at, ends_at, winner_id, price, tuple(rows[auction_id]))
        for bidder_id in dict.fromkeys(b.bidder_id for b in record.bids):
            if bidder_id != seller_id:
                per_pair[(seller_id, bidder_id)].append(record)
    if not per_pair:
        return []

    bidder_ids = {bidder for _, bidder in per_pair}
    seller_set = {seller for seller, _ in per_pair}
    totals = dict(
        Bid.objects.filter(bidder_id__in=bidder_ids, created_at__gte=since)
        .values_list("bidder_id")
        .annotate(n=Count("auction_id", distinct=True))
        .values_list("bidder_id", "n")
    )
    wins = dict(
        Auction.objects.filter(winner_id__in=bidder_ids, ended_at__gte=since)
        .values_list("winner_id")
        .annotate(n=Count("id"))
        .values_list("winner_id", "n")
    )
    users = {
        pk: (joined, place)
        for pk, joined, place in User.objects.filter(pk__in=bidder_ids | seller_set).values_list(
            "id", "date_joined", "neighbourhood_id"
        )
    }
    devices: dict[int, set[str]] = defaultdict(set)
    for user_id, digest in DeviceSighting.objects.filter(user_id__in=bidder_ids | seller_set).values_list(
        "user_id", "device_hash"
    ):
        devices[user_id].add(digest)

    histories = []
    for (seller_id, bidder_id), records in sorted(per_pair.items()):
        joined, place = users[bidder_id]
        histories.append(
            PairHistory(
                seller_id=seller_id,
                bidder_id=bidder_id,
                auctions=tuple(records),
                bidder_auctions_total=totals.get(bidder_id, len(records)),
                bidder_wins_total=wins.get(bidder_id, 0),
                bidder_joined=joined,
                same_neighbourhood=place is not None and place == users[seller_id][1],
                shared_device=bool(devices[seller_id] & devices[bidder_id]),
            )
        )
    return histories


def shill_cases_open() -> list[ShillCase]:
    return list(ShillCase.objects.filter(status=ShillCase.Status.OPEN).select_related("seller", "bidder"))


def shill_case_bids(*, case: ShillCase) -> list[Bid]:
    """Every bid row of the case's auctions, oldest first: the moderator sees the pair's bids
    beside everyone else's (the winner's automatic answers included)."""
    return list(
        Bid.objects.filter(auction_id__in=case.auction_ids).select_related("bidder").order_by("auction_id", "id")
    )
