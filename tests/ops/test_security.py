"""Production settings, CSRF, login lockout and rate limits."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from neighborbid import security
from tests.factories import make_auction, make_user
from tests.money import world

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-for-tests-1234"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"NEIGHBORBID_ENV", "CSRF_TRUSTED_ORIGINS", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_env(**overrides: str) -> dict[str, str]:
    return {
        "NEIGHBORBID_ENV": "production",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "neighborbid.example,www.neighborbid.example",
        "CSRF_TRUSTED_ORIGINS": "https://neighborbid.example,https://www.neighborbid.example",
        **overrides,
    }


# --- production settings --------------------------------------------------------------------


def test_check_deploy_passes_with_the_production_environment():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_values():
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_PROXY_SSL_HEADER, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS >= 31536000, s.CSRF_TRUSTED_ORIGINS, "
        "s.CONTENT_SECURITY_POLICY['DIRECTIVES']['connect-src'], s.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src'])"
    )
    result = manage("shell", "-c", code, **production_env(CSRF_TRUSTED_ORIGINS=""))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "('HTTP_X_FORWARDED_PROTO', 'https') True True True True" in out
    assert "['https://neighborbid.example', 'https://www.neighborbid.example']" in out  # derived from the hosts
    assert "\"'self'\", 'wss://neighborbid.example', 'wss://www.neighborbid.example'" in out
    assert "ws://" not in out and "unsafe-inline" not in out.split("]")[-2]  # scripts: own files only


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"ALLOWED_HOSTS": "*"}, "never '*'"),
        ({"ALLOWED_HOSTS": "neighborbid.example,*"}, "never '*'"),
        ({"CSRF_TRUSTED_ORIGINS": "https://*"}, "never '*'"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": "", "NEIGHBORBID_ALLOW_INSECURE_KEY": "1"}, "SECRET_KEY"),
        ({"DEBUG": "1"}, "DEBUG"),
    ],
)
def test_production_refuses_unsafe_configuration(overrides, complaint):
    result = manage("check", **production_env(**overrides))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr


def test_development_check_deploy_fails_so_the_switch_matters():
    result = manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode != 0


def test_csp_header_allows_own_scripts_and_socket(client, db):
    response = client.get("/admin/login/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "connect-src 'self'" in policy and "ws://127.0.0.1:*" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


# --- CSRF ------------------------------------------------------------------------------------


def _all_routes():
    """Every URL pattern of the project, with its path arguments filled in."""

    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern)

    return list(walk(get_resolver().url_patterns))


def _fill(route: str, pk: int) -> str | None:
    import re

    if route.startswith("^") or "(?P" in route:
        return None  # regex routes (admin internals): covered by Django's own CSRF protection
    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: str(pk) if m.group(1) in (None, "int") else "x", route)


ROUTES_CHECKED = 209  # every route of the project today (issue 26 #10): update it with a new route
API_ROUTES_CHECKED = 55  # of which /api/v1 (api/): 51 paths, openapi.json, docs, the API's root, the 404 catch-all
# The API's one public write: signing in for a token. It reads no cookie and sets none (the token
# comes back in the body, which another site cannot read), so it needs no CSRF token.
API_PUBLIC_POSTS = {"/api/v1/auth/token"}


def _check_api_route(url: str, *, anonymous: Client, signed_in: Client) -> None:
    """/api/v1 (django-ninja, csrf-exempt at Django's level, checked by the API itself): a write
    riding on the session cookie without the CSRF token is 403 (a write method the path does not
    have is 405); without any sign-in it is 401 (or Django's 403); only the token sign-in is public, and a junk
    body there is a 4xx that signs nobody in. (An app's bearer token needs no CSRF token:
    tests/api/test_auth.py.)"""
    for method in ("post", "delete", "put", "patch"):
        with_session = getattr(signed_in, method)(url, {"amount": "10000"})
        without = getattr(anonymous, method)(url, {"amount": "10000"})
        if url in API_PUBLIC_POSTS and method == "post":
            assert 400 <= with_session.status_code < 500 and 400 <= without.status_code < 500, url
            assert "sessionid" not in without.cookies, url
            continue
        assert with_session.status_code in (403, 405), f"{method.upper()} {url} answered {with_session.status_code}"
        # (openapi.json and docs are plain Django views: Django's own CSRF check answers 403 there)
        assert without.status_code in (401, 403, 405), f"{method.upper()} {url} (anonymous): {without.status_code}"
        if with_session.status_code == 403 and with_session["Content-Type"].startswith("application/problem+json"):
            assert with_session.json()["code"] == "csrf_failed", url


@pytest.mark.django_db
def test_every_post_without_a_csrf_token_is_refused():
    user = make_user(balance=100_000)
    auction = make_auction()
    before = world()
    anonymous, signed_in = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    signed_in.force_login(user)
    checked = []
    api_checked = []
    for route in _all_routes():
        url = _fill(route, auction.pk)
        if url is None:
            continue
        if url.startswith("/api/"):
            if url in api_checked:
                continue  # ninja lists a path once per operation (GET and POST of /auctions/<id>/bids)
            _check_api_route(url, anonymous=anonymous, signed_in=signed_in)
            api_checked.append(url)
            checked.append(url)
            continue
        for client in (anonymous, signed_in):
            response = client.post(url, {"amount": "10000", "reason": "spam", "title": "x"})
            assert response.status_code == 403, f"POST {url} without a CSRF token answered {response.status_code}"
        checked.append(url)
    assert len(api_checked) == API_ROUTES_CHECKED, api_checked
    # Every route of the project was tried (pinned: a new route changes the count and makes
    # whoever adds it look here), the money and moderation doors among them.
    assert len(checked) == len(set(checked)) == ROUTES_CHECKED, (len(checked), checked)
    for door in (
        f"/auctions/{auction.pk}/bid/",
        f"/auctions/{auction.pk}/buy-now/",
        "/wallet/deposit/",
        "/wallet/withdraw/",
        "/accounts/signup/",
        "/accounts/verify/",
    ):
        assert door in checked, door
    for name in ("admin:login", "admin:auctions_auction_changelist", "admin:wallets_wallet_changelist"):
        assert signed_in.post(reverse(name), {"username": "x", "password": "y"}).status_code == 403
    assert world() == before


# --- login lockout ---------------------------------------------------------------------------


LOGIN_URLS = ["admin:login", "accounts:login"]


def _login(client, url_name: str, username: str, password: str, **extra):
    return client.post(reverse(url_name), {"username": username, "password": password}, **extra)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", LOGIN_URLS)
def test_login_lockout_per_username(client, url_name):
    user = make_user(is_staff=True)
    for _ in range(5):
        response = _login(client, url_name, user.username, "wrong-password")
        assert response.status_code == 200 and not _logged_in(client)
    response = _login(client, url_name, user.username, PASSWORD)  # the right password, too late
    assert response.status_code == 429 and not _logged_in(client)
    assert _login(client, url_name, user.username.upper(), PASSWORD).status_code == 429  # same name, any case
    # another user from the same IP is not locked by this username's failures
    other = make_user(is_staff=True)
    response = _login(client, url_name, other.username, PASSWORD)
    assert response.status_code == 302 and _logged_in(client)


@pytest.mark.django_db
def test_a_success_clears_the_username_count(client):
    user = make_user()
    for _ in range(4):
        _login(client, "accounts:login", user.username, "wrong")
    assert _login(client, "accounts:login", user.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        _login(client, "accounts:login", user.username, "wrong")
    assert _login(client, "accounts:login", user.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_login_lockout_per_ip_is_not_fooled_by_a_forged_forwarded_for(client, settings):
    settings.NEIGHBORBID_SECURITY = {**settings.NEIGHBORBID_SECURITY, "LOGIN_FAILURES_PER_IP": 3}
    victim = make_user()
    for i in range(3):  # a different username and a different forged address every time
        forged = f"203.0.113.{i}"
        _login(client, "accounts:login", f"guess{i}", "x", HTTP_X_FORWARDED_FOR=forged)
    response = _login(client, "accounts:login", victim.username, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert response.status_code == 429 and not _logged_in(client)
    # from another address the victim can still log in
    response = _login(client, "accounts:login", victim.username, PASSWORD, REMOTE_ADDR="192.0.2.44")
    assert response.status_code == 302


@pytest.mark.django_db
def test_behind_one_trusted_proxy_the_proxy_appended_address_counts(client, settings):
    settings.NEIGHBORBID_SECURITY = {
        **settings.NEIGHBORBID_SECURITY,
        "LOGIN_FAILURES_PER_IP": 3,
        "TRUSTED_PROXY_COUNT": 1,
    }
    for i in range(3):  # the attacker forges the left part; nginx appends the real address
        _login(client, "accounts:login", f"guess{i}", "x", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}, 198.51.100.7")
    user = make_user()
    locked = _login(client, "accounts:login", user.username, PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    assert locked.status_code == 429
    other = _login(client, "accounts:login", user.username, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7, 198.51.100.8")
    assert other.status_code == 302


@pytest.mark.parametrize(
    ("count", "remote", "header", "expected"),
    [
        (0, "10.1.1.1", "6.6.6.6", "10.1.1.1"),
        (1, "10.1.1.1", "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        (1, "10.1.1.1", "", "10.1.1.1"),
        (1, "10.1.1.1", "not-an-ip", "10.1.1.1"),
        (2, "10.1.1.1", "6.6.6.6, 198.51.100.7, 172.16.0.2", "198.51.100.7"),
        (2, "10.1.1.1", "198.51.100.7", "10.1.1.1"),
    ],
)
def test_client_ip(rf, settings, count, remote, header, expected):
    settings.NEIGHBORBID_SECURITY = {**settings.NEIGHBORBID_SECURITY, "TRUSTED_PROXY_COUNT": count}
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=header)
    assert security.client_ip(request) == expected


# --- rate limits -----------------------------------------------------------------------------


@pytest.fixture
def tight_limits(settings):
    limits = {scope: {**spec, "burst": 2, "rate": 0.0001} for scope, spec in security.DEFAULTS["RATE_LIMITS"].items()}
    settings.NEIGHBORBID_SECURITY = {**settings.NEIGHBORBID_SECURITY, "RATE_LIMITS": limits}


@pytest.mark.django_db
def test_topups_are_rate_limited_and_the_refused_one_changes_nothing(client, tight_limits):
    user = make_user()
    client.force_login(user)
    url = reverse("wallets:deposit")
    for _ in range(2):
        assert client.post(url, {"amount": "10000"}).status_code == 302
    before = world()
    response = client.post(url, {"amount": "10000"})
    assert response.status_code == 429 and response["Retry-After"]
    assert world() == before
    assert before["wallets"][user.pk] == (20_000, 0)
    json_response = client.post(url, {"amount": "10000"}, HTTP_ACCEPT="application/json")
    assert json_response.status_code == 429 and json_response.json()["error"]["code"] == "rate_limited"
    # another user has their own bucket
    client.force_login(make_user())
    assert client.post(url, {"amount": "10000"}).status_code == 302


@pytest.mark.django_db
def test_signups_are_rate_limited_per_ip(client, tight_limits):
    from accounts.models import User
    from tests.factories import neighbourhood

    url = reverse("accounts:signup")

    def signup(i: int, **extra):
        data = {
            "username": f"newbie{i}x{secrets.token_hex(3)}",
            "nickname": f"새이웃{i}",
            "neighbourhood": neighbourhood().pk,
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
        }
        return client.post(url, data, **extra), data["username"]

    for i in range(2):
        response, _ = signup(i)
        assert response.status_code == 302
        client.logout()
    users = User.objects.count()
    response, username = signup(3)
    assert response.status_code == 429
    assert User.objects.count() == users and not User.objects.filter(username=username).exists()
    response, _ = signup(4, REMOTE_ADDR="192.0.2.80")  # another address
    assert response.status_code == 302


@pytest.mark.django_db
def test_http_bids_are_rate_limited(client, tight_limits):
    bidder = make_user(balance=1_000_000)
    auction = make_auction(start_price=1_000)
    client.force_login(bidder)
    url = reverse("auctions:bid", args=[auction.pk])
    for amount in (1_000, 1_100):
        client.post(url, {"amount": str(amount), "request_id": secrets.token_hex(8)})
    before = world()
    response = client.post(url, {"amount": "5000", "request_id": secrets.token_hex(8)})
    assert response.status_code == 429
    assert world() == before


@pytest.mark.django_db
def test_rate_limited_decorator(rf, tight_limits):
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse

    calls = []

    @security.rate_limited("topup")
    def view(request):
        calls.append(1)
        return HttpResponse("ok")

    def post():
        request = rf.post("/x", REMOTE_ADDR="192.0.2.9")
        request.user = AnonymousUser()
        return view(request)

    assert [post().status_code for _ in range(3)] == [200, 200, 429]
    assert len(calls) == 2
    request = rf.get("/x", REMOTE_ADDR="192.0.2.9")
    request.user = AnonymousUser()
    assert view(request).status_code == 200  # GETs are not limited


@pytest.mark.django_db
def test_a_forged_post_is_refused_by_csrf_first_and_spends_no_token(tight_limits):
    victim = make_user()
    forged = Client(enforce_csrf_checks=True)  # the victim's cookies, no token: a cross-site form
    forged.force_login(victim)
    url = reverse("wallets:deposit")
    before = world()
    for _ in range(3):
        assert forged.post(url, {"amount": "10000"}).status_code == 403
    assert world() == before
    # the victim's own bucket (burst 2) is untouched
    own = Client()
    own.force_login(victim)
    assert [own.post(url, {"amount": "10000"}).status_code for _ in range(3)] == [302, 302, 429]


@pytest.mark.django_db(transaction=True)
async def test_a_forged_post_spends_no_token_under_asgi_either(tight_limits):
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    victim = await sync_to_async(make_user)()
    forged = AsyncClient(enforce_csrf_checks=True)
    await forged.aforce_login(victim)
    url = reverse("wallets:deposit")
    for _ in range(3):
        assert (await forged.post(url, {"amount": "10000"})).status_code == 403
    own = AsyncClient()
    await own.aforce_login(victim)
    assert [(await own.post(url, {"amount": "10000"})).status_code for _ in range(3)] == [302, 302, 429]


def test_email_goes_to_the_console_unless_configured():
    code = "from django.conf import settings; print(settings.EMAIL_BACKEND)"
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    default = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**base, "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert default.stdout.strip().splitlines()[-1] == "django.core.mail.backends.console.EmailBackend", default.stderr
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    configured = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**base, "DEBUG": "1", "EMAIL_BACKEND": smtp},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert configured.stdout.strip().splitlines()[-1] == smtp, configured.stderr
