"""The auction page, listing (with photos), edit, cancel, end early, watch and report."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from auctions.images import MAX_BYTES
from auctions.models import Auction, AuctionPhoto, Report, Watch
from auctions.selectors import leader_tag
from auctions.services import auction_hide, auction_photos_add, bid_place
from tests.factories import make_auction, make_moderator, make_user, rid
from tests.money import world
from tests.web.conftest import follow_messages, image_bytes, signed_in, upload

pytestmark = pytest.mark.django_db


def listing_data(**overrides):
    data = {
        "title": "원목 책상",
        "description": "이사 가서 팔아요.",
        "category": "furniture",
        "condition": "good",
        "start_price": "20,000",
        "buy_now_price": "50,000",
        "duration_hours": "24",
        "kind": "local",
    }
    data.update(overrides)
    return data


# --- the auction page -------------------------------------------------------------------------


def test_detail_page_carries_the_live_contract():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    bidder = make_user(balance=100_000, nickname="김민수")
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    viewer = make_user(balance=50_000)
    client = signed_in(viewer)
    page = client.get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    assert f'data-auction-id="{auction.pk}"' in page
    assert 'data-national="0"' in page and 'data-seq="1"' in page
    assert f'data-you-tag="{leader_tag(auction_id=auction.pk, user_id=viewer.pk)}"' in page
    for name in ["current_price", "min_next_bid", "bid_count", "leader", "status", "countdown", "recent_bids"]:
        assert f'data-live="{name}"' in page, name
    assert "data-ends-at=" in page and "data-server-time=" in page
    assert 'id="bid-form"' in page and 'id="buy-now-form"' in page and 'name="amount"' in page
    assert "10,000원" in page and "11,000원" in page  # current price, minimum next bid
    assert "김*수" in page and "김민수" not in page  # masked bidder
    assert "0.0km" not in page and "같은 동네" in page  # distance shown for local auctions
    # a fresh request id per render
    ids = re.findall(r'name="request_id" value="([^"]+)"', page)
    again = re.findall(r'name="request_id" value="([^"]+)"', client.get(f"/auctions/{auction.pk}/").content.decode())
    assert ids and again and set(ids).isdisjoint(again)


def test_national_page_includes_the_live_partial_and_local_does_not(settings, tmp_path):
    national = make_auction(is_national=True)
    local = make_auction()
    page = Client().get(reverse("auctions:detail", args=[national.pk])).content.decode()
    assert 'data-national="1"' in page
    assert 'data-you-tag=""' in page  # anonymous
    assert "로그인하고 입찰하기" in page
    assert Client().get(reverse("auctions:detail", args=[local.pk])).status_code == 200


def test_missing_and_hidden_auctions_are_404():
    assert Client().get("/auctions/987654/").status_code == 404
    auction = make_auction()
    staff = make_moderator()
    auction_hide(auction_id=auction.pk, staff_user=staff, reason="금지 물품")
    response = signed_in(make_user()).get(reverse("auctions:detail", args=[auction.pk]))
    assert response.status_code == 404
    assert "페이지를 찾을 수 없어요" in response.content.decode()
    assert signed_in(staff).get(reverse("auctions:detail", args=[auction.pk])).status_code == 200


def test_unverified_user_is_told_to_verify_on_local_page():
    auction = make_auction()
    page = signed_in(make_user(verified=False)).get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    assert "동네 인증을 마친 이웃만" in page


def test_ended_auction_shows_result_and_no_forms():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    buyer = make_user(balance=100_000)
    client = signed_in(buyer)
    client.post(reverse("auctions:buy_now", args=[auction.pk]), {"request_id": rid(), "confirmed": "1"})
    page = client.get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    assert "30,000원에 낙찰됐어요." in page and 'id="bid-form"' not in page


# --- listing --------------------------------------------------------------------------------


def test_new_auction_page_needs_login():
    response = Client().get(reverse("auctions:create"))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_create_local_auction_with_photos():
    seller = make_user()
    client = signed_in(seller)
    assert client.get(reverse("auctions:create")).status_code == 200
    data = listing_data(photos=[upload("a.png", size=(2400, 1800)), upload("b.jpg", fmt="JPEG")])
    response = client.post(reverse("auctions:create"), data)
    assert response.status_code == 302
    auction = Auction.objects.get(title="원목 책상")
    assert response.url == reverse("auctions:detail", args=[auction.pk])
    assert (auction.start_price, auction.buy_now_price, auction.is_national) == (20_000, 50_000, False)
    assert auction.neighbourhood_id == seller.neighbourhood_id
    assert auction.ends_at - auction.starts_at == timedelta(hours=24)
    photos = list(auction.photos.all())
    assert [p.position for p in photos] == [0, 1]
    from PIL import Image

    with Image.open(photos[0].image.path) as img:
        assert max(img.size) == 1280 and img.format == "JPEG"
    with Image.open(photos[0].thumbnail.path) as img:
        assert img.size == (400, 400)
    page = client.get(response.url)
    assert photos[0].image.url in page.content.decode()
    assert any("경매를 올렸어요" in str(m) for m in page.context["messages"])


def test_create_national_auction_without_photos_and_without_verification():
    seller = make_user(verified=False)
    response = signed_in(seller).post(reverse("auctions:create"), listing_data(kind="national", buy_now_price=""))
    assert response.status_code == 302
    auction = Auction.objects.get(seller=seller)
    assert auction.is_national and auction.buy_now_price is None


def test_unverified_seller_cannot_list_locally():
    seller = make_user(verified=False)
    response = signed_in(seller).post(reverse("auctions:create"), listing_data())
    assert response.status_code == 400
    assert "동네 인증" in response.content.decode()
    assert not Auction.objects.filter(seller=seller).exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"start_price": "-5000"},
        {"start_price": "0"},
        {"start_price": "12.5"},
        {"start_price": "1e5"},
        {"start_price": "NaN"},
        {"start_price": "십만원"},  # Hangul numerals (only digits with 억/만/천/백 units: "10만")
        {"start_price": ""},
        {"start_price": "99999999999999999999"},
        {"start_price": "٢٠٠٠٠"},
        {"start_price": "۲۰۰۰۰"},
        {"start_price": "２０,０００원"},
        {"start_price": "२००००"},
        {"buy_now_price": "٥٠٠٠٠"},
        {"buy_now_price": "５０,０００"},
        {"start_price": "50"},  # below the minimum start price
        {"buy_now_price": "10,000"},  # below the start price
        {"buy_now_price": "abc"},
        {"duration_hours": "0"},
        {"duration_hours": "200"},
        {"duration_hours": "abc"},
        {"title": ""},
        {"title": "x" * 101},
        {"category": "weapons"},
        {"condition": "broken"},
        {"kind": "galactic"},
    ],
)
def test_create_refuses_bad_input_and_creates_nothing(overrides):
    seller = make_user()
    response = signed_in(seller).post(reverse("auctions:create"), listing_data(**overrides))
    assert response.status_code == 400
    assert "입력한 내용을 확인해 주세요." in response.content.decode()
    assert not Auction.objects.filter(seller=seller).exists()


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        (lambda: upload("notes.png", content=b"this is not an image at all"), "사진 파일이 아니거나"),
        (lambda: upload("script.jpg", content=b"<script>alert(1)</script>"), "사진 파일이 아니거나"),
        (lambda: upload("big.png", content=b"\x89PNG" + b"0" * (MAX_BYTES + 1)), "너무 커요"),
        (lambda: upload("anim.gif", content=image_bytes("GIF")), "지원하지 않는 형식"),
        (lambda: upload("empty.png", content=b""), "빈 파일"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_created(photo, message):
    seller = make_user()
    response = signed_in(seller).post(reverse("auctions:create"), listing_data(photos=[photo()]))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Auction.objects.filter(seller=seller).exists()
    assert AuctionPhoto.objects.count() == 0


def test_more_than_ten_photos_are_refused():
    seller = make_user()
    files = [upload(f"p{i}.png", size=(40, 40)) for i in range(11)]
    response = signed_in(seller).post(reverse("auctions:create"), listing_data(photos=files))
    assert response.status_code == 400
    assert "최대 10장" in response.content.decode()
    assert not Auction.objects.filter(seller=seller).exists()


def test_photo_service_caps_the_total_per_auction():
    from neighborbid.errors import InvalidRequest, PermissionDenied

    seller = make_user()
    auction = make_auction(seller=seller)
    auction_photos_add(auction_id=auction.pk, actor=seller, files=[upload(size=(40, 40)) for _ in range(8)])
    with pytest.raises(InvalidRequest):
        auction_photos_add(auction_id=auction.pk, actor=seller, files=[upload(size=(40, 40)) for _ in range(3)])
    with pytest.raises(PermissionDenied):
        auction_photos_add(auction_id=auction.pk, actor=make_user(), files=[upload(size=(40, 40))])
    assert auction.photos.count() == 8


def test_create_is_csrf_protected():
    seller = make_user()
    response = signed_in(seller, csrf=True).post(reverse("auctions:create"), listing_data())
    assert response.status_code == 403
    assert not Auction.objects.filter(seller=seller).exists()


# --- edit, cancel, end early ------------------------------------------------------------------


def test_seller_edits_listing_and_adds_a_photo():
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000)
    client = signed_in(seller)
    assert client.get(reverse("auctions:edit", args=[auction.pk])).status_code == 200
    data = listing_data(title="고친 제목", start_price="15,000", buy_now_price="", photos=[upload()])
    response = client.post(reverse("auctions:edit", args=[auction.pk]), data)
    assert response.status_code == 302
    auction.refresh_from_db()
    assert (auction.title, auction.start_price, auction.current_price, auction.buy_now_price) == (
        "고친 제목",
        15_000,
        15_000,
        None,
    )
    assert auction.photos.count() == 1


@pytest.mark.parametrize("price", ["١٥٠٠٠", "۱۵۰۰۰", "１５,０００", "१५०००"])
def test_edit_refuses_non_ascii_digits_and_changes_nothing(price):
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000)
    before = world()
    response = signed_in(seller).post(
        reverse("auctions:edit", args=[auction.pk]), listing_data(title="고친 제목", start_price=price)
    )
    assert response.status_code == 400
    auction.refresh_from_db()
    assert auction.start_price == 10_000 and auction.title != "고친 제목"
    assert world() == before


def test_someone_elses_auction_cannot_be_edited_cancelled_or_ended():
    auction = make_auction(title="남의 물건")
    intruder = signed_in(make_user())
    before = world()
    response = intruder.get(reverse("auctions:edit", args=[auction.pk]))
    assert response.status_code == 403 and "권한이 없어요" in response.content.decode()
    assert intruder.post(reverse("auctions:edit", args=[auction.pk]), listing_data()).status_code == 403
    assert intruder.post(reverse("auctions:cancel", args=[auction.pk])).status_code == 403
    assert intruder.post(reverse("auctions:end_early", args=[auction.pk])).status_code == 403
    assert world() == before
    auction.refresh_from_db()
    assert auction.title == "남의 물건"


def test_edit_and_cancel_refused_once_there_are_bids():
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000)
    bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())
    client = signed_in(seller)
    before = world()
    response = client.post(reverse("auctions:edit", args=[auction.pk]), listing_data(title="바꿈"))
    assert response.status_code == 400 and "입찰이 있는 경매는" in response.content.decode()
    response = client.post(reverse("auctions:cancel", args=[auction.pk]))
    assert any("입찰이 있는 경매는" in m for m in follow_messages(client, response))
    assert world() == before


def test_seller_cancels_and_ends_early_without_bids():
    seller = make_user()
    first = make_auction(seller=seller)
    second = make_auction(seller=seller)
    client = signed_in(seller)
    response = client.post(reverse("auctions:cancel", args=[first.pk]))
    assert "경매를 취소했어요." in follow_messages(client, response)
    client.post(reverse("auctions:end_early", args=[second.pk]))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Auction.Status.CANCELLED and second.status == Auction.Status.UNSOLD
    # cancelling again: a message, not an error page
    response = client.post(reverse("auctions:cancel", args=[first.pk]))
    assert "이미 종료된 경매예요." in follow_messages(client, response)


def test_cancel_needs_post_and_login():
    auction = make_auction()
    assert Client().post(reverse("auctions:cancel", args=[auction.pk])).status_code == 302
    assert signed_in(auction.seller).get(reverse("auctions:cancel", args=[auction.pk])).status_code == 405
    auction.refresh_from_db()
    assert auction.status == Auction.Status.OPEN


# --- watch and report ------------------------------------------------------------------------


def test_watch_toggle_and_watchlist():
    auction = make_auction(title="찜할 물건")
    user = make_user()
    client = signed_in(user)
    response = client.post(reverse("auctions:watch", args=[auction.pk]))
    assert "관심 목록에 담았어요." in follow_messages(client, response)
    assert Watch.objects.filter(user=user, auction=auction).exists()
    page = client.get(reverse("auctions:my"), {"tab": "watching"}).content.decode()
    assert "찜할 물건" in page
    assert 'aria-pressed="true"' in client.get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    client.post(reverse("auctions:watch", args=[auction.pk]))
    assert not Watch.objects.filter(user=user).exists()
    assert client.post(reverse("auctions:watch", args=[424242])).status_code == 302  # message, no 500
    assert signed_in(user, csrf=True).post(reverse("auctions:watch", args=[auction.pk])).status_code == 403
    assert not Watch.objects.filter(user=user).exists()


def test_report_from_the_auction_page():
    auction = make_auction()
    reporter = make_user()
    client = signed_in(reporter)
    response = client.post(reverse("auctions:report", args=[auction.pk]), {"reason": "fraud", "text": "입금 유도"})
    assert "신고가 접수됐어요. 운영자가 확인할게요." in follow_messages(client, response)
    report = Report.objects.get()
    assert (report.reporter, report.auction, report.reason) == (reporter, auction, "fraud")
    response = client.post(reverse("auctions:report", args=[auction.pk]), {"reason": "nonsense"})
    assert follow_messages(client, response)
    assert Report.objects.count() == 1
    assert client.post(reverse("auctions:report", args=[999999]), {"reason": "fraud"}).status_code == 404


def test_stored_photos_drop_exif_such_as_gps_and_follow_orientation():
    import io

    from PIL import Image

    img = Image.new("RGB", (600, 300), (10, 120, 200))  # landscape pixels...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...shown rotated 90° (portrait), as phones do
    exif[0x8825] = {1: "N", 2: (37.0, 33.0, 0.0)}  # GPS: where the seller lives
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", exif=exif)
    seller = make_user()
    auction = make_auction(seller=seller)
    (photo,) = auction_photos_add(
        auction_id=auction.pk, actor=seller, files=[upload("phone.jpg", fmt="JPEG", content=buffer.getvalue())]
    )
    with Image.open(photo.image.path) as stored:
        assert stored.size == (300, 600)
        assert not stored.getexif()
