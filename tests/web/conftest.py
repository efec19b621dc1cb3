"""Helpers for the view tests: signed-in clients, images, and a no-rate-limit default (the
rate limits have their own tests; here a test may post many times from one address)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture(autouse=True)
def _no_view_rate_limits(settings):
    settings.NEIGHBORBID_SECURITY = {**getattr(settings, "NEIGHBORBID_SECURITY", {}), "RATE_LIMITED_VIEWS": {}}


def signed_in(user, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user, backend=MODEL_BACKEND)
    return client


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (800, 600), color=(255, 140, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name: str = "photo.png", *, fmt: str = "PNG", size=(800, 600), content: bytes | None = None):
    data = content if content is not None else image_bytes(fmt, size)
    return SimpleUploadedFile(name, data, content_type="image/png" if fmt == "PNG" else "image/jpeg")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def follow_messages(client, response) -> list[str]:
    """After a POST → redirect, the messages the next page shows."""
    assert response.status_code == 302, response.status_code
    page = client.get(response.url)
    return [str(m) for m in page.context["messages"]]
