"""Sign-up, profile, neighbourhood verification and range. Log-in and log-out are Django's
auth views (accounts/urls.py)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import RadiusForm, SignupForm, VerifyLocationForm
from accounts.selectors import neighbourhood_nearest, neighbourhood_search, user_location_verified
from accounts.services import user_create, user_set_radius, user_verify_location
from neighborbid.errors import DomainError


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("auctions:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = user_create(
                    username=data["username"],
                    password=data["password1"],
                    nickname=data["nickname"],
                    email=data.get("email") or "",
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(
                    request,
                    _("%(name)s님, 환영해요! 동네 인증을 하면 동네 경매에 참여할 수 있어요.") % {"name": user.nickname},
                )
                return redirect("accounts:verify")
        messages.error(request, _("입력한 내용을 확인해 주세요."))
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_GET
def profile(request):
    user = request.user
    expires = None
    if user.location_verified_at:
        expires = user.location_verified_at + timedelta(days=settings.NEIGHBORBID["VERIFY_VALID_DAYS"])
    return render(
        request,
        "accounts/profile.html",
        {
            "verified": user_location_verified(user),
            "verify_expires": expires,
            "radius_form": RadiusForm(initial={"radius_km": user.search_radius_km}),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    user = request.user
    form = VerifyLocationForm(request.POST or None, initial={"neighbourhood": user.neighbourhood_id})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                km = user_verify_location(
                    actor=user,
                    neighbourhood_id=data["neighbourhood"].pk,
                    latitude=data["latitude"],
                    longitude=data["longitude"],
                )
            except DomainError as exc:
                messages.error(request, exc.message)
                status = 400
            else:
                # "(동네 중심에서 0.0km)" read oddly: under 100 m it is simply the centre
                where = _("동네 중심 바로 근처") if km < 0.05 else _("동네 중심에서 %(km).1fkm") % {"km": km}
                messages.success(
                    request,
                    _("%(name)s 인증을 마쳤어요! (%(where)s) 30일 동안 유지돼요.")
                    % {"name": data["neighbourhood"].name, "where": where},
                )
                return redirect(_safe_next(request, "auctions:home"))
        else:
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            status = 400
    q = (request.GET.get("q") or "").strip()[:40]
    current = user.neighbourhood if user.neighbourhood_id and user.neighbourhood.is_offered else None
    return render(
        request,
        "accounts/verify.html",
        {
            "form": form,
            "q": q,
            "results": neighbourhood_search(q=q) if q else [],
            "current": current,
            "verified": user_location_verified(user),
            "radius_km": settings.NEIGHBORBID["VERIFY_RADIUS_KM"],
            "next": _safe_next(request, ""),
        },
        status=status,
    )


@login_required
@require_POST
def verify_nearby(request):
    """The nearest 동 (and the next two) to the browser's position, for the verification page's
    proposals (static/js/app.js). POST, so the position stays out of URLs and access logs."""
    try:
        lat = float(request.POST.get("latitude", ""))
        lon = float(request.POST.get("longitude", ""))
    except ValueError:
        return JsonResponse({"error": _("위치 정보를 읽을 수 없어요.")}, status=400)
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # also NaN
        return JsonResponse({"error": _("위치 정보가 올바르지 않아요.")}, status=400)
    found = neighbourhood_nearest(latitude=lat, longitude=lon, limit=3)
    limit = settings.NEIGHBORBID["VERIFY_RADIUS_KM"]
    return JsonResponse(
        {
            "results": [
                {"id": n.pk, "name": n.name, "full_name": n.full_name, "km": round(km, 1), "in_range": km <= limit}
                for n, km in found
            ],
            "message": ""
            if found
            else _("가까운 동네를 찾지 못했어요. 국내 육지에서 다시 시도하거나 아래에서 동네를 찾아 주세요."),
        }
    )


@login_required
@require_POST
def radius(request):
    form = RadiusForm(request.POST)
    back = _safe_next(request, "auctions:home")
    if not form.is_valid():
        messages.error(request, _("동네 범위를 골라 주세요."))
        return redirect(back)
    try:
        user_set_radius(actor=request.user, radius_km=form.cleaned_data["radius_km"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("동네 범위를 %(km)skm로 바꿨어요.") % {"km": form.cleaned_data["radius_km"]})
    return redirect(back)


class LogoutView(auth_views.LogoutView):
    """Django's logout (POST only), then a word that it worked on the page it lands on."""

    def post(self, request, *args, **kwargs):
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_signed_in:
            messages.success(request, _("로그아웃했어요. 다음에 또 만나요."))
        return response
