/* Web Push toggle (account page) and the gentle offer after a first bid (issue 22).
   Never asks for permission on page load: only on a click. */
(function () {
  "use strict";
  const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

  function csrf() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function b64ToBytes(s) {
    const pad = "=".repeat((4 - (s.length % 4)) % 4);
    const raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }
  async function post(url, body) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).message || "요청을 처리할 수 없어요.");
    return r.json();
  }
  async function registration() {
    return navigator.serviceWorker.register("/sw.js", { scope: "/" });
  }
  async function current() {
    if (!supported) return null;
    const reg = await navigator.serviceWorker.getRegistration("/");
    return reg ? reg.pushManager.getSubscription() : null;
  }
  async function enable(publicKey) {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") throw new Error("브라우저에서 알림을 허용해 주세요.");
    const reg = await registration();
    await navigator.serviceWorker.ready;
    const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64ToBytes(publicKey) });
    await post("/notifications/push/subscribe", sub.toJSON());
    return sub;
  }
  async function disable() {
    const sub = await current();
    if (!sub) return;
    await post("/notifications/push/unsubscribe", { endpoint: sub.endpoint });
    await sub.unsubscribe();
  }

  function bindToggle(box) {
    const key = box.dataset.vapidKey;
    const status = document.getElementById("push-status");
    const say = (text) => { if (status) status.textContent = text; };
    if (!supported || !key) { box.disabled = true; say("이 브라우저에서는 알림을 받을 수 없어요."); return; }
    current().then((sub) => { box.checked = Boolean(sub); say(sub ? "이 기기에서 알림을 받고 있어요." : ""); });
    box.addEventListener("change", async () => {
      box.disabled = true;
      try {
        if (box.checked) { await enable(key); say("이 기기에서 알림을 받고 있어요."); }
        else { await disable(); say("이 기기의 알림을 껐어요."); }
      } catch (e) { box.checked = !box.checked; say(e.message); }
      box.disabled = false;
    });
  }

  // After the first accepted bid: a small offer, once per browser (live.js calls this).
  async function offerAfterBid() {
    const key = document.body.dataset.vapidKey;
    if (!supported || !key || localStorage.getItem("nb.pushOffered") || Notification.permission === "denied") return;
    if (await current()) return;
    localStorage.setItem("nb.pushOffered", "1");
    const bar = document.createElement("div");
    bar.className = "push-offer";
    bar.setAttribute("role", "status");
    bar.innerHTML = '<span>상위 입찰이 들어오면 페이지를 닫아도 알려 드릴까요?</span> ' +
      '<button type="button" class="btn btn--small" data-push-yes>알림 받기</button> ' +
      '<button type="button" class="btn btn--ghost btn--small" data-push-no>괜찮아요</button>';
    document.body.appendChild(bar);
    bar.querySelector("[data-push-no]").addEventListener("click", () => bar.remove());
    bar.querySelector("[data-push-yes]").addEventListener("click", async () => {
      try { await enable(key); bar.querySelector("span").textContent = "알림을 켰어요."; }
      catch (e) { bar.querySelector("span").textContent = e.message; }
      setTimeout(() => bar.remove(), 3000);
    });
  }

  window.nbPush = { offerAfterBid, enable, disable, current };
  document.querySelectorAll("[data-push-toggle]").forEach(bindToggle);
})();
