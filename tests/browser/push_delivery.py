"""A push message handed to a page's real service worker over the DevTools protocol
(ServiceWorker.deliverPushMessage), standing in for the push service that headless Chromium
does not have, and the notifications the worker then shows. Used by test_push.py and
test_chat_push.py."""

from __future__ import annotations

import json
import time
import warnings

import pytest


def push_until_shown(page, origin: str, payload: dict, *, attempts: int = 3) -> list[dict]:
    """Hand a push message to the service worker that controls `page`, as the push service
    would, and return the notifications the page's worker then shows.

    The registration is the one whose activated version lists this page's target among its
    controlled clients (CDP's workerVersionUpdated), not "some registration of the scope".
    A push service delivers again what the browser did not take; so does this stand-in, up to
    `attempts` times, a few seconds apart (the payload's tag makes a repeat replace, never add,
    and the caller asserts exactly what is shown). CI twice showed nothing in 10 s after one
    delivery. Here it happened once in 10 runs beside three busy processes, to the right
    registration, its worker running, activated and controlling the page; the second delivery
    was shown. A repeat is reported as a warning with what CDP said about the worker, and a
    worker that never shows it fails with the same record."""
    cdp = page.context.new_cdp_session(page)
    page_target = cdp.send("Target.getTargetInfo")["targetInfo"]["targetId"]
    versions: dict[str, dict] = {}
    record: list[dict] = []

    def on_versions(event: dict) -> None:
        for version in event["versions"]:
            versions[version["versionId"]] = version
        record.append({"versions": event["versions"]})

    cdp.on("ServiceWorker.workerVersionUpdated", on_versions)
    cdp.on("ServiceWorker.workerErrorReported", lambda event: record.append(event))
    cdp.send("ServiceWorker.enable")

    def controlling() -> list[str]:
        return [
            v["registrationId"]
            for v in versions.values()
            if v["status"] == "activated" and page_target in v.get("controlledClients", [])
        ]

    deadline = time.monotonic() + 5
    while not controlling() and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    if len(set(controlling())) != 1:
        pytest.fail(f"not one worker controls the page {page_target}: {record}")
    [registration_id] = set(controlling())
    data = json.dumps(payload, ensure_ascii=False)
    for attempt in range(1, attempts + 1):
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": origin, "registrationId": registration_id, "data": data},
        )
        shown = shown_notifications(page, within=10 if attempt == attempts else 3)
        if shown:
            if attempt > 1:
                warnings.warn(f"the push was shown after delivery {attempt}, not the first: {record}", stacklevel=2)
            return shown
    pytest.fail(f"no notification after {attempts} deliveries to registration {registration_id}: {record}")


def shown_notifications(page, *, within: float = 10) -> list[dict]:
    """The notifications the page's service worker shows, once there is one, or [] after
    `within` seconds. (Not page.wait_for_function: it does not await a predicate's promise,
    and a promise is truthy.)"""
    deadline = time.monotonic() + within
    while True:
        shown = page.evaluate(
            "() => navigator.serviceWorker.ready.then(r => r.getNotifications())"
            ".then(ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url})))"
        )
        if shown or time.monotonic() > deadline:
            return shown
        page.wait_for_timeout(50)
