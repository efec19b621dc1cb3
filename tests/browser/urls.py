"""The site's URLs plus media files, for the browser tests' live server (DEBUG is off there,
so neighborbid.urls does not serve uploads; production serves them from the proxy)."""

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

from neighborbid.urls import urlpatterns as site_urlpatterns

urlpatterns = [
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    *site_urlpatterns,
]
