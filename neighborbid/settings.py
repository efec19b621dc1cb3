"""NeighborBid settings, read from the environment.

Embedded defaults (no DATABASE_URL / REDIS_URL): SQLite with IMMEDIATE transactions and an
in-process event bus, so `make run` works on a fresh machine. With DATABASE_URL=postgres://...
and REDIS_URL=redis://... the real parts are used (that is what the test suite and
production do).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

# Generic Django classes (ModelAdmin[Wallet], ...) subscriptable at run time, as django-stubs types them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """Parse DATABASE_URL (postgres://user:pass@host:port/name?opt=...) or sqlite:///path."""
    parsed = urlparse(url)
    if parsed.scheme in {"sqlite", "sqlite3"}:
        return sqlite_database(Path(unquote(parsed.path)) if parsed.path else BASE_DIR / "db.sqlite3")
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(f"Unsupported DATABASE_URL scheme: {parsed.scheme!r}")
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    pool_max = int(query.pop("pool_max", os.environ.get("DB_POOL_MAX_SIZE", "20")))
    lock_timeout_ms = int(os.environ.get("DB_LOCK_TIMEOUT_MS", "5000"))
    statement_timeout_ms = int(os.environ.get("DB_STATEMENT_TIMEOUT_MS", "30000"))
    options: dict = {
        # Django's psycopg pool: persistent connections leak under ASGI, and opening a
        # connection per call is slow (see shared/notes/realtime-performance.md).
        # The pool's health check is switched on by CONN_HEALTH_CHECKS below; the backend
        # (neighborbid/db/base.py) runs it only for a connection idle longer than
        # health_check_idle_s (issue 19 #2: no empty round trip per bid).
        "pool": {
            "min_size": 1,
            "max_size": pool_max,
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
            "health_check_idle_s": float(os.environ.get("DB_HEALTH_CHECK_IDLE_S", "2")),
        },
        "options": f"-c lock_timeout={lock_timeout_ms} -c statement_timeout={statement_timeout_ms}",
        # Server-side binding + prepared statements: the bid path's statements are planned once
        # per pooled connection (about 20 % less time per bid, docs/benchmarks.md). Set
        # DB_PREPARE_THRESHOLD=off behind a transaction-pooling PgBouncer.
        "server_side_binding": env_bool("DB_SERVER_SIDE_BINDING", default=True),
    }
    prepare_threshold = os.environ.get("DB_PREPARE_THRESHOLD", "5")
    if prepare_threshold.isdigit():
        options["prepare_threshold"] = int(prepare_threshold)
    for key, value in query.items():  # e.g. ?prepare_threshold=5&server_side_binding=true
        options[key] = int(value) if value.isdigit() else {"true": True, "false": False}.get(value.lower(), value)
    return {
        "ENGINE": "neighborbid.db",  # Django's PostgreSQL backend, the pool check for idle connections only
        "NAME": unquote(parsed.path.lstrip("/")) or "neighborbid",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": 0,
        # With the pool, a connection idle longer than health_check_idle_s is tested (one empty
        # round trip) as it leaves the pool, so sessions the server terminated
        # (pg_terminate_backend, failover, restart) are replaced instead of handed to a request
        # (issue 9 item 7, docs/operations.md).
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
        "TEST": {"NAME": os.environ.get("TEST_DATABASE_NAME") or None},
    }


def sqlite_database(path: Path) -> dict:
    import sqlite3

    if sqlite3.sqlite_version_info < (3, 35):  # UPDATE … RETURNING (chat read marks)
        raise ImproperlyConfigured(
            f"SQLite {sqlite3.sqlite_version} is too old for the embedded default: 3.35 or newer is needed "
            "(or set DATABASE_URL to PostgreSQL)."
        )
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # One writer at a time: BEGIN IMMEDIATE takes the write lock up front, so the
            # embedded default cannot interleave two read-then-write transactions.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


DEBUG = env_bool("DEBUG", default=False)

# A plain bid on a live auction decided inside PostgreSQL in one call (auctions 0019,
# docs/architecture.md); 0 sends every bid through the compare-and-set path (a switch for
# operations, and the benchmarks' before/after).
BID_DECIDE_IN_DATABASE = env_bool("BID_DECIDE_IN_DATABASE", default=True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not env_bool("NEIGHBORBID_ALLOW_INSECURE_KEY"):
        raise ImproperlyConfigured("SECRET_KEY must be set (or DEBUG=1 for development).")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105 (development only, refused in production)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Never a wildcard host: ALLOWED_HOSTS also guards the WebSocket origin check.
if "*" in ALLOWED_HOSTS or any(o == "*" or o.split("://", 1)[-1] in ("*", "") for o in CSRF_TRUSTED_ORIGINS):
    raise ImproperlyConfigured("ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS must name hosts explicitly, never '*'.")

# Production (docs/operations.md): NEIGHBORBID_ENV=production turns on HTTPS-only cookies, HSTS
# and the SSL redirect behind the reverse proxy, and refuses an unsafe configuration at start.
NEIGHBORBID_ENV = os.environ.get("NEIGHBORBID_ENV", "development").strip().lower()
PRODUCTION = NEIGHBORBID_ENV == "production"
if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production.")
    if not os.environ.get("SECRET_KEY") or len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "Production needs SECRET_KEY: 50+ random characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("Production needs ALLOWED_HOSTS (comma-separated host names).")
    CSRF_TRUSTED_ORIGINS = CSRF_TRUSTED_ORIGINS or [
        f"https://*{host}" if host.startswith(".") else f"https://{host}" for host in ALLOWED_HOSTS
    ]
    # The proxy (deploy/nginx.conf) overwrites X-Forwarded-Proto; only trust it behind one.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    "neighborbid.admin_config.NeighborBidAdminConfig",  # django.contrib.admin, suspended staff refused
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "ninja",  # django-ninja: its Swagger UI's static files (served locally, no CDN)
    "realtime",
    "accounts",
    "notifications",
    "wallets",
    "auctions",
    "trades",
    "reviews",
    "chat",
    "fraud",
    "api",  # /api/v1 for apps (docs/api.md): a door over the same services
]

MIDDLEWARE = [
    "neighborbid.middleware.HealthCheckMiddleware",  # /healthz, /readyz before anything else
    "neighborbid.middleware.RequestLogMiddleware",  # one structured line per request
    "neighborbid.unavailable.ServiceUnavailableMiddleware",  # database away / overloaded: 503, never 500
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "neighborbid.middleware.StaticFilesMiddleware",  # WhiteNoise, async-capable: no thread hops per request
    "django.contrib.sessions.middleware.SessionMiddleware",
    "neighborbid.middleware.DeviceCookieMiddleware",  # a device id per browser, recorded at login
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "accounts.middleware.AuthenticationMiddleware",  # Django's, the session and user in one read
    "neighborbid.middleware.RateLimitMiddleware",  # after auth: per-user buckets, login lockout 429
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "neighborbid.middleware.FriendlyNotFoundMiddleware",  # DEBUG only: the Korean 404 (?debug: Django's)
]

# Daphne's HTTP requests (neighborbid/handlers.py): how many run their middleware chain and view
# at once per process (the rest wait, already read), and how long one may wait for its turn
# before it is answered 503 with the reason (its view never run).
HTTP_REQUEST_THREADS = int(os.environ.get("HTTP_REQUEST_THREADS", "4"))
HTTP_REQUEST_WAIT_S = float(os.environ.get("HTTP_REQUEST_WAIT_S", "10"))

# The collector of a serving process (neighborbid.serving.gc_tune_for_serving, called by
# neighborbid.asgi once the application is built): what was loaded at startup is frozen out of
# every later collection, and the youngest generation is collected every GC_GEN0_THRESHOLD net
# allocations instead of Python's 700. GC_FREEZE=0 and GC_GEN0_THRESHOLD=0 leave Python's own.
GC_FREEZE = os.environ.get("GC_FREEZE", "1") == "1"
GC_GEN0_THRESHOLD = int(os.environ.get("GC_GEN0_THRESHOLD", "10000"))

ROOT_URLCONF = "neighborbid.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "neighborbid.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "auctions.context_processors.header",
                "chat.context_processors.chat_header",
                "trades.context_processors.header",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": database_from_url(DATABASE_URL)
    if DATABASE_URL
    else sqlite_database(Path(os.environ.get("SQLITE_PATH", BASE_DIR / "db.sqlite3")))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Reads from a PostgreSQL standby (issue 23; neighborbid/replica.py, docs/operations.md "Reads from
# a standby"): only the read-only public pages, only when the standby has replayed the user's last
# write and lags at most STANDBY_MAX_LAG_S. Writes, locks, money, the worker and the sockets always
# use the primary. Without DATABASE_REPLICA_URL nothing of it is installed.
STANDBY_READS = {
    "MAX_LAG_S": float(os.environ.get("STANDBY_MAX_LAG_S", "5")),  # older than this: read the primary
    "CHECK_S": float(os.environ.get("STANDBY_CHECK_S", "0.15")),  # ask the standby's position this often
    "DOWN_S": float(os.environ.get("STANDBY_DOWN_S", "5")),  # after a failure: primary only for this long
    "PENDING_TTL_S": int(os.environ.get("STANDBY_PENDING_TTL_S", "30")),  # how long a user's write is waited for
    "TIMEOUT_S": float(os.environ.get("STANDBY_TIMEOUT_S", "1")),  # wait for a standby connection at most
}


def replica_database(url: str) -> dict:
    """DATABASES["replica"]: the primary's settings for the standby's URL, read-only, with a short
    wait for a connection (a dead standby costs a request at most TIMEOUT_S, then it is skipped)."""
    replica = database_from_url(url)
    if replica["ENGINE"] != "neighborbid.db":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must be a postgres:// URL.")
    timeout = STANDBY_READS["TIMEOUT_S"]
    replica["OPTIONS"]["pool"]["timeout"] = timeout
    replica["OPTIONS"]["connect_timeout"] = max(2, round(timeout))  # libpq's minimum is 2 s
    replica["OPTIONS"]["options"] += " -c default_transaction_read_only=on"  # a promoted standby stays unwritten
    # Tests: the alias is the test database itself (no second test database is created).
    replica["TEST"] = {"MIRROR": "default"}
    return replica


DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    if DATABASES["default"]["ENGINE"] != "neighborbid.db":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs DATABASE_URL on PostgreSQL too.")
    DATABASES["replica"] = replica_database(DATABASE_REPLICA_URL)
    DATABASE_ROUTERS = ["neighborbid.replica.ReplicaRouter"]
    # after AuthenticationMiddleware: its response side knows the signed-in user
    MIDDLEWARE.insert(
        MIDDLEWARE.index("accounts.middleware.AuthenticationMiddleware") + 1,
        "neighborbid.replica.StandbyWriteMiddleware",
    )

REDIS_URL = os.environ.get("REDIS_URL", "")
# Prefix of every Redis channel and key this deployment uses (lets test runs share a Redis).
BUS_PREFIX = os.environ.get("BUS_PREFIX", "nb")

# Web Push (issue 22, notifications/push.py): VAPID keys as base64url (raw P-256 private key; the
# public key is the uncompressed point the browser gets as applicationServerKey). `make run`
# generates them once into var/vapid.env (gitignored); in production set them in the environment
# (docs/operations.md). Without a private key the push worker sends nothing and jobs wait.
VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY", "")
VAPID_PUBLIC_KEY = os.environ.get("VAPID_PUBLIC_KEY", "")
VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT") or "mailto:ops@neighborbid.invalid"
# Seconds a Redis call may take before we give up (never while a row lock is held).
REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "1.0"))
# The Channels layer (realtime/layer.py, docs/realtime.md): the per-user and per-room traffic
# (notifications, session re-checks, chat) goes through groups. channels-redis's pub/sub layer
# (not the core RedisChannelLayer: with redis-py 8 it has a 5-second disconnect storm,
# channels_redis#422), made to survive a Redis restart by realtime/redis_layer.py; without REDIS_URL
# (the embedded default) Channels' in-memory layer serves
# the same groups in one process. The hot auction states go through the hub (one bus
# subscription per process, coalesced) unless REALTIME["FANOUT"] is "channels".


def channel_layers(redis_url: str, prefix: str) -> dict:
    """CHANNEL_LAYERS for a Redis and a bus prefix (the tests speak to a server's layer with it)."""
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from neighborbid.redisconn import channel_layer_host

    host = channel_layer_host(redis_url, socket_connect_timeout=REDIS_SOCKET_TIMEOUT, socket_keepalive=True)
    return {
        "default": {
            "BACKEND": "realtime.redis_layer.PubSubChannelLayer",
            "CONFIG": {"hosts": [host], "prefix": f"{prefix}.layer"},
        }
    }


CHANNEL_LAYERS = channel_layers(REDIS_URL, BUS_PREFIX)
REALTIME = {
    # how auction states reach the sockets: "hub" (one frame per process, coalesced) or
    # "channels" (group_send per state; each socket encodes its own frame): docs/benchmarks.md
    "FANOUT": os.environ.get("REALTIME_FANOUT", "hub"),
    "COALESCE_MS": int(os.environ.get("REALTIME_COALESCE_MS", "50")),  # min gap between states per auction
    # State frames per second this process writes to all its auction sockets together (issue 25):
    # each auction's gap between states is max(COALESCE_MS, watchers in the process / budget).
    "FRAME_BUDGET_PER_S": float(os.environ.get("REALTIME_FRAME_BUDGET_PER_S", "20000")),
    # sockets a flush writes between two yields to the event loop (acks never wait behind it)
    "FLUSH_YIELD_EVERY": int(os.environ.get("REALTIME_FLUSH_YIELD_EVERY", "200")),
    "BID_RATE_PER_S": float(os.environ.get("WS_BID_RATE_PER_S", "5")),  # per user, all sockets (Redis)
    "BID_BURST": int(os.environ.get("WS_BID_BURST", "10")),
    "FRAME_RATE_PER_S": float(os.environ.get("WS_FRAME_RATE_PER_S", "20")),  # per socket, any frame
    "FRAME_BURST": int(os.environ.get("WS_FRAME_BURST", "40")),
    "SYNC_RATE_PER_S": 1.0,
    "SYNC_BURST": 5,
    "READY_TIMEOUT_S": 1.0,  # how long a connect waits for the bus subscription
    "RECONNECT_MIN_S": 0.1,
    "RECONNECT_MAX_S": 5.0,
    "PING_IDLE_S": 5.0,  # ping the subscription after this much silence
    "DB_THREADS": int(os.environ.get("WS_DB_THREADS", "4")),  # per process, for bid/buy-now calls
    # one bid per auction at a time per process: the next in line is checked against the state
    # the one before it committed (docs/realtime.md)
    "BID_TURN": os.environ.get("REALTIME_BID_TURN", "1") == "1",
    # bids one auction's line may hold in this process, the one in the service included (they
    # wait holding no database connection); past it `overloaded` (auctions/admission.py)
    "BID_LINE": int(os.environ.get("REALTIME_BID_LINE", "64")),
    # the bids that waited in the line while one was in the service go to it together, at most
    # this many per call, written in one round trip (auctions.services.bid_batch); 1: one by one
    "BID_BATCH": int(os.environ.get("REALTIME_BID_BATCH", "32")),
    "SESSION_CHECK_S": 1.0,  # a socket re-checks its session before an early refusal at most this often
    # the live page sends bids over the bid door, ws/auctions/<id>/bid/ (docs/realtime.md):
    # "0" keeps them on the watch socket (the door itself stays open for the apps)
    "BID_DOOR": os.environ.get("REALTIME_BID_DOOR", "1") == "1",
}

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
# Login brute-force protection for the site's and the admin's login (neighborbid/security.py).
AUTHENTICATION_BACKENDS = [
    "neighborbid.security.LoginThrottleBackend",  # refuses locked-out logins; never logs anyone in
    "django.contrib.auth.backends.ModelBackend",
]
NEIGHBORBID_SECURITY = {
    # How many reverse proxies of ours append to X-Forwarded-For (1 behind deploy/nginx.conf).
    "TRUSTED_PROXY_COUNT": int(os.environ.get("TRUSTED_PROXY_COUNT", "0")),
    "LOGIN_FAILURES_PER_USERNAME": int(os.environ.get("LOGIN_FAILURES_PER_USERNAME", "5")),
    "LOGIN_FAILURES_PER_IP": int(os.environ.get("LOGIN_FAILURES_PER_IP", "50")),
    "LOGIN_LOCKOUT_SECONDS": int(os.environ.get("LOGIN_LOCKOUT_SECONDS", "900")),
    # URL name -> rate-limit scope (neighborbid.security.DEFAULTS["RATE_LIMITS"]), POST only,
    # applied by neighborbid.middleware.RateLimitMiddleware before the view runs.
    "RATE_LIMITED_VIEWS": {
        "accounts:signup": "signup",
        "wallets:deposit": "topup",
        "wallets:withdraw": "withdraw",
        "auctions:bid": "bid",
        "auctions:buy_now": "bid",
        "auctions:report": "report",
        "accounts:verify": "verify",
        "accounts:verify_nearby": "nearby",
    },
}

# E-mail (password reset): printed to the console unless configured (docs/operations.md).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "동네경매 <no-reply@neighborbid.local>")
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", str(60 * 60 * 24)))

LANGUAGE_CODE = "ko-kr"
# Korean only until an English catalogue exists (strings are marked for gettext): with "en"
# listed, an English browser got Django's own strings in English inside Korean pages.
LANGUAGES = [("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("NEIGHBORBID_MANIFEST_STATIC", default=False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Content-Security-Policy (django-csp 4): only our own scripts (no inline script), our own
# WebSocket (wss:// in production; ws:// too in development, any port), inline styles allowed.
_socket_schemes = ["wss"] if PRODUCTION else ["wss", "ws"]
_socket_sources = [
    f"{scheme}://{'*' + host if host.startswith('.') else host}{'' if PRODUCTION else ':*'}"
    for host in ALLOWED_HOSTS
    if host != "testserver"
    for scheme in _socket_schemes
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *_socket_sources],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LOG_FORMAT = "json" if os.environ.get("LOG_FORMAT", "plain").strip().lower() == "json" else "plain"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "neighborbid.logs.PlainFormatter"},
        "json": {"()": "neighborbid.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Domain settings
NEIGHBORBID = {
    "DEPOSIT_MIN": 1_000,
    "DEPOSIT_MAX": 10_000_000,
    "WALLET_MAX": 1_000_000_000,
    "WITHDRAW_MIN": 1_000,
    "PRICE_MAX": 1_000_000_000,
    "VERIFY_RADIUS_KM": 3.0,
    "VERIFY_VALID_DAYS": 30,
    "WORKER_INTERVAL_SECONDS": float(os.environ.get("WORKER_INTERVAL_SECONDS", "1.0")),
    "ENDING_SOON_MINUTES": 10,
    # The demo (`make run` sets it to 600): every so many seconds the worker runs seed_demo again,
    # so 우리 동네 never runs dry while someone tries the site (0: never; issue 18 #22).
    "DEMO_TOP_UP_SECONDS": float(os.environ.get("DEMO_TOP_UP_SECONDS", "0")),
    # Without REDIS_URL the server process runs the settlement loop itself (auctions/embedded.py),
    # so its events reach the pages through the in-process bus.
    "EMBEDDED_WORKER": env_bool("EMBEDDED_WORKER", default=not REDIS_URL),
    # Bids/buy-nows in flight for one auction per process (auctions/admission.py); 0: half the pool.
    "BID_WAITERS_PER_AUCTION": int(os.environ.get("BID_WAITERS_PER_AUCTION", "0")),
    # Trades (docs/architecture.md): released to the seller N days after hand-over/shipping is
    # marked; refunded to the buyer N + TRADE_UNMARKED_GRACE_DAYS days after the sale if the
    # seller never marked it.
    "TRADE_AUTO_CONFIRM_DAYS": int(os.environ.get("TRADE_AUTO_CONFIRM_DAYS", "7")),
    "TRADE_UNMARKED_GRACE_DAYS": 3,
    "TRADE_DISPUTE_MAX_PHOTOS": 5,
    # Reviews (reviews.services): a review can be edited this many days after it was written.
    "REVIEW_EDIT_DAYS": 7,
}

# Chat (chat/, docs/protocol.md "Chat"): messages per user across every door and process.
CHAT = {
    "MESSAGE_RATE_PER_S": float(os.environ.get("CHAT_MESSAGE_RATE_PER_S", "1")),
    "MESSAGE_BURST": int(os.environ.get("CHAT_MESSAGE_BURST", "10")),
    "QUESTION_RATE_PER_S": 1 / 30,
    "QUESTION_BURST": 5,
    "SYNC_MAX": 200,  # messages in one sync answer (the client asks again for more)
    "POLL_S": 4,  # the HTTP re-check while a room page is visible and its socket is not live
}
