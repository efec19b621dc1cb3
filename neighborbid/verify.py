"""Check an auction's bid log yourself: `python -m neighborbid.verify auction.json`.

Standard library only, so anyone can read and run it without NeighborBid installed. Download the
JSON from /auctions/<id>/verify.json (the verify page links it). The file holds the auction's
id, its head (the last leaf's hash) and every leaf as {seq, body, hash}. For each leaf this
checks that SHA-256 of its body is its hash, that the body names the previous leaf's hash as
`prev`, the auction's id and its own number, and that the last hash is the head. With
`--receipt SEQ:HASH` (repeatable) it also checks that each receipt a bid's answer gave you is
in the log. With `--me USER_ID` after the auction ended (the salt is then published) it lists
the leaves that are yours (their `bidder` is HMAC-SHA256(salt, your id), first 16 hex digits).

Exit code 0: every check passed; 1: the first failure is printed with its seq; 2: bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys


def problem(data: dict) -> tuple[int, str] | None:
    """(seq, what) of the first leaf that breaks the chain, or None."""
    prev = ""
    for expected, leaf in enumerate(data["leaves"], start=1):
        seq, body, stored = leaf["seq"], leaf["body"], leaf["hash"]
        if seq != expected:
            return seq, "the numbers do not follow each other"
        if hashlib.sha256(body.encode("utf-8")).hexdigest() != stored:
            return seq, "the body does not hash to the stored hash (changed after the fact)"
        try:
            fields = json.loads(body)
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            return seq, "the body is not a leaf (a JSON object)"
        if fields.get("prev") != prev or fields.get("seq") != seq or fields.get("auction") != data["auction"]:
            return seq, "the leaf does not follow the one before it"
        prev = stored
    if prev != data["head"]:
        return len(data["leaves"]), "the last leaf is not the auction's head"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="the auction's verify.json")
    parser.add_argument("--receipt", action="append", default=[], help="SEQ:HASH from a bid's answer")
    parser.add_argument("--me", type=int, help="your user id (after the auction ended)")
    args = parser.parse_args(argv)
    try:
        with open(args.file, encoding="utf-8") as handle:
            data = json.load(handle)
        leaves = {leaf["seq"]: leaf["hash"] for leaf in data["leaves"]}
        data["auction"], data["head"]  # noqa: B018 (present, or bad input)
        found = problem(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"cannot read {args.file}: not an auction's verify.json ({exc!r})", file=sys.stderr)
        return 2
    if found is not None:
        print(f"FAILED at seq {found[0]}: {found[1]}")
        return 1
    for receipt in args.receipt:
        seq, _, digest = receipt.partition(":")
        if not seq.isdigit() or leaves.get(int(seq)) != digest:
            print(f"FAILED: receipt {receipt} is not in the log")
            return 1
    print(f"OK: auction {data['auction']}, {len(leaves)} leaves, head {data['head'] or '(empty)'}")
    if args.receipt:
        print(f"OK: {len(args.receipt)} receipt(s) found in the log")
    if args.me is not None:
        if not data.get("salt"):
            print("the salt is published when the auction ends: --me works after that", file=sys.stderr)
            return 2
        mine = hmac.new(data["salt"].encode(), str(args.me).encode(), hashlib.sha256).hexdigest()[:16]
        seqs = [leaf["seq"] for leaf in data["leaves"] if json.loads(leaf["body"]).get("bidder") == mine]
        print(f"yours (pseudonym {mine}): {seqs or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
