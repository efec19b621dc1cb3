"""Moderation through the admin pages, as a staff user who is not a superuser (moderators group)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import User
from accounts.roles import MODERATOR_PERMISSIONS, MODERATORS
from accounts.services import user_create
from auctions.models import Auction, Report
from auctions.services import bid_place, report_create
from notifications.models import Notification
from tests.factories import make_auction, make_user, rid
from tests.money import assert_books_balance, wallet_of, world
from wallets.models import LedgerEntry, Wallet

pytestmark = pytest.mark.django_db


def changelist(model: str) -> str:
    return reverse(f"admin:{model}_changelist")


def run_action(client, model: str, action: str, ids: list[int], **form):
    """Select objects on the change list and run the action; with form data, submit the
    intermediate page too (as the moderator's browser would)."""
    url = changelist(model)
    data = {"action": action, "_selected_action": [str(i) for i in ids]}
    first = client.post(url, data)
    if not form:
        return first
    assert first.status_code == 200, first.status_code
    assert b'name="apply"' in first.content
    return client.post(url, {**data, "apply": "yes", **form})


@pytest.fixture
def contested_auction():
    """A live auction with an outbid bidder and a leader."""
    seller = make_user()
    first, leader = make_user(balance=100_000), make_user(balance=100_000)
    auction = make_auction(seller=seller, start_price=10_000)
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=leader, amount=12_000, request_id=rid())
    assert wallet_of(leader) == (88_000, 12_000) and wallet_of(first) == (100_000, 0)
    return auction, seller, first, leader


def test_moderators_group_has_only_the_moderation_permissions(moderator):
    group = Group.objects.get(name=MODERATORS)
    granted = {(p.content_type.app_label, p.codename) for p in group.permissions.select_related("content_type")}
    assert granted == {(app, codename) for app, _, codename in MODERATOR_PERMISSIONS}
    assert not any(codename.startswith(("add_", "delete_")) for _, codename in granted)
    assert {codename for _, codename in granted if codename.startswith("change_")} == {
        "change_report",
        "change_chatreport",
        "change_shillcase",
    }
    assert moderator.has_perm("auctions.moderate_auction") and not moderator.has_perm("auth.change_group")


def test_moderator_cannot_reach_anything_else(mod_client, moderator):
    assert mod_client.get(reverse("admin:index")).status_code == 200
    assert mod_client.get(reverse("admin:auth_group_changelist")).status_code == 403
    other = make_user()
    change = reverse("admin:accounts_user_change", args=[other.pk])
    assert mod_client.get(change).status_code == 200  # view only
    response = mod_client.post(change, {"username": other.username, "is_staff": "on", "is_superuser": "on"})
    assert response.status_code == 403
    other.refresh_from_db()
    assert not other.is_staff and not other.is_superuser
    assert mod_client.get(reverse("admin:accounts_user_add")).status_code == 403


def test_staff_without_group_sees_no_moderation(client):
    staff = make_user(is_staff=True)
    client.force_login(staff)
    assert client.get(changelist("auctions_auction")).status_code == 403
    assert client.get(changelist("wallets_wallet")).status_code == 403


def test_auction_list_shows_the_moderation_columns(mod_client, contested_auction):
    auction, seller, _, _ = contested_auction
    response = mod_client.get(changelist("auctions_auction"), {"q": auction.title})
    assert response.status_code == 200
    body = response.content.decode()
    for text in (auction.title, "12,000원", "동네", str(seller)):
        assert text in body
    detail = mod_client.get(reverse("admin:auctions_auction_change", args=[auction.pk])).content.decode()
    assert "입찰 기록" in detail and "12,000원" in detail and "10,000원" in detail
    assert 'name="current_price"' not in detail and 'name="status"' not in detail
    assert (
        mod_client.get(changelist("auctions_auction"), {"status__exact": "open", "is_national__exact": "0"}).status_code
        == 200
    )


def test_cancel_through_the_admin_refunds_everyone_and_the_books_balance(mod_client, moderator, contested_auction):
    auction, seller, first, leader = contested_auction
    response = run_action(mod_client, "auctions_auction", "cancel_auctions", [auction.pk], reason="위조품 의심")
    assert response.status_code == 302
    auction.refresh_from_db()
    assert auction.status == Auction.Status.CANCELLED and auction.end_reason == Auction.EndReason.CANCELLED
    assert wallet_of(leader) == (100_000, 0) and wallet_of(first) == (100_000, 0)
    notes = Notification.objects.filter(auction=auction, kind=Notification.Kind.CANCELLED)
    # the leader (money released), the outbid bidder and the seller (with the reason) are told
    assert set(notes.values_list("user_id", flat=True)) == {leader.pk, first.pk, seller.pk}
    assert "위조품 의심" in notes.get(user=seller).message
    assert_books_balance()
    history = LogEntry.objects.get(object_id=str(auction.pk), content_type__model="auction")
    assert history.user_id == moderator.pk and "위조품 의심" in history.change_message


def test_cancel_needs_a_reason_and_changes_nothing_without_it(mod_client, contested_auction):
    auction, *_ = contested_auction
    before = world()
    response = run_action(mod_client, "auctions_auction", "cancel_auctions", [auction.pk], reason="   ")
    assert response.status_code == 200 and "사유" in response.content.decode()
    assert world() == before


def test_hide_through_the_admin(mod_client, contested_auction):
    auction, _, _, leader = contested_auction
    response = run_action(mod_client, "auctions_auction", "hide_auctions", [auction.pk], reason="판매 금지 물품")
    assert response.status_code == 302
    auction.refresh_from_db()
    assert auction.is_hidden and auction.hidden_reason == "판매 금지 물품"
    assert auction.status == Auction.Status.CANCELLED
    assert wallet_of(leader) == (100_000, 0)
    assert_books_balance()


def test_suspend_through_the_admin_hides_and_refunds_their_listings(mod_client, contested_auction):
    auction, seller, _, leader = contested_auction
    response = run_action(mod_client, "accounts_user", "suspend_users", [seller.pk], reason="사기 신고 다수")
    assert response.status_code == 302
    seller.refresh_from_db()
    auction.refresh_from_db()
    assert seller.is_suspended and seller.suspended_reason == "사기 신고 다수" and seller.suspended_at
    assert auction.is_hidden and auction.status == Auction.Status.CANCELLED
    assert wallet_of(leader) == (100_000, 0)
    assert_books_balance()
    # and back
    assert run_action(mod_client, "accounts_user", "unsuspend_users", [seller.pk]).status_code == 302
    seller.refresh_from_db()
    assert not seller.is_suspended


def test_a_moderator_cannot_suspend_staff_or_themselves(mod_client, moderator):
    other_staff = make_user(is_staff=True)
    run_action(mod_client, "accounts_user", "suspend_users", [other_staff.pk, moderator.pk], reason="x")
    assert not User.objects.filter(pk__in=[other_staff.pk, moderator.pk], is_suspended=True).exists()


def test_manual_correction_writes_a_ledger_entry_naming_the_staff_user(mod_client, moderator):
    user = make_user(balance=5_000)
    wallet = Wallet.objects.get(user=user)
    response = run_action(
        mod_client, "wallets_wallet", "manual_correction", [wallet.pk], amount="2500", reason="이중 결제 환불"
    )
    assert response.status_code == 302
    entry = LedgerEntry.objects.filter(wallet=wallet).order_by("-id").first()
    assert (entry.kind, entry.balance_delta, entry.staff_user_id, entry.memo) == (
        LedgerEntry.Kind.ADJUSTMENT,
        2_500,
        moderator.pk,
        "이중 결제 환불",
    )
    assert wallet_of(user) == (7_500, 0)
    assert_books_balance()
    run_action(mod_client, "wallets_wallet", "manual_correction", [wallet.pk], amount="-7500", reason="되돌림")
    assert wallet_of(user) == (0, 0)
    assert_books_balance()


@pytest.mark.parametrize(
    "form",
    [
        {"amount": "1000", "reason": ""},
        {"amount": "0", "reason": "사유"},
        {"amount": "1.5", "reason": "사유"},
        {"amount": "NaN", "reason": "사유"},
        {"amount": "1e3", "reason": "사유"},
        {"amount": "١٠٠٠", "reason": "사유"},
        {"amount": "-１０００", "reason": "사유"},
        {"amount": "१०००", "reason": "사유"},
        {"amount": "-99999", "reason": "잔액보다 큰 차감"},
    ],
)
def test_bad_corrections_change_nothing(mod_client, form):
    user = make_user(balance=5_000)
    wallet = Wallet.objects.get(user=user)
    before = world()
    run_action(mod_client, "wallets_wallet", "manual_correction", [wallet.pk], **form)
    assert world() == before


def test_nobody_corrects_their_own_wallet(mod_client, moderator):
    wallet = Wallet.objects.get(user=moderator)
    before = world()
    run_action(mod_client, "wallets_wallet", "manual_correction", [wallet.pk], amount="1000000", reason="내 돈")
    assert world() == before


def test_correction_takes_one_wallet_at_a_time(mod_client):
    wallets = [Wallet.objects.get(user=make_user(balance=1_000)).pk for _ in range(2)]
    before = world()
    response = mod_client.post(
        changelist("wallets_wallet"),
        {"action": "manual_correction", "_selected_action": wallets, "apply": "yes", "amount": "5", "reason": "r"},
    )
    assert response.status_code == 302
    assert world() == before


@pytest.mark.parametrize("as_superuser", [False, True])
def test_money_and_state_cannot_be_edited_or_deleted_in_the_admin(client, moderator, contested_auction, as_superuser):
    auction, _, _, leader = contested_auction
    actor = (
        user_create(username=f"root-{rid()[:6]}", password="x", nickname="root", superuser=True)
        if as_superuser
        else moderator
    )
    client.force_login(actor)
    wallet = Wallet.objects.get(user=leader)
    entry = LedgerEntry.objects.filter(wallet=wallet).first()
    before = world()
    cases = [
        ("wallets_wallet", wallet.pk, {"balance": "999999999", "locked_balance": "0", "user": leader.pk}),
        ("wallets_ledgerentry", entry.pk, {"balance_delta": "999999", "memo": "x"}),
        ("auctions_auction", auction.pk, {"current_price": "1", "status": "sold", "leader": ""}),
    ]
    for model, pk, data in cases:
        change = reverse(f"admin:{model}_change", args=[pk])
        page = client.get(change)
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
        assert client.post(change, data).status_code == 403
        assert client.post(reverse(f"admin:{model}_delete", args=[pk]), {"post": "yes"}).status_code == 403
        assert client.get(reverse(f"admin:{model}_add")).status_code == 403
        bulk = client.post(changelist(model), {"action": "delete_selected", "_selected_action": [pk], "post": "yes"})
        assert bulk.status_code in (200, 302)
    assert world() == before
    assert_books_balance()


def test_report_queue_dismiss_and_actions(mod_client, moderator, contested_auction):
    auction, seller, first, leader = contested_auction
    spam = report_create(actor=first, reason=Report.Reason.SPAM, text="광고", auction_id=auction.pk)
    fraud = report_create(actor=leader, reason=Report.Reason.FRAUD, text="사기", reported_user_id=seller.pk)
    listing = report_create(actor=first, reason=Report.Reason.PROHIBITED, auction_id=auction.pk)

    page = mod_client.get(changelist("auctions_report"), {"status__exact": "open"})
    assert page.status_code == 200 and "사기 의심" in page.content.decode()
    assert run_action(mod_client, "auctions_report", "dismiss_reports", [spam.pk]).status_code == 302
    spam.refresh_from_db()
    assert spam.status == Report.Status.DISMISSED and spam.handled_by_id == moderator.pk

    response = run_action(mod_client, "auctions_report", "hide_reported_listings", [listing.pk], reason="금지 물품")
    assert response.status_code == 302
    listing.refresh_from_db()
    auction.refresh_from_db()
    assert listing.status == Report.Status.ACTIONED and auction.is_hidden
    assert wallet_of(leader) == (100_000, 0)

    response = run_action(mod_client, "auctions_report", "suspend_reported_users", [fraud.pk], reason="사기")
    assert response.status_code == 302
    fraud.refresh_from_db()
    seller.refresh_from_db()
    assert fraud.status == Report.Status.ACTIONED and seller.is_suspended and seller.suspended_reason == "사기"
    assert_books_balance()


def test_a_superuser_adds_a_user_with_a_wallet_and_edits_accounts(client):
    root = user_create(username=f"root-{rid()[:6]}", password="x", nickname="root", superuser=True)
    client.force_login(root)
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "new-mod",
            "nickname": "새 운영자",
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = User.objects.get(username="new-mod")
    assert Wallet.objects.filter(user=created).exists()
    group = Group.objects.get(name=MODERATORS)
    change = reverse("admin:accounts_user_change", args=[created.pk])
    assert client.get(change).status_code == 200
    response = client.post(
        change,
        {
            "username": "new-mod",
            "nickname": "새 운영자",
            "email": "",
            "neighbourhood": "",
            "search_radius_km": "3",
            "is_active": "on",
            "is_staff": "on",
            "groups": [group.pk],
            "user_permissions": [],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created.refresh_from_db()
    assert created.is_staff and not created.is_superuser and created.has_perm("auctions.moderate_auction")
    assert not created.is_suspended


# --- issue 9 #8: a moderator's own listing obeys the seller's rules -------------------------------


@pytest.fixture
def own_listing_with_bids(moderator):
    """A live listing of the moderator's own, with a bid on it."""
    bidder = make_user(balance=100_000)
    auction = make_auction(seller=moderator, start_price=10_000)
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    return auction, bidder


def test_a_moderator_cannot_cancel_their_own_listing_with_bids_on_the_page(mod_client, own_listing_with_bids):
    auction, bidder = own_listing_with_bids
    before = world()
    response = mod_client.post(reverse("auctions:cancel", args=[auction.pk]))
    assert response.status_code == 302  # back to the page with the seller's refusal
    assert world() == before
    assert wallet_of(bidder) == (90_000, 10_000)


def test_a_moderator_cannot_cancel_or_hide_their_own_listing_in_the_admin(mod_client, own_listing_with_bids):
    auction, bidder = own_listing_with_bids
    before = world()
    run_action(mod_client, "auctions_auction", "cancel_auctions", [auction.pk], reason="내 경매 정리")
    run_action(mod_client, "auctions_auction", "hide_auctions", [auction.pk], reason="내 경매 숨김")
    assert world() == before
    auction.refresh_from_db()
    assert auction.status == Auction.Status.OPEN and not auction.is_hidden


def test_a_moderator_cannot_hide_their_own_listing_even_without_bids(moderator):
    from auctions.services import auction_hide
    from neighborbid.errors import PermissionDenied

    auction = make_auction(seller=moderator)
    before = world()
    with pytest.raises(PermissionDenied):
        auction_hide(auction_id=auction.pk, staff_user=moderator, reason="내 경매")
    assert world() == before


# --- issue 9 #9: a suspended moderator has no powers ---------------------------------------------


def _suspend_directly(user):
    User.objects.filter(pk=user.pk).update(is_suspended=True, suspended_reason="운영 규정 위반")


def test_a_suspended_moderator_has_no_service_powers(moderator, contested_auction):
    from accounts.services import user_suspend, user_unsuspend
    from auctions.services import auction_cancel, auction_hide
    from neighborbid.errors import AccountSuspended
    from wallets.services import wallet_adjust

    auction, seller, first, leader = contested_auction
    _suspend_directly(moderator)
    before = world()
    with pytest.raises(AccountSuspended):
        auction_cancel(auction_id=auction.pk, actor=moderator, reason="x")
    with pytest.raises(AccountSuspended):
        auction_hide(auction_id=auction.pk, staff_user=moderator, reason="x")
    with pytest.raises(AccountSuspended):
        wallet_adjust(user=first, amount=5_000, staff_user=moderator, reason="x")
    with pytest.raises(AccountSuspended):
        user_unsuspend(user_id=moderator.pk, staff_user=moderator)
    # A suspension by a suspended moderator refuses before anything commits.
    with pytest.raises(AccountSuspended):
        user_suspend(user_id=seller.pk, staff_user=moderator, reason="사기")
    assert world() == before
    seller.refresh_from_db()
    moderator.refresh_from_db()
    assert not seller.is_suspended and moderator.is_suspended
    assert_books_balance()


def test_unsuspend_has_the_guards_of_suspend(moderator):
    from accounts.services import user_unsuspend
    from neighborbid.errors import PermissionDenied

    other_staff = make_user(is_staff=True)
    _suspend_directly(other_staff)
    with pytest.raises(PermissionDenied):
        user_unsuspend(user_id=other_staff.pk, staff_user=moderator)  # staff: only a superuser
    other_staff.refresh_from_db()
    assert other_staff.is_suspended


def test_a_suspended_staff_user_cannot_use_the_admin(mod_client, moderator, contested_auction):
    auction, seller, first, leader = contested_auction
    wallet = Wallet.objects.get(user=first)
    _suspend_directly(moderator)
    before = world()
    index = mod_client.get(reverse("admin:index"))
    assert index.status_code == 302 and index["Location"].startswith(reverse("admin:login"))
    login_page = mod_client.get(reverse("admin:login"))
    assert login_page.status_code == 403
    assert "이용 정지된 계정은 운영 화면을 쓸 수 없어요" in login_page.content.decode()
    for url in (changelist("auctions_auction"), changelist("wallets_wallet"), changelist("accounts_user")):
        assert mod_client.get(url).status_code == 302
    run_action_response = mod_client.post(
        changelist("wallets_wallet"),
        {
            "action": "manual_correction",
            "_selected_action": [str(wallet.pk)],
            "apply": "yes",
            "amount": "5000",
            "reason": "x",
        },
    )
    assert run_action_response.status_code == 302
    mod_client.post(changelist("accounts_user"), {"action": "unsuspend_users", "_selected_action": [str(moderator.pk)]})
    assert world() == before
    moderator.refresh_from_db()
    assert moderator.is_suspended


def test_a_suspended_staff_user_cannot_log_into_the_admin(client, moderator):
    _suspend_directly(moderator)
    response = client.post(reverse("admin:login"), {"username": moderator.username, "password": "pw-for-tests-1234"})
    assert response.status_code in (200, 403)
    assert "이용 정지된 계정은 운영 화면을 쓸 수 없어요" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302


def test_the_ledger_list_writes_amounts_as_the_site_does(mod_client, contested_auction):
    # issue 18 #21: raw 12000 / -12000 in the admin's ledger; now "+12,000원" and "-12,000원"
    page = mod_client.get(reverse("admin:wallets_ledgerentry_changelist")).content.decode()
    assert "-12,000원" in page and "+12,000원" in page and "88,000원" in page
    assert ">-12000<" not in page and ">12000<" not in page


def _forms_on(html: str) -> dict[str, dict[str, str]]:
    """The object-action forms of an admin page: {button's action name: the fields it posts}."""
    import re

    found = {}
    for form in re.findall(r'<form method="post" action="[^"]*" class="object-action">(.*?)</form>', html, re.S):
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
        found[fields["action"]] = fields
    return found


def test_a_report_page_offers_the_queue_actions_for_that_report(mod_client, moderator, contested_auction):
    # given an open report, read on its own page
    auction, seller, first, leader = contested_auction
    spam = report_create(actor=first, reason=Report.Reason.SPAM, text="광고", auction_id=auction.pk)
    other = report_create(actor=leader, reason=Report.Reason.SPAM, text="광고 2", auction_id=auction.pk)
    page = mod_client.get(reverse("admin:auctions_report_change", args=[spam.pk])).content.decode()
    # then the page has a button for each action the moderator may run, for this report only
    forms = _forms_on(page)
    assert set(forms) == {"dismiss_reports", "mark_actioned", "hide_reported_listings", "suspend_reported_users"}
    assert "이 신고 기각" in page
    assert all(fields["_selected_action"] == str(spam.pk) for fields in forms.values())
    # when they press 기각 (the form posts what it holds), the report is dismissed, the other not
    response = mod_client.post(changelist("auctions_report"), forms["dismiss_reports"])
    assert response.status_code == 302
    spam.refresh_from_db()
    other.refresh_from_db()
    assert (spam.status, spam.handled_by_id) == (Report.Status.DISMISSED, moderator.pk)
    assert other.status == Report.Status.OPEN
    # and a moderation action asks for its reason first, as from the list
    reason_page = mod_client.post(changelist("auctions_report"), forms["hide_reported_listings"])
    assert reason_page.status_code == 200 and "사유" in reason_page.content.decode()
    assert not Auction.objects.get(pk=auction.pk).is_hidden
