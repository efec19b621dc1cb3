"""Auction services: every rule about auctions and bids, enforced under the row lock.

One module per capability (docs/architecture.md has the map):

- `listing`     create, edit and illustrate a listing (the seller)
- `bidding`     bid and buy-now: the only ways money enters escrow for an auction
- `bid_batch`   a line of bids on one auction decided together, written in one round trip
- `lifecycle`   open, settle, cancel, end early, warn watchers, refresh sort keys (the worker, the seller)
- `moderation`  hide listings, hide a suspended seller's listings (moderators)
- `engagement`  watch, reading notifications, reports (notifications.services writes them)
- `_base`       shared guards and the one plain-SQL write of a locked auction (private)

Each write is one `transaction.atomic()`: lock the auction (auctions.locks), then the wallets
in primary-key order (wallets.locks), check, move money through the wallet services, write
bids and notifications, bump the auction's `seq`, and register the events for after commit.
A raised DomainError always means nothing was written. Callers keep `from auctions import
services` / `from auctions.services import bid_place`.
"""

from auctions.services._base import check_local_eligibility
from auctions.services.bid_batch import BidAsk, bid_place_many
from auctions.services.bidding import BidResult, bid_place
from auctions.services.buy_now import PurchaseResult, auction_buy_now
from auctions.services.engagement import (
    notification_mark_read,
    report_create,
    report_resolve,
    watch_set,
    watch_toggle,
)
from auctions.services.lifecycle import (
    auction_cancel,
    auction_end_early,
    auction_notify_ending_soon,
    auction_open,
    auction_settle,
    auction_sort_keys_refresh,
)
from auctions.services.listing import (
    EDITABLE_FIELDS,
    MAX_DURATION,
    MIN_DURATION,
    MIN_START_PRICE,
    auction_create,
    auction_photos_add,
    auction_update,
)
from auctions.services.moderation import auction_hide, seller_listings_hide

__all__ = [
    "EDITABLE_FIELDS",
    "MAX_DURATION",
    "MIN_DURATION",
    "MIN_START_PRICE",
    "BidAsk",
    "BidResult",
    "PurchaseResult",
    "auction_buy_now",
    "auction_cancel",
    "auction_create",
    "auction_end_early",
    "auction_hide",
    "auction_notify_ending_soon",
    "auction_open",
    "auction_photos_add",
    "auction_settle",
    "auction_sort_keys_refresh",
    "auction_update",
    "bid_place",
    "bid_place_many",
    "check_local_eligibility",
    "notification_mark_read",
    "report_create",
    "report_resolve",
    "seller_listings_hide",
    "watch_set",
    "watch_toggle",
]
