"""ASGI entry point (Daphne): HTTP goes to Django; WebSockets go through the Origin check
(only as strict as ALLOWED_HOSTS: never run with `*`), the session/auth middleware and the
URL router to auctions.consumers and chat.consumers (`ws/chat/<room_id>/`); a socket with
`?ticket=` (native apps) is authenticated by its one-time ticket instead (api/websocket.py).

Without REDIS_URL (the embedded `make run` default) this process also runs the settlement loop
in a thread (auctions/embedded.py), so its events reach the sockets through the in-process bus."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "neighborbid.settings")

from neighborbid.handlers import get_http_application  # noqa: E402
from neighborbid.serving import daphne_form_parsing_off  # noqa: E402

# Twisted parses no form body Daphne would hand to Django unread (neighborbid/serving.py)
daphne_form_parsing_off()

# Django's ASGI handler, with the middleware chain and the view in one thread hop per request
# (neighborbid/handlers.py)
django_asgi_app = get_http_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from api.websocket import TicketOrOrigin  # noqa: E402
from auctions.routing import websocket_urlpatterns  # noqa: E402
from chat.routing import websocket_urlpatterns as chat_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # `?ticket=` (apps, POST /api/v1/ws-ticket): the ticket is the credential, no Origin
        # needed (api/websocket.py); otherwise the site's way: Origin check, session cookie.
        "websocket": TicketOrOrigin(
            ticketed=URLRouter(chat_urlpatterns + websocket_urlpatterns),
            site=AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(chat_urlpatterns + websocket_urlpatterns))),
        ),
    }
)

from auctions.embedded import embedded_worker_start  # noqa: E402

embedded_worker_start()

# Everything is loaded: freeze it out of the collector's walks (neighborbid/serving.py)
from django.conf import settings  # noqa: E402

from neighborbid.serving import gc_tune_for_serving  # noqa: E402

gc_tune_for_serving(freeze=settings.GC_FREEZE, gen0_threshold=settings.GC_GEN0_THRESHOLD)
