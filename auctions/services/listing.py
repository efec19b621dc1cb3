"""Listing: a seller creates, edits and illustrates an auction."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_user
from auctions.locks import auction_lock
from auctions.models import Auction, AuctionPhoto
from auctions.services._base import Status, auction_write, check_amount, check_local_eligibility, publish_state
from neighborbid.errors import AuctionNotOpen, HasBids, InvalidAmount, InvalidRequest, NotEligible, PermissionDenied

logger = logging.getLogger("neighborbid.money")

MIN_START_PRICE = 100
MIN_DURATION = timedelta(hours=1)
MAX_DURATION = timedelta(days=7)


def auction_create(
    *,
    actor: User,
    title: str,
    description: str = "",
    category: str = Auction.Category.OTHER,
    condition: str = Auction.Condition.GOOD,
    start_price: int,
    buy_now_price: int | None = None,
    duration: timedelta,
    is_national: bool = False,
    starts_at: datetime | None = None,
    soft_close_window_s: int = 60,
    soft_close_extension_s: int = 60,
    soft_close_cap_s: int = 30 * 60,
    min_manner_temperature: Decimal | None = None,
) -> Auction:
    user = access_user(actor)
    title = (title or "").strip()
    if not title or len(title) > 100:
        raise InvalidRequest("제목은 1~100자로 입력해 주세요.")
    if len(description or "") > 5000:
        raise InvalidRequest("설명은 5,000자 이하로 입력해 주세요.")
    if category not in Auction.Category.values or condition not in Auction.Condition.values:
        raise InvalidRequest("카테고리와 상품 상태를 골라 주세요.")
    check_amount(start_price)
    if start_price < MIN_START_PRICE:
        raise InvalidAmount(f"시작가는 {MIN_START_PRICE:,}원 이상이어야 해요.")
    if buy_now_price is not None:
        check_amount(buy_now_price)
        if buy_now_price <= start_price:
            raise InvalidAmount("즉시구매가는 시작가보다 높아야 해요.")
    if not isinstance(duration, timedelta) or not (MIN_DURATION <= duration <= MAX_DURATION):
        raise InvalidRequest("경매 기간은 1시간에서 7일 사이로 정해 주세요.")
    if min(soft_close_window_s, soft_close_extension_s, soft_close_cap_s) < 0:
        raise InvalidRequest("마감 연장 설정이 올바르지 않아요.")
    if min_manner_temperature is not None:
        if is_national:
            raise InvalidRequest("최소 매너온도는 동네 경매에만 정할 수 있어요.")
        if (
            not isinstance(min_manner_temperature, Decimal)
            or not min_manner_temperature.is_finite()
            or not (0 <= min_manner_temperature <= 99)
        ):
            raise InvalidRequest("최소 매너온도는 0~99°C 사이로 정해 주세요.")
        min_manner_temperature = min_manner_temperature.quantize(Decimal("0.1"))
    if not is_national:
        if user.neighbourhood_id is None:
            raise NotEligible("동네를 먼저 설정해 주세요.")
        check_local_eligibility(user=user, neighbourhood_id=user.neighbourhood_id)
    now = timezone.now()
    starts_at = starts_at or now
    if starts_at < now - timedelta(minutes=1):
        raise InvalidRequest("시작 시각은 지금 이후여야 해요.")
    ends_at = starts_at + duration
    auction = Auction.objects.create(
        seller=user,
        title=title,
        description=description or "",
        category=category,
        condition=condition,
        start_price=start_price,
        current_price=start_price,
        sort_price=start_price,
        buy_now_price=buy_now_price,
        starts_at=starts_at,
        ends_at=ends_at,
        original_ends_at=ends_at,
        status=Status.OPEN if starts_at <= now else Status.SCHEDULED,
        is_national=is_national,
        neighbourhood_id=user.neighbourhood_id,
        soft_close_window_s=soft_close_window_s,
        soft_close_extension_s=soft_close_extension_s,
        soft_close_cap_s=soft_close_cap_s,
        min_manner_temperature=min_manner_temperature,
    )
    logger.info("auction created id=%s seller=%s national=%s", auction.pk, user.pk, is_national)
    return auction


EDITABLE_FIELDS = ("title", "description", "category", "condition", "start_price", "buy_now_price")


def auction_update(*, auction_id: int, actor: User, **changes: object) -> Auction:
    """The seller edits a listing while nobody has bid on it."""
    user = access_user(actor)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidRequest(f"수정할 수 없는 항목이에요: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id)
        if auction.seller_id != user.pk:
            raise PermissionDenied("내 경매만 수정할 수 있어요.")
        if auction.is_ended:
            raise AuctionNotOpen("이미 종료된 경매예요.")
        if auction.bid_count > 0:
            raise HasBids()
        # Untrusted values, each checked below before it is written.
        merged: dict[str, Any] = {field: changes.get(field, getattr(auction, field)) for field in EDITABLE_FIELDS}
        title = (merged["title"] or "").strip()
        if not title or len(title) > 100:
            raise InvalidRequest("제목은 1~100자로 입력해 주세요.")
        if merged["category"] not in Auction.Category.values or merged["condition"] not in Auction.Condition.values:
            raise InvalidRequest("카테고리와 상품 상태를 골라 주세요.")
        check_amount(merged["start_price"])
        if merged["start_price"] < MIN_START_PRICE:
            raise InvalidAmount(f"시작가는 {MIN_START_PRICE:,}원 이상이어야 해요.")
        if merged["buy_now_price"] is not None:
            check_amount(merged["buy_now_price"])
            if merged["buy_now_price"] <= merged["start_price"]:
                raise InvalidAmount("즉시구매가는 시작가보다 높아야 해요.")
        for field, value in merged.items():
            setattr(auction, field, value)
        auction.title = title
        auction.current_price = auction.start_price
        auction_write(auction, *EDITABLE_FIELDS, "current_price")
        publish_state(auction)
    return auction


def auction_photos_add(*, auction_id: int, actor: User, files: Iterable[File[bytes]] | None) -> list[AuctionPhoto]:
    """The seller adds photos (at most auctions.images.MAX_PHOTOS per listing) while the
    auction has not ended. Every file is checked, processed (resized, thumbnailed) and written
    to storage before the auction's lock is taken (nothing slow under the lock); one bad file
    refuses them all, and a refusal or failure deletes every file this call wrote, so a
    refused upload leaves nothing on disk. Callers must not roll back after it returns."""
    from auctions.images import MAX_PHOTOS, process_upload

    user = access_user(actor)
    files = list(files or [])
    if not files:
        return []
    if len(files) > MAX_PHOTOS:
        raise InvalidRequest(f"사진은 최대 {MAX_PHOTOS}장까지 올릴 수 있어요.")
    processed = [process_upload(f) for f in files]
    photos: list[AuctionPhoto] = []
    try:
        for item in processed:  # file writes: outside the transaction and the lock
            photo = AuctionPhoto(auction_id=auction_id)
            photo.image.save(item.image.name, item.image, save=False)
            photos.append(photo)
            photo.thumbnail.save(item.thumbnail.name, item.thumbnail, save=False)
        with transaction.atomic():
            auction = auction_lock(auction_id=auction_id)
            if auction.seller_id != user.pk:
                raise PermissionDenied("내 경매에만 사진을 올릴 수 있어요.")
            if auction.is_ended or auction.is_hidden:
                raise AuctionNotOpen("이미 종료된 경매예요.")
            existing = AuctionPhoto.objects.filter(auction=auction).count()
            if existing + len(processed) > MAX_PHOTOS:
                raise InvalidRequest(f"사진은 경매당 최대 {MAX_PHOTOS}장이에요. (지금 {existing}장)")
            for offset, photo in enumerate(photos):
                photo.position = existing + offset
            AuctionPhoto.objects.bulk_create(photos)
    except BaseException:
        _photo_files_delete(photos)
        raise
    logger.info("auction photos added id=%s count=%s", auction_id, len(photos))
    return photos


def _photo_files_delete(photos: list[AuctionPhoto]) -> None:
    for photo in photos:
        for field in (photo.image, photo.thumbnail):
            if field.name:
                try:
                    field.storage.delete(field.name)
                except OSError as exc:  # best effort: the refusal itself must still reach the caller
                    logger.warning("photo file not deleted name=%s error=%s", field.name, exc)
