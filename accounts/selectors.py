"""Reads about users and neighbourhoods, including the neighbourhood-trust rule's inputs."""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import DeviceSighting, Neighbourhood, User
from neighborbid.errors import AccountSuspended, LoginRequired, PermissionDenied

EARTH_RADIUS_KM = 6371.0088


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def neighbourhood_distance_km(a: Neighbourhood, b: Neighbourhood) -> float:
    return distance_km(a.latitude, a.longitude, b.latitude, b.longitude)


def neighbourhood_distances(*, origin: Neighbourhood) -> dict[int, float]:
    """Distance from `origin` to every neighbourhood, by id (the table is small: tens of rows)."""
    return {
        n.pk: distance_km(origin.latitude, origin.longitude, n.latitude, n.longitude)
        for n in Neighbourhood.objects.only("id", "latitude", "longitude")
    }


KM_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_KM / 180


def neighbourhood_distances_within(*, origin: Neighbourhood, radius_km: float) -> dict[int, float]:
    """Distance from `origin` to every neighbourhood within `radius_km`, by id. A latitude and
    longitude box around the origin comes first (in SQL: at 500 동 a 10 km range reads about a
    third of them), the haversine after, on the box's rows only."""
    margin = 1.001  # the box holds the whole circle, with float slack
    dlat = radius_km / KM_PER_DEGREE_LAT * margin
    # the widest longitude span of the circle is at the latitude nearest a pole
    far_lat = min(89.9, abs(origin.latitude) + dlat)
    dlon = min(180.0, radius_km / (KM_PER_DEGREE_LAT * math.cos(math.radians(far_lat))) * margin)
    rows = Neighbourhood.objects.filter(
        latitude__gte=origin.latitude - dlat,
        latitude__lte=origin.latitude + dlat,
        longitude__gte=origin.longitude - dlon,
        longitude__lte=origin.longitude + dlon,
    ).values_list("id", "latitude", "longitude")
    found = {}
    for pk, lat, lon in rows:
        km = distance_km(origin.latitude, origin.longitude, lat, lon)
        if km <= radius_km:
            found[pk] = km
    return found


def _box(latitude: float, longitude: float, radius_km: float) -> dict[str, float]:
    """The latitude/longitude bounds of a circle (with float slack), for the indexed prefilter."""
    margin = 1.001
    dlat = radius_km / KM_PER_DEGREE_LAT * margin
    far_lat = min(89.9, abs(latitude) + dlat)
    dlon = min(180.0, radius_km / (KM_PER_DEGREE_LAT * math.cos(math.radians(far_lat))) * margin)
    return {
        "latitude__gte": latitude - dlat,
        "latitude__lte": latitude + dlat,
        "longitude__gte": longitude - dlon,
        "longitude__lte": longitude + dlon,
    }


NEAREST_STEPS_KM = (2.0, 6.0, 20.0, 60.0)
NEAREST_MAX_KM = 60.0  # no offered 동 nearer than this: a sea point or abroad, said so


def neighbourhood_nearest(*, latitude: float, longitude: float, limit: int = 3) -> list[tuple[Neighbourhood, float]]:
    """The `limit` offered 동 whose centres are nearest to a point, nearest first, with their
    distances in km; empty when none lies within NEAREST_MAX_KM (a point at sea, or abroad).

    A bounding box on the indexed (latitude, longitude) comes first and grows (2, 6, 20, 60 km)
    until it holds `limit` 동 within its radius; the haversine runs on the box's rows only (a
    few to a few hundred of the 3,512), so one or two indexed queries answer on PostgreSQL and
    on SQLite alike. A 동 outside the box is farther than its radius, so the answer is exact."""
    found: list[tuple[Neighbourhood, float]] = []
    for radius in NEAREST_STEPS_KM:
        rows = Neighbourhood.objects.filter(is_offered=True, **_box(latitude, longitude, radius))
        found = sorted(
            ((n, distance_km(latitude, longitude, n.latitude, n.longitude)) for n in rows), key=lambda pair: pair[1]
        )
        found = [pair for pair in found if pair[1] <= radius]
        if len(found) >= limit:
            break
    return found[:limit]


SEARCH_LIMIT = 20


def neighbourhood_search(*, q: str, limit: int = SEARCH_LIMIT) -> list[Neighbourhood]:
    """Offered 동 matching every word of `q`: a part of the name, the 시군구 or 시도, or the
    name a row had before the national table; a word of 초성 only ("ㅇㅅ") matches the name's
    초성. Names that start with the first word come first, then shorter names."""
    from django.db.models import Q

    from accounts.geodata import initials, is_initials_query

    words = (q or "").replace("\x00", "").split()[:4]
    words = [word[:20] for word in words if word]
    if not words:
        return []
    qs = Neighbourhood.objects.filter(is_offered=True)
    for word in words:
        if is_initials_query(word):
            qs = qs.filter(initials__contains=word)
        else:
            qs = qs.filter(Q(name__contains=word) | Q(district__contains=word) | Q(legacy_name__contains=word))
    first = words[0]
    first_initials = first if is_initials_query(first) else initials(first)
    rows = list(qs.order_by("district", "name")[:500])
    rows.sort(key=lambda n: (not n.name.startswith(first) and not n.initials.startswith(first_initials), len(n.name)))
    return rows[:limit]


def neighbourhood_ids_within(*, origin: Neighbourhood, radius_km: float) -> list[int]:
    return list(neighbourhood_distances_within(origin=origin, radius_km=radius_km))


def user_location_verified(user: User | AnonymousUser, *, now: datetime | None = None) -> bool:
    """Verified within the last VERIFY_VALID_DAYS days (then we ask again)."""
    if not user.is_authenticated or user.location_verified_at is None:
        return False
    if user.neighbourhood_id is None:
        return False
    now = now or timezone.now()
    return now - user.location_verified_at <= timedelta(days=settings.NEIGHBORBID["VERIFY_VALID_DAYS"])


# --- the acting user -------------------------------------------------------------------------


def access_user(actor: object, *, allow_suspended: bool = False) -> User:
    """Re-read the user a service acts for, and refuse one who may no longer act.

    Every service that acts for someone calls this first: a socket's scope user or a form's
    request.user may be stale (logged out, deactivated or suspended since). Suspended users are
    refused unless the action is one they may still take (tidying a watchlist)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise LoginRequired()
    if getattr(actor, "_read_now", False):
        return actor  # type: ignore[return-value]  # just read by session_user, in this call
    fresh = User.objects.filter(pk=actor.pk).first()  # type: ignore[attr-defined]
    return access_user_read(fresh, allow_suspended=allow_suspended)


def access_user_read(fresh: User | None, *, allow_suspended: bool = False) -> User:
    """access_user's refusals for a user row the caller has just read itself, in a statement of
    its own (the bid's one read: auctions.services.bidding); None: no such user."""
    if fresh is None or not fresh.is_active:
        raise LoginRequired()
    if fresh.is_suspended and not allow_suspended:
        raise AccountSuspended.because(fresh.suspended_reason)
    return fresh


def access_staff(actor: object, *, perm: str, message: str | None = None) -> User:
    """The acting staff user, re-read (a suspended or deactivated moderator has no powers),
    holding the permission `perm` (accounts.roles)."""
    user = access_user(actor)
    if not user.has_perm(perm):
        raise PermissionDenied(message)
    return user


_LOGGED_OUT = "로그인이 풀렸어요. 다시 로그인한 뒤 입찰해 주세요."


@functools.lru_cache(maxsize=4096)
def _session_belongs_to(session_data: str, password: str, user_id: int) -> bool:
    """Does this encoded session name this user, through a configured backend, with the hash
    of this password (so a password change ends it)? A pure function of its arguments (and the
    SECRET_KEYs), so it is remembered: a socket re-checks its session on every write, and
    decoding a signed session and hashing the password cost more than the query."""
    from django.conf import settings
    from django.contrib import auth
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils.crypto import constant_time_compare

    data = SessionStore().decode(session_data)
    owner = User(pk=user_id, password=password)
    session_hash = data.get(auth.HASH_SESSION_KEY) or ""
    return (
        str(data.get(auth.SESSION_KEY)) == str(user_id)
        and data.get(auth.BACKEND_SESSION_KEY) in settings.AUTHENTICATION_BACKENDS
        and any(
            constant_time_compare(session_hash, expected)
            for expected in (owner.get_session_auth_hash(), *owner.get_session_auth_fallback_hash())
        )
    )


# Sessions session_read_check found good, by key: (session_data, password hash, user id) as read
# then. The bid decided inside PostgreSQL (auctions.services.bidding._bid_in_server) acts for a
# socket only while its session row and its user's password are still exactly these, so the
# verdict of _session_belongs_to (a pure function of them) still holds; anything else goes
# through the read and session_read_check again.
_SESSIONS_CHECKED: OrderedDict[str, tuple[str, str, int]] = OrderedDict()
_SESSIONS_CHECKED_MAX = 10_000
_SESSIONS_CHECKED_LOCK = threading.Lock()  # the money threads share it


def session_checked_remember(session_key: str, session_data: str, password: str, user_id: int) -> None:
    """session_read_check passed for this session row and this user's password."""
    with _SESSIONS_CHECKED_LOCK:
        _SESSIONS_CHECKED[session_key] = (session_data, password, user_id)
        _SESSIONS_CHECKED.move_to_end(session_key)
        while len(_SESSIONS_CHECKED) > _SESSIONS_CHECKED_MAX:
            _SESSIONS_CHECKED.popitem(last=False)


def session_checked(session_key: str, *, user_id: int) -> tuple[str, str] | None:
    """(session_data, password hash) of this session as last found good for this user, or None."""
    with _SESSIONS_CHECKED_LOCK:
        found = _SESSIONS_CHECKED.get(session_key)
    if found is None or found[2] != user_id:
        return None
    return found[0], found[1]


@receiver(setting_changed)
def _forget_session_verdicts(*, setting: str, **kwargs: object) -> None:
    """The remembered verdicts depend on these settings (tests override them)."""
    if setting in {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "AUTHENTICATION_BACKENDS", "SESSION_ENGINE"}:
        _session_belongs_to.cache_clear()
        with _SESSIONS_CHECKED_LOCK:
            _SESSIONS_CHECKED.clear()


DEVICE_CREDENTIAL_PREFIX = "device:"  # a socket opened with an app's ticket: "device:<DeviceToken id>"


def _device_user(credential: str, user_id: int) -> User:
    """A ticketed socket's credential: the app's device token, still not revoked (a password
    change, a suspension, logout-everywhere or a revoke of that device end it), of an active
    user, who is not suspended."""
    from accounts.models import DeviceToken

    raw_id = credential.removeprefix(DEVICE_CREDENTIAL_PREFIX)
    if not raw_id.isdigit():
        raise LoginRequired(_LOGGED_OUT)
    row = (
        DeviceToken.objects.select_related("user")
        .filter(pk=int(raw_id), user_id=user_id, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if row is None:
        raise LoginRequired(_LOGGED_OUT)
    user = row.user
    if user.is_suspended:
        raise AccountSuspended.because(user.suspended_reason)
    user._read_now = True  # type: ignore[attr-defined]  # a per-call mark, not a model field
    return user


def session_in_read(session_key: str | None) -> bool:
    """Can this socket's credential be checked inside another statement's read (the bid's one
    read: auctions.services.bidding), by session_read_check? Only a Django session key held by
    the database session engine; a device credential or another engine goes through
    session_user."""
    from django.conf import settings

    return (
        bool(session_key)
        and not str(session_key).startswith(DEVICE_CREDENTIAL_PREFIX)
        and settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    )


def session_read_check(session_data: str | None, fresh: User | None, *, user_id: int) -> User:
    """session_user's refusals for a session row and a user row the caller has just read in a
    statement of its own (the unexpired session's `session_data` by key, None when there is
    none; the user by id, None when there is none): logged out, password changed since,
    deactivated, suspended. Returns the user, read now."""
    if session_data is None or fresh is None or not fresh.is_active:
        raise LoginRequired(_LOGGED_OUT)
    if not _session_belongs_to(session_data, fresh.password, user_id):
        raise LoginRequired(_LOGGED_OUT)
    if fresh.is_suspended:
        raise AccountSuspended.because(fresh.suspended_reason)
    fresh._read_now = True  # type: ignore[attr-defined]  # a per-call mark, not a model field
    return fresh


def session_user(*, session_key: str | None, user_id: int) -> User:
    """The user of a socket's session *now*, refusing a session logged out (deleted or expired),
    one whose password changed since it was created, and a user deactivated or suspended.
    A socket opened with an app's ticket (POST /api/v1/ws-ticket) holds a device token instead
    of a session: `session_key` is then "device:<token id>" (a Django session key never has a
    colon), checked by _device_user.

    With the database session engine this is one query (the session row joined with the user);
    otherwise Django's own get_user on a fresh session store."""
    from importlib import import_module
    from types import SimpleNamespace

    from django.conf import settings
    from django.contrib import auth
    from django.db import connection

    if not session_key:
        raise LoginRequired()
    if session_key.startswith(DEVICE_CREDENTIAL_PREFIX):
        return _device_user(session_key, user_id)
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        user = auth.get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
        if not user.is_authenticated or user.pk != user_id:
            raise LoginRequired(_LOGGED_OUT)
        # `not user.is_authenticated` above narrowed away AnonymousUser: `user` is a User here.
        if user.is_suspended:
            raise AccountSuspended.because(user.suspended_reason)
        user._read_now = True  # type: ignore[attr-defined]  # a per-call mark, not a model field
        return user
    found = _session_and_user(connection, session_key=session_key, user_id=user_id)
    if found is None:
        raise LoginRequired(_LOGGED_OUT)
    # read now, in this call: the services' access_user need not read the same row again
    return session_read_check(found[0], found[1], user_id=user_id)


def _session_and_user(connection: Any, *, session_key: str, user_id: int) -> tuple[str, User] | None:
    """One statement: the unexpired session's data by key and the active user by id, the whole
    row as the ORM would load it (no field left at a default it does not hold); None when either
    is not there."""
    from django.contrib.sessions.models import Session

    columns = [f.attname for f in User._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.session_data, {', '.join('u.' + c for c in columns)} "  # noqa: S608 (table names from meta)
            f"FROM {Session._meta.db_table} s, {User._meta.db_table} u "
            "WHERE s.session_key = %s AND s.expire_date > %s AND u.id = %s AND u.is_active",
            [session_key, connection.ops.adapt_datetimefield_value(timezone.now()), user_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return row[0], User.from_db(connection.alias, columns, row[1:])


def users_share_device(*, user_id: int, other_id: int) -> bool:
    """Whether the two accounts were ever signed in from the same browser (a hard link)."""
    if user_id == other_id:
        return False
    theirs = DeviceSighting.objects.filter(user_id=other_id).values("device_hash")
    return DeviceSighting.objects.filter(user_id=user_id, device_hash__in=theirs).exists()


# --- the user of a page request --------------------------------------------------------------

# session key -> the user id its data named when this process last verified it. A hint only: it
# lets the session row and the user row come back in one statement (request_user). A session
# key's user does not change (django.contrib.auth.login cycles or flushes the key), and a wrong
# or stale hint costs nothing but Django's own path.
_SESSION_USERS: dict[str, int] = {}
_SESSION_USERS_MAX = 20_000


def request_user(request: HttpRequest) -> User | AnonymousUser:
    """`request.user` for a page (accounts.middleware.AuthenticationMiddleware): exactly what
    django.contrib.auth.get_user answers, read fresh on every request. When this process has
    verified the request's session before, the session row and the user row come back in one
    statement and are checked here as get_user checks them (unexpired session naming this user
    through a configured backend with ModelBackend's lookup, an active user, the session's hash of
    the current password under the current SECRET_KEY); the session store then holds the decoded
    data, so nothing reads the session again. Anything else (no hint, no row, a mismatch, a
    hash only a fallback secret signs, another session engine) goes to get_user itself, which
    also does what Django does on a mismatch (flush the session, or cycle a fallback-signed
    key). One statement where Django's path is two ORM queries (issue 19 #3: the ORM's
    query building for these two reads was a tenth of an HTTP bid's CPU)."""
    from django.contrib import auth

    store = request.session
    key = store.session_key
    user_id = _SESSION_USERS.get(key) if key else None
    if key and user_id is not None and not hasattr(store, "_session_cache"):
        known = _session_user_in_one_read(store, key, user_id)
        if known is not None:
            return known
    user = auth.get_user(request)
    if isinstance(user, User) and store.session_key:
        if len(_SESSION_USERS) >= _SESSION_USERS_MAX:
            _SESSION_USERS.clear()  # a hint table, not a cache of answers: starting over is free
        _SESSION_USERS[store.session_key] = user.pk
    return user


def _session_user_in_one_read(store: SessionBase, key: str, user_id: int) -> User | None:
    """The session row and the hinted user row in one statement, checked as get_user checks
    them; None (the store untouched) when anything is not the plain signed-in case."""
    from django.contrib import auth
    from django.contrib.auth.backends import ModelBackend
    from django.contrib.sessions.models import Session
    from django.db import connections, router
    from django.utils.crypto import constant_time_compare

    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return None
    found = _session_and_user(connections[router.db_for_read(Session)], session_key=key, user_id=user_id)
    if found is None:  # no such session, or the hinted user is gone or inactive
        return None
    data, user = store.decode(found[0]), found[1]
    backend_path = data.get(auth.BACKEND_SESSION_KEY)
    try:
        named = User._meta.pk.to_python(data.get(auth.SESSION_KEY))
    except Exception:  # noqa: BLE001 (a malformed id: Django's path decides)
        return None
    if named != user_id or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    backend = auth.load_backend(backend_path)
    if not isinstance(backend, ModelBackend) or type(backend).get_user is not ModelBackend.get_user:
        return None  # a backend with a lookup of its own: it decides
    if not backend.user_can_authenticate(user):
        return None
    session_hash = data.get(auth.HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None
    # What SessionBase._get_session would have done with this row (Django's own attributes).
    store._session_cache = data  # type: ignore[attr-defined]  # SessionBase sets it in _get_session
    store.accessed = True
    return user
