"""The plan of an accepted bid, decided by the rules under the auction's row lock
(auctions.services.bidding) before anything is written (auctions.services.bid_writes): the new
leader and price (the second-price rule, auctions.rules.proxy_bid), the escrow moves, the
auction's new public state and who is told what."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from accounts.models import User
from auctions.bidlog import Leaf, log_append
from auctions.locks import BidAuction, LockedAuction
from auctions.models import Auction
from auctions.rules import RAISE, ProxyOutcome, mask_name, proxy_bid, soft_close_end
from auctions.selectors import RECENT_BIDS
from notifications.models import Notification
from wallets.services import Move, Posting, wallet_moves_plan


@dataclass
class BidPlan:
    """What an accepted bid writes, decided by the rules under the lock."""

    bidder_name: str
    outcome: ProxyOutcome
    previous_leader_id: int | None
    previous_price: int
    postings: list[Posting]
    final: list[tuple[int, int, int]]
    names: dict[int, str]
    leaves: list[Leaf] = field(default_factory=list)  # the public events, for the bid log

    @property
    def receipt(self) -> dict[str, Any] | None:
        """The placed bid's place in the bid log (None for a raise of one's own maximum)."""
        if not self.leaves or self.outcome.rows[0].kind == RAISE:
            return None
        return self.leaves[0].receipt()

    @property
    def outbid_id(self) -> int | None:
        """The previous leader, when this bid took the lead from them."""
        return self.outcome.release[0] if self.outcome.release else None

    @property
    def lost_at_once(self) -> bool:
        """The bidder's maximum was not enough: the leader's maximum answered automatically."""
        return self.outcome.leader_id != self.outcome.rows[0].bidder_id


def plan_bid(auction: BidAuction, *, user: User, amount: int, maximum: int, wallets: dict[int, Any]) -> BidPlan:
    """The outcome of the second-price rule (auctions.rules.proxy_bid) and its escrow movements:
    hold the new leader's whole maximum (or the raise of one's own), release the previous
    leader's whole maximum."""
    outcome = proxy_bid(
        leader_id=auction.leader_id,
        leader_max=auction.leader_max,
        price=auction.current_price,
        bidder_id=user.pk,
        amount=amount,
        max_amount=maximum,
    )
    moves = []
    if outcome.hold is not None:
        # Move carries the auction for the ledger row's foreign key; the bid's writers name it
        # by id (wallet_moves_sql / wallet_postings_write), so a LockedAuction does as well.
        moves.append(Move.hold(wallets[outcome.hold[0]], amount=outcome.hold[1], auction=cast("Auction", auction)))
    if outcome.release is not None:
        moves.append(
            Move.release(wallets[outcome.release[0]], amount=outcome.release[1], auction=cast("Auction", auction))
        )
    postings, final = wallet_moves_plan(*moves)
    names = {user.pk: user.nickname or user.username}
    if auction.leader_id is not None and auction.leader_id not in names:
        names[auction.leader_id] = leader_name(auction)
    return BidPlan(names[user.pk], outcome, auction.leader_id, auction.current_price, postings, final, names)


def leader_name(auction: BidAuction) -> str:
    """The current leader's name (an automatic bid is made in their name): read with the locked
    row on the hot path (auctions.locks.auction_row_lock), from the relation otherwise."""
    if isinstance(auction, Auction):
        leader = cast("User", auction.leader)  # called only while the auction has a leader
        return leader.nickname or leader.username
    if isinstance(auction, LockedAuction) and auction.leader_name is not None:
        return str(auction.leader_name)
    # The row changed while this transaction waited for its lock: PostgreSQL re-read the locked
    # auction row but not the joined user row, so the join came back empty. Read the name.
    row = User.objects.filter(pk=auction.leader_id).values_list("nickname", "username").first()
    return (row[0] or row[1]) if row else "?"


def apply_bid_state(auction: BidAuction, *, plan: BidPlan, now: datetime) -> None:
    """The auction's new state after an accepted bid (in memory; the write follows)."""
    outcome = plan.outcome
    auction.leader_max = outcome.leader_max
    if not outcome.price_moved:
        return  # the leader raised their maximum: nothing public changed (no seq, no soft close)
    shown = [row for row in outcome.rows if row.kind != RAISE]
    auction.current_price = outcome.price
    auction.leader_id = outcome.leader_id
    auction.bid_count += len(shown)
    auction.recent_bids = [
        *(
            {"amount": row.amount, "bidder": mask_name(plan.names[row.bidder_id]), "at": now.isoformat()}
            for row in reversed(shown)
        ),
        *(auction.recent_bids or []),
    ][:RECENT_BIDS]
    auction.ends_at = soft_close_end(
        now=now,
        ends_at=auction.ends_at,
        original_ends_at=auction.original_ends_at,
        window_s=auction.soft_close_window_s,
        extension_s=auction.soft_close_extension_s,
        cap_s=auction.soft_close_cap_s,
    )
    auction.seq += 1
    plan.leaves = log_append(auction, [(row.kind, row.amount, row.bidder_id) for row in shown], at=now)


def bid_notices(auction: BidAuction, plan: BidPlan) -> list[tuple[int, str, str, dict[str, int]]]:
    """Who is told what: the previous leader when this bid took the lead (their whole maximum
    came back), the bidder when a higher maximum answered at once."""
    notes: list[tuple[int, str, str, dict[str, int]]] = []
    price = plan.outcome.price
    if plan.outbid_id is not None:
        released = plan.outcome.release[1] if plan.outcome.release else 0
        notes.append(
            (
                plan.outbid_id,
                Notification.Kind.OUTBID,
                f"'{auction.title}' 경매에서 더 높은 입찰({price:,}원)이 들어왔어요. "
                f"입찰금 {released:,}원은 지갑으로 돌아왔어요.",
                {"current_price": price, "released": released},
            )
        )
    if plan.lost_at_once:
        notes.append(
            (
                plan.outcome.rows[0].bidder_id,
                Notification.Kind.OUTBID,
                f"'{auction.title}' 경매에 더 높은 최대 입찰가가 있어 자동 입찰로 밀렸어요. "
                f"지금 가격은 {price:,}원이에요.",
                {"current_price": price, "released": 0},
            )
        )
    return notes
