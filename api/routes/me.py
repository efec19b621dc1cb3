"""Me, and finding my 동: search by name (초성 too) and the nearest 동 to a point."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from accounts.models import User
from accounts.selectors import neighbourhood_nearest, neighbourhood_search, user_location_verified
from accounts.services import user_set_radius, user_verify_location
from api.auth import actor, rate_limit
from api.routes.common import neighbourhood_out
from api.schemas import MeOut, NearbyIn, NearbyOut, NeighbourhoodOut, RadiusIn, VerifyIn, VerifyOut, problems

router = Router(tags=["me"])


class SearchIn(Schema):
    q: str = Field(min_length=1, max_length=40, description="동 이름의 일부, 시군구, 초성")


def _me(user: User) -> MeOut:
    return MeOut(
        id=user.pk,
        username=user.username,
        nickname=user.nickname,
        neighbourhood=neighbourhood_out(user.neighbourhood) if user.neighbourhood else None,
        location_verified=user_location_verified(user),
        search_radius_km=user.search_radius_km,
        manner_temperature=float(user.manner_temperature),
        is_suspended=user.is_suspended,
    )


@router.get("/me", response={200: MeOut, **problems(401)}, summary="내 정보")
def me(request: HttpRequest):
    return _me(actor(request))


@router.post("/me/verify", response={200: VerifyOut, **problems(400, 401, 403, 422, 429)}, summary="동네 인증")
def verify(request: HttpRequest, data: VerifyIn):
    """Daangn-style: where I stand must lie within VERIFY_RADIUS_KM (3 km) of the chosen 동's
    centre (403 not_eligible names the nearest 동 otherwise). Limited like the page."""
    user = actor(request)
    rate_limit(request, "verify", user=user)
    km = user_verify_location(
        actor=user, neighbourhood_id=data.neighbourhood_id, latitude=data.latitude, longitude=data.longitude
    )
    fresh = User.objects.select_related("neighbourhood").get(pk=user.pk)
    return VerifyOut(km=round(km, 2), me=_me(fresh))


@router.put("/me/radius", response={200: MeOut, **problems(400, 401, 422)}, summary="동네 범위")
def radius(request: HttpRequest, data: RadiusIn):
    user = actor(request)
    user_set_radius(actor=user, radius_km=data.radius_km)
    return _me(User.objects.select_related("neighbourhood").get(pk=user.pk))


@router.get("/neighbourhoods", auth=None, response={200: list[NeighbourhoodOut], **problems(422)}, summary="동네 검색")
def neighbourhoods(request: HttpRequest, search: Query[SearchIn]):
    """Offered 동 matching every word of `q` (part of the name, the 시군구, 초성 like "ㅇㅅ")."""
    return [neighbourhood_out(n) for n in neighbourhood_search(q=search.q.replace("\x00", ""))]


@router.post(
    "/neighbourhoods/nearest",
    response={200: list[NearbyOut], **problems(401, 422, 429)},
    summary="가까운 동네 (내 위치)",
)
def neighbourhoods_nearest(request: HttpRequest, data: NearbyIn):
    """The three offered 동 nearest to a point (POST: positions stay out of URLs and logs); empty
    at sea or abroad. Limited like the verification page's proposals."""
    rate_limit(request, "nearby", user=actor(request))
    limit = settings.NEIGHBORBID["VERIFY_RADIUS_KM"]
    found = neighbourhood_nearest(latitude=data.latitude, longitude=data.longitude, limit=3)
    return [NearbyOut(neighbourhood=neighbourhood_out(n), km=round(km, 1), in_range=km <= limit) for n, km in found]
