from django.http import HttpRequest, HttpResponse
from django.urls import path

from api import problems
from api.v1 import api


def not_found(request: HttpRequest, rest: str) -> HttpResponse:
    """Any other path under /api/v1/: a problem, not the site's HTML 404 page. (A plain Django
    view: a POST here without a CSRF token is refused by Django first, as everywhere.)"""
    return problems.simple(problems.NOT_FOUND)


urlpatterns = [path("v1/", api.urls), path("v1/<path:rest>", not_found)]
