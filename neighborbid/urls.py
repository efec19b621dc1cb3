from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.templatetags.static import static as static_url
from django.urls import include, path

from neighborbid import health
from notifications import views as notification_views

handler500 = "neighborbid.unavailable.server_error"  # a lost database is a 503, never a 500


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says: send them to the logo."""
    return HttpResponseRedirect(static_url("img/logo.svg"))


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("sw.js", notification_views.service_worker, name="service_worker"),  # root scope (issue 22)
    path("notifications/", include("notifications.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/", include("api.urls")),
    path("accounts/", include("accounts.urls")),
    path("wallet/", include("wallets.urls")),
    path("", include("reviews.urls")),
    path("chat/", include("chat.urls")),
    path("trades/", include("trades.urls")),
    path("", include("auctions.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
