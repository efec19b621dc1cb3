"""Account services: sign-up, neighbourhood verification, range, suspension."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections import Counter
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.geodata import DongRow, initials, name_stem, read_rows
from accounts.models import DeviceSighting, DeviceToken, Neighbourhood, User
from accounts.selectors import access_staff, access_user, distance_km, neighbourhood_nearest
from neighborbid.errors import DeviceNotFound, InvalidRequest, NotEligible, PermissionDenied
from wallets.services import wallet_create

logger = logging.getLogger("neighborbid.accounts")
SUSPEND = "accounts.suspend_user"  # the moderators' permission (accounts.roles)


def user_create(
    *,
    username: str,
    password: str | None,
    nickname: str,
    neighbourhood: Neighbourhood | None = None,
    superuser: bool = False,
    **extra: Any,
) -> User:
    """Create a user and their one wallet, in one transaction: the only way users come to be
    (sign-up, the admin's "add user", `createsuperuser`, the demo data, the tests' factories).
    A None password makes an account that cannot log in with a password."""
    username = (username or "").strip()
    nickname = (nickname or "").strip()
    if not username or not nickname:
        raise InvalidRequest("아이디와 닉네임을 입력해 주세요.")
    if User.objects.filter(username__iexact=username).exists():
        raise InvalidRequest("이미 사용 중인 아이디예요.")
    if password is not None and not superuser:
        candidate = User(username=username, nickname=nickname)
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            raise InvalidRequest(" ".join(exc.messages)) from exc
    create = User.objects.create_superuser if superuser else User.objects.create_user
    try:
        with transaction.atomic():
            user = create(username=username, password=password, nickname=nickname, neighbourhood=neighbourhood, **extra)
            wallet_create(user=user)
    except IntegrityError as exc:  # the same name signed up at the same moment
        raise InvalidRequest("이미 사용 중인 아이디예요.") from exc
    return user


def user_verify_location(*, actor: User, neighbourhood_id: int, latitude: object, longitude: object) -> float:
    """Daangn-style verification: the browser's position must lie within VERIFY_RADIUS_KM of the
    chosen neighbourhood's centre (computed here, on the server). Returns the distance."""
    try:
        lat = float(latitude)  # type: ignore[arg-type]
        lon = float(longitude)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidRequest("위치 정보를 읽을 수 없어요.") from exc
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # also rejects NaN
        raise InvalidRequest("위치 정보가 올바르지 않아요.")
    neighbourhood = Neighbourhood.objects.filter(pk=neighbourhood_id, is_offered=True).first()
    if neighbourhood is None:
        raise InvalidRequest("동네를 골라 주세요.")
    km = distance_km(lat, lon, neighbourhood.latitude, neighbourhood.longitude)
    limit = settings.NEIGHBORBID["VERIFY_RADIUS_KM"]
    if km > limit:
        nearest = neighbourhood_nearest(latitude=lat, longitude=lon, limit=1)
        if nearest:
            place, place_km = nearest[0]
            hint = f"가장 가까운 동네는 {place.full_name}(약 {place_km:.1f}km)예요."
        else:
            hint = "근처에 인증할 수 있는 동네가 없어요."
        raise NotEligible(
            f"현재 위치가 {neighbourhood.name}에서 약 {km:.1f}km 떨어져 있어요. "
            f"{limit:g}km 안에서만 인증할 수 있어요. {hint}"
        )
    user = access_user(actor, allow_suspended=True)
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(neighbourhood=neighbourhood, location_verified_at=timezone.now())
    actor.refresh_from_db(fields=["neighbourhood", "location_verified_at"])
    return km


def neighbourhoods_load(*, rows: list[DongRow] | None = None, model: type[Neighbourhood] | None = None) -> Counter:
    """Load the national 동 table (accounts/data/korea_dong.csv unless `rows`), idempotently,
    keyed by the 행정기관코드, in one transaction. Returns what it did (`created`, `updated`,
    `matched`, `retired`; empty when nothing changed).

    - A row with a code takes the table's name, 시도/시군구 and centre (a renamed 동 is
      updated, never duplicated).
    - A row without a code (typed by hand before the table came) keeps its id and its users:
      it is matched to the same name in the same 시군구, else to the nearest 행정동 of the same
      name stem ("역삼동" → 역삼1동 or 역삼2동, whichever centre is nearer), and its old name is
      kept in `legacy_name`. One with no match is kept but no longer offered.
    - A coded row whose code left the table is kept (old users and listings) but not offered.

    `model` is the historical model when a migration calls this."""
    model = model or Neighbourhood
    rows = read_rows() if rows is None else rows
    report: Counter = Counter()
    with transaction.atomic():
        existing = list(model.objects.order_by("pk"))
        by_code = {n.code: n for n in existing if n.code}
        wanted = {row.code: row for row in rows}
        free: dict[str, list[DongRow]] = {}
        for row in rows:
            if row.code not in by_code:
                free.setdefault(row.district, []).append(row)
        codeless = [n for n in existing if not n.code]
        matched: set[int] = set()
        for exact in (True, False):  # every same-name match first, then the name stems
            for n in codeless:
                if n.pk in matched:
                    continue
                stem = name_stem(n.name)
                pool = [
                    row
                    for row in free.get(n.district, [])
                    if row.code not in by_code
                    and (row.name == n.name if exact else bool(stem) and name_stem(row.name) == stem)
                ]
                if not pool:
                    continue
                best = min(pool, key=lambda r: distance_km(n.latitude, n.longitude, r.latitude, r.longitude))
                n.code = best.code
                n.legacy_name = n.legacy_name or n.name
                by_code[best.code] = n
                matched.add(n.pk)
                report["matched"] += 1
        created: list[Neighbourhood] = []
        for row in rows:
            values = {
                "name": row.name,
                "district": row.district,
                "sido": row.sido,
                "sigungu": row.sigungu,
                "latitude": row.latitude,
                "longitude": row.longitude,
                "is_offered": True,
                "initials": initials(row.name),
            }
            found = by_code.get(row.code)
            if found is None:
                created.append(model(code=row.code, **values))
                continue
            n = found
            changed = [field for field, value in values.items() if getattr(n, field) != value]
            for field in changed:
                setattr(n, field, values[field])
            if n.pk in matched:
                changed += ["code", "legacy_name"]
            if changed:
                n.save(update_fields=changed)
                report["updated"] += 1
        model.objects.bulk_create(created, batch_size=500)
        report["created"] += len(created)
        for n in existing:
            if n.is_offered and (n.code not in wanted if n.code else n.pk not in matched):
                n.is_offered = False
                n.save(update_fields=["is_offered"])
                report["retired"] += 1
    return +report


def user_set_radius(*, actor: User, radius_km: int) -> None:
    if radius_km not in User.Radius.values:
        raise InvalidRequest("동네 범위를 골라 주세요.")
    user = access_user(actor, allow_suspended=True)
    User.objects.filter(pk=user.pk).update(search_radius_km=radius_km)
    actor.search_radius_km = radius_km


def _check_may_moderate(*, staff: User, target_id: int) -> User:
    """The guards shared by suspend and unsuspend: not oneself, staff only by a superuser."""
    target = User.objects.filter(pk=target_id).only("is_staff", "is_superuser").first()
    if target is None:
        raise InvalidRequest("사용자를 찾을 수 없어요.")
    if target.pk == staff.pk:
        raise PermissionDenied("자기 자신의 이용 상태는 바꿀 수 없어요.")
    if (target.is_staff or target.is_superuser) and not staff.is_superuser:
        raise PermissionDenied("운영진 계정은 최고 관리자만 정지하거나 해제할 수 있어요.")
    return target


def user_suspend(*, user_id: int, staff_user: User, reason: str) -> int:
    """Suspend a user: no listing, bidding or buying from now on (staff powers included); they
    are told (a notification, pushed live); then the `accounts.signals.user_suspended` hook runs
    (auctions hides and refunds their live listings, each in its own transaction). Returns how
    many listings were hidden. Safe to run again (it finishes what is left)."""
    from accounts.signals import user_suspended
    from notifications.models import Notification
    from notifications.services import notification_create

    staff = access_staff(staff_user, perm=SUSPEND)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("정지 사유를 입력해 주세요.")
    _check_may_moderate(staff=staff, target_id=user_id)
    with transaction.atomic():
        updated = User.objects.filter(pk=user_id).update(
            is_suspended=True, suspended_reason=reason, suspended_at=timezone.now()
        )
        if not updated:
            raise InvalidRequest("사용자를 찾을 수 없어요.")
        notification_create(
            user_ids=[user_id],
            kind=Notification.Kind.SUSPENDED,
            message=f"운영 정책에 따라 계정 이용이 정지됐어요. 사유: {reason}",
        )
        user_sessions_changed(user_id=user_id)
        device_tokens_revoke_all(user_id=user_id)
    answers = user_suspended.send(sender=User, user_id=user_id, staff_user=staff, reason=reason)
    hidden = 0
    for _receiver, answer in answers:
        answer_: object = answer
        if isinstance(answer_, int):
            hidden += answer_
    logger.info("user suspended id=%s staff=%s hidden=%s", user_id, staff.pk, hidden)
    return hidden


def user_unsuspend(*, user_id: int, staff_user: User) -> None:
    """Lift a suspension, with the same guards as suspending (a suspended moderator cannot
    lift their own: they are refused as the acting user first)."""
    staff = access_staff(staff_user, perm=SUSPEND)
    _check_may_moderate(staff=staff, target_id=user_id)
    User.objects.filter(pk=user_id).update(is_suspended=False, suspended_reason="", suspended_at=None)
    logger.info("user unsuspended id=%s staff=%s", user_id, staff.pk)


def user_temperature_set(*, user_id: int, temperature: Decimal) -> None:
    """Store a user's 매너온도 (the only writer of User.manner_temperature). The value is
    computed by reviews.rules from the reviews the user received; the review services call
    this inside their own transaction, so a review and the temperature it causes commit
    together. Refuses a value outside 0–99 °C."""
    if not isinstance(temperature, Decimal) or not temperature.is_finite() or not (0 <= temperature <= 99):
        raise InvalidRequest("매너온도 값이 올바르지 않아요.")
    User.objects.filter(pk=user_id).update(manner_temperature=temperature.quantize(Decimal("0.1")))


def user_sessions_changed(*, user_id: int) -> None:
    """A session of this user ended or lost its validity (logout, password change,
    suspension): after commit, every live socket of the user re-checks its own session and
    stops personal delivery if it no longer holds (realtime.consumers)."""
    from realtime.events import send_user_event_on_commit

    send_user_event_on_commit(user_id=user_id, event={"type": "session_recheck"})


def device_sighting_record(*, user_id: int, device_id: str) -> None:
    """Note that this user signed in from this browser (its device cookie; only the hash is
    kept). Idempotent: a known device only moves its last_seen."""
    if not device_id:
        return
    digest = hashlib.sha256(device_id.encode()).hexdigest()
    now = timezone.now()
    with transaction.atomic():
        updated = DeviceSighting.objects.filter(user_id=user_id, device_hash=digest).update(last_seen=now)
        if not updated:
            DeviceSighting.objects.get_or_create(
                user_id=user_id, device_hash=digest, defaults={"first_seen": now, "last_seen": now}
            )


# --- app sign-ins (device tokens of the JSON API, api/) ---------------------------------------

DEVICE_TOKEN_PREFIX = "nbt_"  # noqa: S105 (a prefix that makes a leaked token recognisable, not a secret)
DEVICE_TOKEN_TOUCH_S = 60  # last_used_at is written at most once a minute per device
DEVICE_TOKENS_MAX = 20  # live app sign-ins per user; a new one past it signs the least recently used out


def device_token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def device_token_create(*, actor: User, name: str) -> tuple[DeviceToken, str]:
    """Sign an app in on one device: a new opaque token (returned once, in the clear) of which
    only the SHA-256 is stored; past DEVICE_TOKENS_MAX live devices the least recently used
    one is signed out. The password was checked by the door (with the login page's
    lock-out); a suspended user may sign in, as on the site (to take their money out)."""
    name = " ".join((name or "").split())
    if not name or len(name) > 100 or not name.isprintable():
        raise InvalidRequest("기기 이름을 1~100자로 입력해 주세요.")
    user = access_user(actor, allow_suspended=True)
    raw = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = DeviceToken.objects.create(user=user, name=name, token_hash=device_token_hash(raw))
        live = DeviceToken.objects.filter(user_id=user.pk, revoked_at__isnull=True)
        stale = list(
            live.exclude(pk=token.pk)
            .annotate(seen=Coalesce("last_used_at", "created_at"))
            .order_by("-seen", "-pk")
            .values_list("pk", flat=True)[DEVICE_TOKENS_MAX - 1 :]
        )
        if stale:
            # a lost phone's sign-in need not block a new one: the oldest unused goes
            DeviceToken.objects.filter(pk__in=stale).update(revoked_at=timezone.now())
    logger.info("device token created user=%s device=%s", user.pk, token.pk)
    return token, raw


def device_token_authenticate(*, raw_token: str) -> User | None:
    """The user a bearer token signs in, or None (unknown, revoked, or the account is
    deactivated). Notes the use (at most once a minute: a read per request, not a write)."""
    if not raw_token or len(raw_token) > 200 or not raw_token.startswith(DEVICE_TOKEN_PREFIX):
        return None
    row = (
        DeviceToken.objects.select_related("user")
        .filter(token_hash=device_token_hash(raw_token), revoked_at__isnull=True)
        .first()
    )
    if row is None or not row.user.is_active:
        return None
    now = timezone.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > DEVICE_TOKEN_TOUCH_S:
        DeviceToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


def device_token_revoke(*, actor: User, token_id: int) -> None:
    """Sign one of my app devices out. Someone else's (or no such) device is "not found"."""
    user = access_user(actor, allow_suspended=True)
    with transaction.atomic():
        found = DeviceToken.objects.filter(pk=token_id, user_id=user.pk).select_for_update().first()
        if found is None:
            raise DeviceNotFound()
        if found.revoked_at is None:
            DeviceToken.objects.filter(pk=found.pk).update(revoked_at=timezone.now())
            _device_revoked(user.pk)


def _device_revoked(user_id: int) -> None:
    # sockets opened with this user's tickets re-check their credential (realtime.consumers)
    user_sessions_changed(user_id=user_id)


def device_tokens_revoke_all(*, user_id: int) -> int:
    """Every app device of a user signs out (a password change, a suspension, 모든 기기에서
    로그아웃). Runs in the caller's transaction when there is one. Returns how many."""
    return DeviceToken.objects.filter(user_id=user_id, revoked_at__isnull=True).update(revoked_at=timezone.now())


def user_logout_everywhere(*, actor: User, keep_session_key: str | None = None) -> int:
    """모든 기기에서 로그아웃: every app device token is revoked and every signed-in browser
    session of the user is deleted (but `keep_session_key`, the caller's own, when given);
    live sockets re-check their sessions after commit. Returns how many tokens were revoked.

    Sessions are not indexed by user in Django's database store: the user's are found among the
    unexpired sessions by decoding them (fine for this site's size; a busy site would keep a
    per-user session index)."""
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session

    user = access_user(actor, allow_suspended=True)
    with transaction.atomic():
        revoked = device_tokens_revoke_all(user_id=user.pk)
        mine = []
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
            if session.session_key == keep_session_key:
                continue
            if str(session.get_decoded().get(SESSION_KEY)) == str(user.pk):
                mine.append(session.session_key)
        Session.objects.filter(session_key__in=mine).delete()
        user_sessions_changed(user_id=user.pk)
    logger.info("logout everywhere user=%s tokens=%s sessions=%s", user.pk, revoked, len(mine))
    return revoked


# --- tickets for native WebSocket clients (POST /api/v1/ws-ticket) ------------------------------

WS_TICKET_TTL_S = 30
_local_tickets: dict[str, tuple[float, int, str]] = {}  # without Redis (the embedded dev server)
_local_tickets_lock = threading.Lock()


def _ticket_key(ticket: str) -> str:
    return f"{getattr(settings, 'BUS_PREFIX', 'nb')}:wsticket:{hashlib.sha256(ticket.encode()).hexdigest()}"


def ws_ticket_create(*, actor: User, credential: str) -> str:
    """A one-time ticket, valid WS_TICKET_TTL_S seconds, that a native client passes on the
    WebSocket URL (`?ticket=`) instead of a cookie. It names the user and the credential the
    socket will hold: "device:<token id>" (an app) or a session key (the site). Only its hash is
    kept (in Redis, shared by every server process)."""
    import json
    import time

    user = access_user(actor, allow_suspended=True)  # a suspended user may still watch
    if not credential or len(credential) > 64:
        raise InvalidRequest("인증 정보를 확인할 수 없어요.")
    ticket = "nbw_" + secrets.token_urlsafe(24)
    if not settings.REDIS_URL:
        with _local_tickets_lock:
            now = time.monotonic()
            for key in [k for k, (exp, *_rest) in _local_tickets.items() if exp < now]:
                del _local_tickets[key]
            _local_tickets[_ticket_key(ticket)] = (now + WS_TICKET_TTL_S, user.pk, credential)
        return ticket
    from neighborbid.bus import redis_client

    payload = json.dumps({"user_id": user.pk, "credential": credential})
    redis_client().set(_ticket_key(ticket), payload, ex=WS_TICKET_TTL_S)
    return ticket


def ws_ticket_redeem(*, ticket: str) -> tuple[int, str] | None:
    """(user id, credential) of a ticket, which works once (GETDEL) and only in time; None
    otherwise. The socket then checks the credential as it checks a session."""
    import json
    import time

    if not ticket or len(ticket) > 100 or not ticket.startswith("nbw_"):
        return None
    key = _ticket_key(ticket)
    if not settings.REDIS_URL:
        with _local_tickets_lock:
            found = _local_tickets.pop(key, None)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1], found[2]
    from neighborbid.bus import redis_client

    try:
        raw = redis_client().getdel(key)
    except Exception as exc:  # Redis away: no ticket works (a cookie still does)
        logger.warning("ws ticket redeem failed: %s", exc)
        return None
    if raw is None:
        return None
    data = json.loads(raw)
    return int(data["user_id"]), str(data["credential"])
