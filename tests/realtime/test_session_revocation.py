"""Issue 9 #3 and #4: a socket whose session ended elsewhere (logout, password change or reset,
suspension) gets no more personal notifications, still gets the public states, and is
answered as logged out / suspended before anything else (even a sure-loser bid)."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session

from accounts.models import User
from auctions.models import Bid
from auctions.services import bid_place
from tests import factories as f
from tests.money import world
from tests.realtime.conftest import frames_until_marker, logged_in_client, open_socket, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


def rid() -> str:
    return uuid.uuid4().hex


@db
def logout(client) -> None:
    client.logout()  # Django's logout: fires user_logged_out


@db
def change_password(user) -> None:
    user = User.objects.get(pk=user.pk)
    user.set_password("a-whole-new-password-42")
    user.save()


@db
def reset_password(user) -> None:
    """What PasswordResetConfirmView does with the new password."""
    from django.contrib.auth.forms import SetPasswordForm

    form = SetPasswordForm(
        User.objects.get(pk=user.pk),
        {"new_password1": "reset-to-something-new-77", "new_password2": "reset-to-something-new-77"},
    )
    assert form.is_valid(), form.errors
    form.save()


@db
def suspend(user) -> None:
    from accounts.services import user_suspend

    user_suspend(user_id=user.pk, staff_user=f.make_user(is_superuser=True, is_staff=True), reason="테스트 정지")


REVOCATIONS = {"logout": None, "password": change_password, "reset": reset_password, "suspension": suspend}


@pytest.mark.parametrize("how", list(REVOCATIONS))
async def test_after_the_session_ends_elsewhere_no_personal_notification_reaches_the_socket(how):
    # given alice leading a national auction, with a socket on it
    auction = await db(f.make_auction)(is_national=True, start_price=10_000)
    alice = await db(f.make_user)(balance=100_000)
    bob = await db(f.make_user)(balance=100_000)
    await db(bid_place)(auction_id=auction.pk, actor=alice, amount=10_000, request_id=rid())
    alice_client = await logged_in_client(alice)
    ws_alice, snap = await open_socket(auction.pk, client=alice_client)
    assert snap["you"]["signed_in"] is True
    # when her session ends elsewhere...
    if how == "logout":
        await logout(alice_client)
    else:
        await REVOCATIONS[how](alice)
    # ...and bob outbids her (an outbid notification goes to alice, before the new state)
    await db(bid_place)(auction_id=auction.pk, actor=bob, amount=11_000, request_id=rid())
    # then her socket still gets the public state, but not the notification
    frames = await receive_until(ws_alice, lambda m: m["type"] == "state" and m["current_price"] == 11_000)
    personal = [m["kind"] for m in frames if m["type"] == "notification"]
    # (the suspension's own notice is published just before the session is cut and is let
    # through: test_the_suspension_notice_always_reaches_the_socket; nothing after it is)
    assert [kind for kind in personal if kind != "suspended"] == []
    # and nothing personal is still on its way: it would come before the marker's state
    (later,) = await frames_until_marker(auction.pk, ws_alice)
    assert [m for m in later if m["type"] == "notification" and m["kind"] != "suspended"] == [], later
    await ws_alice.disconnect()


async def test_the_suspension_notice_always_reaches_the_socket_and_nothing_personal_after_it():
    """Issue 26 #4, through real Redis and a real socket: the notice is published just before
    the session is cut, so the socket may be re-checking its session when it arrives; it must
    arrive anyway (it is about the suspension itself), every time, and nothing after it."""
    for round_ in range(5):
        # given alice leading a national auction, her socket on it
        auction = await db(f.make_auction)(is_national=True, start_price=10_000)
        alice = await db(f.make_user)(balance=100_000)
        bob = await db(f.make_user)(balance=100_000)
        await db(bid_place)(auction_id=auction.pk, actor=alice, amount=10_000, request_id=rid())
        ws_alice, snap = await open_socket(auction.pk, client=await logged_in_client(alice))
        assert snap["you"]["signed_in"] is True
        # when a moderator suspends her (the suspension also cancels nothing here: she sells nothing)
        await suspend(alice)
        # then the notice reaches her socket
        frames = await receive_until(
            ws_alice, lambda m: m["type"] == "notification" and m["kind"] == "suspended", timeout=5
        )
        assert "정지" in frames[-1]["message"], (round_, frames)
        # and after it only public states: bob's outbid of her brings no personal notification
        await db(bid_place)(auction_id=auction.pk, actor=bob, amount=11_000, request_id=rid())
        frames = await receive_until(ws_alice, lambda m: m["type"] == "state" and m["current_price"] == 11_000)
        assert [m for m in frames if m["type"] == "notification"] == [], (round_, frames)
        await ws_alice.disconnect()


async def test_a_socket_whose_own_session_still_holds_keeps_its_notifications():
    auction = await db(f.make_auction)(is_national=True, start_price=10_000)
    alice = await db(f.make_user)(balance=100_000)
    bob = await db(f.make_user)(balance=100_000)
    await db(bid_place)(auction_id=auction.pk, actor=alice, amount=10_000, request_id=rid())
    other_tab, this_tab = await logged_in_client(alice), await logged_in_client(alice)
    ws_alice, _ = await open_socket(auction.pk, client=this_tab)
    await logout(other_tab)  # another session of hers ends: this one still holds
    await db(bid_place)(auction_id=auction.pk, actor=bob, amount=11_000, request_id=rid())
    frames = await receive_until(ws_alice, lambda m: m["type"] == "notification", timeout=5)
    assert frames[-1]["kind"] == "outbid"
    await ws_alice.disconnect()


# --- issue 9 #4: who first -----------------------------------------------------------------------


async def _reply(ws, frame) -> dict:
    await ws.send_json_to(frame)
    return (await receive_until(ws, lambda m: m["type"] in ("ack", "error"), timeout=5))[-1]


@pytest.mark.parametrize("how", ["logout", "suspension"])
async def test_a_sure_loser_from_an_ended_session_is_answered_who_first(how):
    # given a socket whose process knows the committed minimum (11,000)
    auction = await db(f.make_auction)(is_national=True, start_price=10_000)
    alice = await db(f.make_user)(balance=100_000)
    bob = await db(f.make_user)(balance=100_000)
    client = await logged_in_client(bob)
    ws_bob, _ = await open_socket(auction.pk, client=client)
    await db(bid_place)(auction_id=auction.pk, actor=alice, amount=10_000, request_id=rid())
    await receive_until(ws_bob, lambda m: m["type"] == "state")
    # when bob's session ends with an announcement (logout: user_logged_out; suspension)
    if how == "logout":
        await logout(client)
    else:
        await suspend(bob)
    before = await db(world)()
    reply = await _reply(ws_bob, {"type": "bid", "amount": 10_500, "request_id": "low-1"})
    # then the answer is who he is, not that the amount is too low
    assert reply["code"] == ("login_required" if how == "logout" else "suspended"), reply
    assert await db(world)() == before


@pytest.mark.parametrize("how", ["session_deleted", "suspended_quietly"])
async def test_a_sure_loser_is_answered_who_first_even_when_no_event_arrived(how):
    # given a socket whose process knows the committed minimum...
    auction = await db(f.make_auction)(is_national=True, start_price=10_000)
    alice = await db(f.make_user)(balance=100_000)
    bob = await db(f.make_user)(balance=100_000)
    ws_bob, _ = await open_socket(auction.pk, user=bob)
    await db(bid_place)(auction_id=auction.pk, actor=alice, amount=10_000, request_id=rid())
    await receive_until(ws_bob, lambda m: m["type"] == "state")
    # ...when the session ends with no announcement (Redis down, an expiry, a raw update)
    if how == "session_deleted":
        await db(Session.objects.filter(session_key=ws_bob.session_cookie).delete)()
    else:
        await db(User.objects.filter(pk=bob.pk).update)(is_suspended=True, suspended_reason="조용히")
    before = await db(world)()
    reply = await _reply(ws_bob, {"type": "bid", "amount": 10_500, "request_id": "low-2"})
    assert reply["code"] == ("login_required" if how == "session_deleted" else "suspended"), reply
    assert await db(world)() == before
    assert await db(Bid.objects.filter(bidder=bob).count)() == 0


async def test_a_live_session_still_gets_the_early_too_low_answer():
    auction = await db(f.make_auction)(is_national=True, start_price=10_000)
    alice = await db(f.make_user)(balance=100_000)
    bob = await db(f.make_user)(balance=100_000)
    ws_bob, _ = await open_socket(auction.pk, user=bob)
    await db(bid_place)(auction_id=auction.pk, actor=alice, amount=10_000, request_id=rid())
    await receive_until(ws_bob, lambda m: m["type"] == "state")
    for n in range(3):  # a burst: the session is checked once, then cached for a second
        reply = await _reply(ws_bob, {"type": "bid", "amount": 10_500, "request_id": f"low-3-{n}"})
        assert reply["code"] == "bid_too_low" and reply["min_next_bid"] == 11_000
