"""Nightly: scan every (seller, bidder) pair of the last 180 days for shill-bidding signals."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from fraud.services import shill_scan


class Command(BaseCommand):
    help = "부정 입찰(자전거래) 신호를 모든 판매자-입찰자 쌍에 대해 다시 계산해요 (매일 밤 한 번)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = shill_scan()
        self.stdout.write(f"쌍 {result.pairs}개를 살폈어요: 새 탐지 {result.opened}건, 갱신 {result.updated}건.")
