# NeighborBid: one image for every role (web = Daphne, worker, one-shot migrate).
# Build: docker compose build   (see docs/operations.md)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# A fixed, unprivileged user; nothing in the image runs as root.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

# The hashed lock first (a layer that only changes when it does): every package pinned and
# checked against its PyPI hash (requirements.lock, made from requirements.txt by `make lock`).
# psycopg[binary] and Pillow ship wheels: no compiler in the image.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY --chown=app:app . .

# Static files are collected (hashed, compressed) at build and served by WhiteNoise. The build
# needs no database and no real secret; production settings are switched on at run time.
RUN SECRET_KEY=collectstatic-only-not-a-secret DEBUG=0 NEIGHBORBID_MANIFEST_STATIC=1 STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/media \
    && chown -R app:app /app/media /app/staticfiles

ENV DJANGO_SETTINGS_MODULE=neighborbid.settings \
    NEIGHBORBID_ENV=production \
    NEIGHBORBID_MANIFEST_STATIC=1 \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media \
    LOG_FORMAT=json

USER app
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Daphne is the entry point (HTTP + WebSocket). The worker and migrate services override it.
# No --proxy-headers: Daphne would trust the left-most X-Forwarded-For; the app reads the
# right one itself (TRUSTED_PROXY_COUNT).
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--application-close-timeout", "10", "neighborbid.asgi:application"]
