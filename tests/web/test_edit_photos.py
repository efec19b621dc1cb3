"""Issue 9 #10: the edit page does no image work under the auction's lock, and a refused or
failed photo upload leaves no file behind."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError, connections, transaction
from django.urls import reverse

from auctions.models import Auction, AuctionPhoto
from auctions.services import auction_end_early
from tests.factories import make_auction, make_user
from tests.money import world
from tests.web.conftest import signed_in, upload
from tests.web.test_auction_pages import listing_data


def media_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.django_db
def test_photos_refused_on_an_ended_auction_leave_no_files():
    seller = make_user()
    auction = make_auction(seller=seller)
    auction_end_early(auction_id=auction.pk, actor=seller)
    client = signed_in(seller)
    before = world()
    response = client.post(reverse("auctions:edit", args=[auction.pk]), listing_data(photos=[upload()]))
    assert response.status_code == 400
    assert world() == before and media_files() == []


@pytest.mark.django_db
def test_photos_over_the_limit_leave_no_files():
    from auctions.services import auction_photos_add
    from neighborbid.errors import InvalidRequest

    seller = make_user()
    auction = make_auction(seller=seller)
    auction_photos_add(
        auction_id=auction.pk, actor=seller, files=[upload(f"p{i}.png", size=(40, 40)) for i in range(8)]
    )
    kept = media_files()
    assert len(kept) == 16  # image + thumbnail each
    with pytest.raises(InvalidRequest):
        auction_photos_add(
            auction_id=auction.pk, actor=seller, files=[upload(f"q{i}.png", size=(40, 40)) for i in range(3)]
        )
    assert media_files() == kept and AuctionPhoto.objects.filter(auction=auction).count() == 8


@pytest.mark.django_db
def test_a_storage_failure_halfway_deletes_the_files_already_written(monkeypatch):
    # given a disk that fails on the third file written (the second photo's image)
    from django.core.files.storage import FileSystemStorage

    real_save = FileSystemStorage._save
    writes = []

    def failing_save(self, name, content):
        writes.append(name)
        if len(writes) == 3:
            raise OSError(28, "No space left on device")
        return real_save(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", failing_save)
    seller = make_user()
    auction = make_auction(seller=seller)
    from auctions.services import auction_photos_add

    with pytest.raises(OSError, match="No space left"):
        auction_photos_add(auction_id=auction.pk, actor=seller, files=[upload("a.png"), upload("b.png")])
    assert len(writes) == 3
    assert media_files() == [] and not AuctionPhoto.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_edit_page_does_not_hold_the_auction_lock_while_images_are_processed(monkeypatch):
    """While the edit request resizes its photo, another connection (a bidder's) can lock the
    auction row at once (NOWAIT)."""
    import auctions.images

    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000)
    lockable: list[bool] = []
    real_process = auctions.images.process_upload

    def try_lock_elsewhere():
        try:
            with transaction.atomic():
                Auction.objects.select_for_update(nowait=True).get(pk=auction.pk)
            lockable.append(True)
        except OperationalError:
            lockable.append(False)
        finally:
            connections.close_all()

    def processing(upload_file):
        # while this request processes an image, a bidder's connection tries the row lock
        other = threading.Thread(target=try_lock_elsewhere)
        other.start()
        other.join(30)
        return real_process(upload_file)

    monkeypatch.setattr(auctions.images, "process_upload", processing)
    client = signed_in(seller)
    data = listing_data(title="사진 추가", start_price="12,000", photos=[upload(size=(2400, 1800))])
    response = client.post(reverse("auctions:edit", args=[auction.pk]), data)
    assert response.status_code == 302
    assert lockable == [True]
    auction.refresh_from_db()
    assert auction.title == "사진 추가" and auction.photos.count() == 1
