"""Pieces the routers share."""

from __future__ import annotations

from typing import Annotated

from ninja import Header

from accounts.models import Neighbourhood
from api.schemas import NeighbourhoodOut

# The money calls' request id (the services' `request_id`): 1–64 printable ASCII characters,
# e.g. a UUID made once per user action and sent again on every retry of that action.
IDEMPOTENCY_KEY = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        description="한 번의 사용자 동작마다 새로 만든 값(예: UUID). 재시도할 때는 같은 값을 보내요.",
        min_length=1,
        max_length=64,
        pattern=r"^[\x21-\x7e]+$",
    ),
]


def neighbourhood_out(n: Neighbourhood) -> NeighbourhoodOut:
    return NeighbourhoodOut(
        id=n.pk,
        name=n.name,
        full_name=n.full_name,
        sido=n.sido,
        sigungu=n.sigungu,
        latitude=n.latitude,
        longitude=n.longitude,
    )
