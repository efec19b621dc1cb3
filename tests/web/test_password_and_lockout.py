"""Login lock-out copy (the account is locked for N minutes, not "wrong password"), password
reset (Django's views, our pages, e-mail), and "아이디" everywhere instead of "사용자 이름"."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import make_user
from tests.money import world
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1234"


def _login(client, url_name, username, password, **extra):
    return client.post(reverse(url_name), {"username": username, "password": password}, **extra)


@pytest.mark.parametrize("url_name", ["accounts:login", "admin:login"])
def test_a_locked_login_says_locked_for_the_real_minutes_not_wrong_password(client, settings, url_name):
    settings.NEIGHBORBID_SECURITY = {**settings.NEIGHBORBID_SECURITY, "LOGIN_LOCKOUT_SECONDS": 600}
    user = make_user(is_staff=True)
    for _ in range(5):
        response = _login(client, url_name, user.username, "wrong")
        assert "아이디 또는 비밀번호가 맞지 않아요" in response.content.decode()
    response = _login(client, url_name, user.username, PASSWORD)  # the right password, while locked
    text = response.content.decode()
    assert response.status_code == 429
    assert "맞지 않아요" not in text
    assert "이 아이디는 10분 동안 로그인이 잠겨 있어요" in text
    assert 590 <= int(response["Retry-After"]) <= 600
    assert "_auth_user_id" not in client.session


def test_an_address_lock_says_so(client, settings):
    settings.NEIGHBORBID_SECURITY = {**settings.NEIGHBORBID_SECURITY, "LOGIN_FAILURES_PER_IP": 3}
    for i in range(3):
        _login(client, "accounts:login", f"guess{i}", "x")
    response = _login(client, "accounts:login", make_user().username, PASSWORD)
    assert response.status_code == 429
    assert "이 곳에서 로그인 실패가 너무 많아서 15분 동안 로그인이 잠겨 있어요" in response.content.decode()


def _reset_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_password_reset_by_email_end_to_end():
    user = make_user()
    User.objects.filter(pk=user.pk).update(email="minsu@example.com")
    client = Client()
    login_page = client.get(reverse("accounts:login")).content.decode()
    assert reverse("accounts:password_reset") in login_page
    assert client.get(reverse("accounts:password_reset")).status_code == 200
    response = client.post(reverse("accounts:password_reset"), {"email": "MINSU@example.com"})
    assert response.status_code == 302 and response.url == reverse("accounts:password_reset_done")
    assert "메일을 확인해 주세요" in client.get(response.url).content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["minsu@example.com"] and "비밀번호 재설정" in message.subject
    assert f"아이디 {user.username}" in message.body and "사용자 이름" not in message.body
    page = client.get(_reset_link(message), follow=True)
    assert page.status_code == 200 and "새 비밀번호 정하기" in page.content.decode()
    set_url = page.redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": "fresh-orchard-77", "new_password2": "fresh-orchard-77"})
    assert response.status_code == 302 and response.url == reverse("accounts:password_reset_complete")
    assert "비밀번호를 바꿨어요" in client.get(response.url).content.decode()
    assert _login(Client(), "accounts:login", user.username, "fresh-orchard-77").status_code == 302
    # the link works once
    assert "링크를 쓸 수 없어요" in client.get(_reset_link(message), follow=True).content.decode()


def test_password_reset_for_an_unknown_email_sends_nothing_and_says_the_same():
    make_user()
    before = world()
    response = Client().post(reverse("accounts:password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response.url == reverse("accounts:password_reset_done")
    assert mail.outbox == [] and world() == before


def test_password_reset_mismatch_changes_nothing():
    user = make_user()
    User.objects.filter(pk=user.pk).update(email="a@example.com")
    client = Client()
    client.post(reverse("accounts:password_reset"), {"email": "a@example.com"})
    page = client.get(_reset_link(mail.outbox[0]), follow=True)
    response = client.post(page.redirect_chain[-1][0], {"new_password1": "one-thing-77", "new_password2": "other-77x"})
    assert response.status_code == 200 and "두 비밀번호가 서로 달라요" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_signup_takes_an_optional_email_for_resets():
    from tests.factories import neighbourhood

    data = {
        "username": "mailneighbour",
        "nickname": "메일이웃",
        "neighbourhood": neighbourhood().pk,
        "email": "mail@example.com",
        "password1": "tangerine-lamp-42",
        "password2": "tangerine-lamp-42",
    }
    assert Client().post(reverse("accounts:signup"), data).status_code == 302
    assert User.objects.get(username="mailneighbour").email == "mail@example.com"


def test_the_word_is_aidi_never_sayongja_ireum():
    admin = make_user(is_staff=True, is_superuser=True)
    other = make_user()
    anonymous = Client()
    pages = [
        anonymous.get(reverse("accounts:login")),
        anonymous.get(reverse("accounts:signup")),
        anonymous.get(reverse("admin:login")),
        anonymous.post(reverse("accounts:signup"), {"username": other.username}),
        anonymous.post(reverse("accounts:signup"), {"username": "bad name!"}),
        anonymous.post(reverse("accounts:login"), {"username": "", "password": ""}),
    ]
    staff = signed_in(admin)
    pages += [
        staff.get(reverse("admin:accounts_user_changelist")),
        staff.get(reverse("admin:accounts_user_change", args=[other.pk])),
        staff.get(reverse("admin:accounts_user_add")),
    ]
    for page in pages:
        text = page.content.decode()
        assert "사용자 이름" not in text and "사용자이름" not in text, page.wsgi_request.path
    assert "아이디" in pages[0].content.decode() and "아이디" in pages[2].content.decode()
    assert "이미 사용 중인 아이디" in pages[3].content.decode()
    assert "아이디는 영문, 숫자" in pages[4].content.decode()
