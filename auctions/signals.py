"""The auctions app's hooks for apps above it (they connect in their AppConfig.ready()).

auction_settled: sent once a settlement has committed, with keyword arguments auction_id and
seller_id (robust: a receiver's error is logged and never undoes or stops a settlement). The
fraud app scans the seller's bidders here (fraud.services.on_auction_settled), so auctions
imports nothing from fraud."""

from __future__ import annotations

from django.dispatch import Signal

auction_settled = Signal()
