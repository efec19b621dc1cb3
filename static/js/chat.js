// Chat: a trade's room live over WebSocket (ws/chat/<room>/, docs/protocol.md "Chat"), and
// plain HTTP when the socket is not live (Redis down, no WebSocket): the forms post and
// redirect, and while the page is visible the room re-checks for new messages every few
// seconds. Messages are rendered as text (textContent), links only when same-origin.
// The room list and the header badge re-check the unread counts.
"use strict";

(function () {
  const badges = () => document.querySelectorAll("[data-chat-badge]");

  function setBadge(total) {
    badges().forEach((el) => {
      el.textContent = String(total);
      el.hidden = !total;
      const link = el.closest("[data-badge-label]");
      if (link) {
        const base = link.dataset.badgeLabel;
        link.setAttribute("aria-label", total ? `${base}, ${link.dataset.badgeUnit} ${total}개` : base);
      }
    });
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function randomId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function textWithLinks(parent, text) {
    const pattern = /https?:\/\/[^\s<>"']+/g;
    let last = 0;
    let match;
    while ((match = pattern.exec(text)) !== null) {
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      let sameSite = false;
      try {
        sameSite = new URL(match[0]).origin === window.location.origin;
      } catch (e) {
        sameSite = false;
      }
      if (sameSite) {
        const a = document.createElement("a");
        a.href = match[0];
        a.rel = "nofollow noopener";
        a.textContent = match[0];
        parent.appendChild(a);
      } else {
        parent.appendChild(document.createTextNode(match[0]));
      }
      last = match.index + match[0].length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function formatWhen(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    const days = ["일", "월", "화", "수", "목", "금", "토"];
    const pad = (n) => (n < 10 ? "0" : "") + n;
    return `${d.getMonth() + 1}월 ${d.getDate()}일 (${days[d.getDay()]}) ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  class Room {
    constructor(root) {
      this.root = root;
      this.roomId = Number(root.dataset.chatRoom);
      this.role = root.dataset.role || null;
      this.seq = Number(root.dataset.seq) || 0;
      this.otherRead = Number(root.dataset.otherRead) || 0;
      this.pollMs = (Number(root.dataset.pollS) || 4) * 1000;
      this.log = root.querySelector("[data-chat-log]");
      this.socket = null;
      this.backoff = 500;
      this.pending = new Map(); // request id -> bubble shown while sending
      this.pollTimer = null;
      this.readSent = 0;
      this.connect();
      this.bindForms();
      document.addEventListener("visibilitychange", () => {
        if (!document.hidden) {
          this.markRead();
          if (!this.live()) this.poll();
        }
      });
      this.schedulePoll();
      this.markRead();
      this.scrollDown();
    }

    live() {
      return this.socket !== null && this.socket.readyState === WebSocket.OPEN && this.root.dataset.conn === "live";
    }

    setConn(state) {
      this.root.dataset.conn = state;
      const label = this.root.querySelector("[data-chat-conn]");
      if (label) label.textContent = state === "live" ? "실시간 연결됨" : "연결이 끊겼어요 · 몇 초마다 새 메시지를 확인해요";
    }

    connect() {
      if (!this.role || !("WebSocket" in window)) {
        this.setConn("off");
        return;
      }
      const scheme = window.location.protocol === "https:" ? "wss" : "ws";
      let socket;
      try {
        socket = new WebSocket(`${scheme}://${window.location.host}${this.root.dataset.wsPath}`);
      } catch (e) {
        this.setConn("off");
        return;
      }
      this.socket = socket;
      socket.addEventListener("message", (event) => this.onFrame(JSON.parse(event.data)));
      socket.addEventListener("close", (event) => {
        this.socket = null;
        this.setConn("off");
        if (event.code >= 4400 && event.code < 4500) return; // not yours / signed out: HTTP only
        const wait = this.backoff * (0.5 + Math.random());
        this.backoff = Math.min(this.backoff * 2, 15000);
        setTimeout(() => this.connect(), wait);
      });
    }

    send(frame) {
      if (this.live()) this.socket.send(JSON.stringify(frame));
    }

    onFrame(frame) {
      switch (frame.type) {
        case "ready":
          this.backoff = 500;
          this.setConn("live");
          this.socket.send(JSON.stringify({ type: "sync", request_id: "sync-" + randomId(), seq: this.seq }));
          break;
        case "sync":
          frame.messages.forEach((m) => this.add(m));
          this.applyRead(frame.read);
          if (frame.status === "closed") this.closed();
          if (frame.more) this.socket.send(JSON.stringify({ type: "sync", request_id: "sync-" + randomId(), seq: this.seq }));
          this.markRead();
          break;
        case "message":
          this.add(frame.message);
          // Sending moved our own mark on the server already: only the other side's messages
          // need a `read` frame.
          if (frame.message.sender === this.role) this.readSent = Math.max(this.readSent, frame.message.seq);
          this.markRead();
          break;
        case "unread":
          setBadge(frame.total);
          break;
        case "read":
          if (frame.reader && frame.reader !== this.role) this.otherReadTo(frame.seq);
          break;
        case "meeting":
          this.meetingAccepted(frame.message);
          break;
        case "closed":
          this.closed();
          break;
        case "ack":
          this.acked(frame);
          break;
        case "error":
          this.showError(frame.message);
          if (frame.request_id && this.pending.has(frame.request_id)) {
            this.pending.get(frame.request_id).remove();
            this.pending.delete(frame.request_id);
          }
          break;
        default:
          break; // unknown types are ignored
      }
    }

    // --- rendering ----------------------------------------------------------------------

    add(m) {
      if (m.seq <= this.seq) return; // shown already (every message has one seq, in order)
      this.seq = Math.max(this.seq, m.seq);
      this.root.dataset.seq = String(this.seq);
      if (m.hidden) return;
      const empty = this.log.querySelector("[data-chat-empty]");
      if (empty) empty.remove();
      if (m.client_id && this.pending.has(m.client_id)) {
        this.pending.get(m.client_id).remove();
        this.pending.delete(m.client_id);
      }
      this.log.appendChild(this.render(m));
      this.scrollDown();
    }

    render(m) {
      const mine = m.sender && m.sender === this.role;
      const li = el("li", "chat-msg " + (m.kind === "system" ? "chat-msg--system" : mine ? "chat-msg--mine" : "chat-msg--theirs"));
      li.dataset.seq = String(m.seq);
      li.dataset.messageId = String(m.id);
      li.id = "m" + m.seq;
      if (m.kind === "photo") {
        const a = el("a", "chat-photo");
        a.href = m.image;
        const img = el("img");
        img.src = m.thumbnail;
        img.alt = "보낸 사진";
        img.width = 200;
        img.height = 200;
        a.appendChild(img);
        li.appendChild(a);
      } else if (m.kind === "meeting") {
        li.appendChild(this.renderMeeting(m, mine));
      } else {
        const p = el("p", "chat-text");
        textWithLinks(p, m.text || "");
        li.appendChild(p);
      }
      if (m.warning) li.appendChild(el("p", "chat-warning", "연락처나 계좌번호가 보여요. 돈은 직접 보내지 말고 안전결제를 이용하세요."));
      const meta = el("span", "chat-meta");
      const time = el("time", "", new Date(m.created_at).toTimeString().slice(0, 5));
      time.dateTime = m.created_at;
      meta.appendChild(time);
      if (mine && m.kind !== "system") {
        const read = el("span", "chat-read", "읽음");
        read.dataset.readMark = "";
        read.hidden = this.otherRead < m.seq;
        meta.appendChild(document.createTextNode(" "));
        meta.appendChild(read);
      }
      li.appendChild(meta);
      return li;
    }

    renderMeeting(m, mine) {
      const box = el("div", "chat-meeting" + (m.accepted_at ? " is-accepted" : ""));
      box.dataset.meetingId = String(m.id);
      box.appendChild(el("strong", "", "거래 약속 제안"));
      box.appendChild(el("span", "", formatWhen(m.meet_at)));
      const where = el("span", "chat-text");
      textWithLinks(where, [m.place_neighbourhood ? m.place_neighbourhood.split(" ").pop() : "", m.place].filter(Boolean).join(" "));
      box.appendChild(where);
      const state = el("span", "chat-meeting__state", m.accepted_at ? "수락됨" : "");
      state.dataset.meetingState = "";
      box.appendChild(state);
      if (!m.accepted_at && !mine && this.role && this.root.dataset.status === "open") {
        const form = el("form");
        form.method = "post";
        form.action = `/chat/${this.roomId}/meeting/${m.id}/accept/`;
        form.dataset.chatAjax = "";
        const token = el("input");
        token.type = "hidden";
        token.name = "csrfmiddlewaretoken";
        token.value = csrfToken();
        const button = el("button", "btn btn--primary btn--small", "약속 수락");
        button.type = "submit";
        button.dataset.acceptMeeting = "";
        form.appendChild(token);
        form.appendChild(button);
        this.bindAjax(form);
        box.appendChild(form);
      }
      return box;
    }

    meetingAccepted(m) {
      const box = this.log.querySelector(`[data-meeting-id="${m.id}"]`);
      if (box) {
        box.classList.add("is-accepted");
        const state = box.querySelector("[data-meeting-state]");
        if (state) state.textContent = "수락됨";
        const form = box.querySelector("form");
        if (form) form.remove();
      }
      document.querySelectorAll("[data-meeting-box]").forEach((holder) => {
        holder.textContent = "";
        const p = el("p", "note note--good");
        p.appendChild(el("strong", "", "거래 약속"));
        p.appendChild(document.createTextNode(" "));
        const when = el("span", "", formatWhen(m.meet_at));
        when.dataset.meetingWhen = "";
        p.appendChild(when);
        p.appendChild(document.createTextNode(" · "));
        const where = el("span", "", [m.place_neighbourhood ? m.place_neighbourhood.split(" ").pop() : "", m.place].filter(Boolean).join(" "));
        where.dataset.meetingWhere = "";
        p.appendChild(where);
        holder.appendChild(p);
      });
    }

    applyRead(read) {
      if (!read || !this.role) return;
      this.otherReadTo(this.role === "buyer" ? read.seller : read.buyer);
    }

    otherReadTo(seq) {
      if (typeof seq !== "number" || seq <= this.otherRead) return;
      this.otherRead = seq;
      this.log.querySelectorAll(".chat-msg--mine").forEach((li) => {
        const mark = li.querySelector("[data-read-mark]");
        if (mark && Number(li.dataset.seq) <= seq) mark.hidden = false;
      });
    }

    closed() {
      this.root.dataset.status = "closed";
      const banner = this.root.querySelector("[data-chat-closed]");
      if (banner) banner.hidden = false;
      this.root.querySelectorAll("[data-chat-compose], .chat-extra").forEach((node) => node.remove());
    }

    showError(text) {
      const box = this.root.querySelector("[data-chat-error]");
      if (!box) return;
      box.textContent = text;
      box.hidden = false;
      clearTimeout(this.errorTimer);
      this.errorTimer = setTimeout(() => { box.hidden = true; }, 6000);
    }

    showWarning(text) {
      const box = this.root.querySelector("[data-chat-warning]");
      if (!box || !text) return;
      box.textContent = text;
      box.hidden = false;
    }

    scrollDown() {
      const bottom = document.getElementById("bottom");
      if (bottom && bottom.scrollIntoView) bottom.scrollIntoView({ block: "end" });
    }

    // --- sending -------------------------------------------------------------------------

    bindForms() {
      const compose = this.root.querySelector("[data-chat-compose]");
      if (compose) {
        compose.querySelector("input[name=client_id]").value = randomId();
        compose.addEventListener("submit", (event) => {
          const area = compose.querySelector("textarea");
          const text = area.value;
          if (!this.live() || !text.trim()) return; // plain HTTP: post and redirect
          event.preventDefault();
          const id = randomId();
          const bubble = el("li", "chat-msg chat-msg--mine is-pending");
          bubble.appendChild(el("p", "chat-text", text));
          bubble.appendChild(el("span", "chat-meta", "보내는 중…"));
          this.log.appendChild(bubble);
          this.pending.set(id, bubble);
          this.send({ type: "send", request_id: id, text: text });
          area.value = "";
          this.scrollDown();
        });
        compose.querySelector("textarea").addEventListener("keydown", (event) => {
          if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            compose.requestSubmit();
          }
        });
      }
      this.root.querySelectorAll("form[data-chat-ajax]").forEach((form) => this.bindAjax(form));
    }

    bindAjax(form) {
      form.addEventListener("submit", async (event) => {
        if (!this.live()) return; // plain HTTP: post and redirect
        event.preventDefault();
        const button = form.querySelector("button[type=submit]");
        if (button) button.disabled = true;
        try {
          const response = await fetch(form.action, {
            method: "POST",
            body: new FormData(form),
            headers: { Accept: "application/json" },
            credentials: "same-origin",
          });
          const body = await response.json();
          if (!body.ok) this.showError(body.error ? body.error.message : "요청을 처리할 수 없어요.");
          else if (body.warning) this.showWarning(body.warning);
          if (body.ok && form.hasAttribute("data-meeting-form")) {
            form.reset();
            const details = form.closest("details");
            if (details) details.open = false;
          }
        } catch (e) {
          form.submit();
          return;
        } finally {
          if (button) button.disabled = false;
        }
      });
    }

    acked(frame) {
      if (frame.warning) this.showWarning(frame.warning);
      const bubble = this.pending.get(frame.request_id);
      if (bubble && this.log.querySelector(`[data-seq="${frame.seq}"]`)) {
        bubble.remove();
        this.pending.delete(frame.request_id);
      }
    }

    // --- read marks and the HTTP re-check -------------------------------------------------

    async markRead() {
      if (!this.role || document.hidden || this.seq <= this.readSent) return;
      this.readSent = this.seq;
      if (this.live()) {
        this.send({ type: "read", seq: this.seq }); // answered by an `unread` frame (the badge)
        return;
      }
      try {
        const body = new FormData();
        body.append("seq", String(this.seq));
        body.append("csrfmiddlewaretoken", csrfToken());
        const response = await fetch(this.root.dataset.readUrl, {
          method: "POST",
          body: body,
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        const answer = await response.json();
        if (answer.ok) setBadge(answer.unread_total);
      } catch (e) {
        this.readSent = 0;
      }
    }

    schedulePoll() {
      clearTimeout(this.pollTimer);
      this.pollTimer = setTimeout(() => this.poll(), this.pollMs);
    }

    async poll() {
      try {
        if (!document.hidden && !this.live()) {
          const response = await fetch(`${this.root.dataset.messagesUrl}?after=${this.seq}`, {
            headers: { Accept: "application/json" },
            credentials: "same-origin",
          });
          if (response.ok) {
            const body = await response.json();
            body.messages.forEach((m) => this.add(m));
            this.applyRead(body.read);
            if (body.status === "closed") this.closed();
            this.markRead();
          }
        }
      } catch (e) {
        /* offline: try again later */
      } finally {
        this.schedulePoll();
      }
    }
  }

  function watchList(root) {
    const pollMs = (Number(root.dataset.pollS) || 4) * 1000;
    async function tick() {
      if (!document.hidden) {
        try {
          const response = await fetch(root.dataset.unreadUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
          const body = await response.json();
          setBadge(body.total);
          // A room that got its first message is not in this list yet (empty rooms are left
          // out): load the list again to show it with its last message.
          const listed = new Set(Array.from(root.querySelectorAll("[data-room-unread]"), (b) => b.dataset.roomUnread));
          if (Object.keys(body.rooms).some((id) => body.rooms[id] > 0 && !listed.has(id))) {
            window.location.reload();
            return;
          }
          root.querySelectorAll("[data-room-unread]").forEach((badge) => {
            const n = body.rooms[badge.dataset.roomUnread] || 0;
            badge.textContent = String(n);
            badge.hidden = !n;
          });
        } catch (e) {
          /* try again */
        }
      }
      setTimeout(tick, pollMs);
    }
    setTimeout(tick, pollMs);
  }

  function start() {
    const room = document.querySelector("[data-chat-room]");
    if (room) window.__chatRoom = new Room(room);
    const list = document.querySelector("[data-chat-list]");
    if (list) watchList(list);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
