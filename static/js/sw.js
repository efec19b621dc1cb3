/* NeighborBid service worker (issue 22): shows Web Push notifications and opens the right page.
   Served at /sw.js (notifications/views.py) so its scope is the whole site. Payload: JSON
   {title, body, url, tag, kind} (notifications/push.py push_payload); no secret in it. */
self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data && event.data.text() }; }
  const title = data.title || "동네경매";
  event.waitUntil(self.registration.showNotification(title, {
    body: data.body || "",
    tag: data.tag || undefined,
    renotify: Boolean(data.tag),
    icon: "/static/img/logo.svg",
    data: { url: data.url || "/" },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  if (target.origin !== self.location.origin) return;  // only our own pages
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    // 1. a tab already on that page: bring it forward
    for (const client of windows) {
      if (new URL(client.url).pathname === target.pathname && "focus" in client) return client.focus();
    }
    // 2. a tab of ours on another page: take it there (one tab, as an app would), then forward
    for (const client of windows) {
      if (!("navigate" in client)) continue;
      try {
        const moved = await client.navigate(target.href);
        if (moved) return moved.focus().catch(() => moved);
      } catch (e) { /* not controlled by this worker yet: try the next, or a new tab */ }
    }
    // 3. no tab of ours: a new one
    return self.clients.openWindow(target.href);
  })());
});
