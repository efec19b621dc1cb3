"""The verifiable bid log (issue 24): every public event of an auction is a leaf of a hash chain
that anyone can recompute (the verify page in the browser, `python -m neighborbid.verify`).

A leaf is canonical JSON (UTF-8, sorted keys, no spaces) of
    {"auction": id, "seq": n, "kind": "bid" | "auto" | "buy_now" | "settled" | "cancelled",
     "amount": won, "at": microseconds since the Unix epoch (UTC), "bidder": pseudonym or null,
     "prev": the previous leaf's hash ("" for the first)}
and its hash is the SHA-256 of those bytes, in hex. The auction row keeps the last leaf's number
and hash (`log_seq`, `log_head`). A bidder's pseudonym is HMAC-SHA256(the auction's `log_salt`,
their user id) cut to 16 hex digits: the same person is the same pseudonym within one auction,
and nobody can link them across auctions while the salt is secret; the salt is shown once the
auction has ended, so anyone can check that a pseudonym is theirs.

A raise of one's own maximum is not public (it never moves the price): it is no leaf. Leaves are
computed from the plan of an accepted write (so each is written in the same statement as the
write, under the same compare-and-set or lock) and are append-only in the database.

This module is pure (no database): auctions.services write the leaves it computes, and
neighborbid/verify.py repeats `leaf_hash` and the chain rule with the standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol


class LogAuction(Protocol):
    pk: Any
    log_seq: int
    log_head: str
    log_salt: str


@dataclass(frozen=True)
class Leaf:
    seq: int
    kind: str
    body: str
    hash: str

    def receipt(self) -> dict[str, Any]:
        """What a bidder keeps to check later that their bid is in the log."""
        return {"seq": self.seq, "hash": self.hash}


def pseudonym(salt: str, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return hmac.new(salt.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()[:16]


def micros(at: datetime) -> int:
    """Microseconds since the Unix epoch, UTC (exact: no float)."""
    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def leaf_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def log_append(auction: LogAuction, events: list[tuple[str, int, int | None]], *, at: datetime) -> list[Leaf]:
    """Leaves for `events` (kind, amount, user id) after the auction's current head; moves the
    auction's `log_seq` and `log_head` (in memory: the caller writes them with the leaves)."""
    leaves = []
    for kind, amount, user_id in events:
        seq = auction.log_seq + 1
        body = canonical(
            {
                "auction": auction.pk,
                "seq": seq,
                "kind": kind,
                "amount": amount,
                "at": micros(at),
                "bidder": pseudonym(auction.log_salt, user_id),
                "prev": auction.log_head,
            }
        )
        leaf = Leaf(seq, kind, body, leaf_hash(body))
        leaves.append(leaf)
        auction.log_seq, auction.log_head = seq, leaf.hash
    return leaves


def chain_problem(leaves: list[tuple[int, str, str]], *, auction_id: int, head: str) -> tuple[int, str] | None:
    """(seq, what is wrong) for the first leaf that breaks the chain, or None when every leaf
    hashes to its stored hash, names the one before it, is numbered in order and the last is
    the head. `leaves`: (seq, body, hash), in seq order. The same rule as neighborbid/verify.py."""
    prev = ""
    for expected, (seq, body, stored) in enumerate(leaves, start=1):
        if seq != expected:
            return seq, "번호가 이어지지 않아요"
        if leaf_hash(body) != stored:
            return seq, "내용이 해시와 맞지 않아요"
        data = json.loads(body)
        if data.get("prev") != prev or data.get("seq") != seq or data.get("auction") != auction_id:
            return seq, "앞 기록과 이어지지 않아요"
        prev = stored
    if prev != head:
        return len(leaves), "마지막 기록이 경매의 해시와 달라요"
    return None
