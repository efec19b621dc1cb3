// Live national auction page (docs/protocol.md). Plain ES module, no build step.
//
// Opens ws(s)://<host>/ws/auctions/<id>/, applies every snapshot/state/ack.state by its `seq`
// (never an older one after a newer one), keeps a countdown on the server's clock (soft-close
// extensions included), sends bids and buy-now over the socket when it is open (the page's
// HTTP forms still work without it), shows one toast per ack/error and personal notices, a
// visible connection state, and reconnects with backoff + resync. A signed-in page sends its
// bids and buy-now over a second socket, the bid door ws(s)://<host>/ws/auctions/<id>/bid/,
// opened at the forms' first use (docs/protocol.md "The bid door"). The server decides
// everything; this only displays and submits.

const ENDED = ["sold", "unsold", "cancelled"];
const STATUS_TEXT = { scheduled: "시작 전", open: "진행 중", sold: "낙찰", unsold: "유찰", cancelled: "취소" };
const CONN_TEXT = {
  connecting: "실시간 연결 중…",
  live: "실시간 연결됨",
  reconnecting: "연결이 끊겨 다시 연결하는 중…",
  offline: "실시간 연결 불가 · 새로고침하면 최신 정보를 볼 수 있어요",
};
const SILENCE_MS = 25000; // no frame for this long: ask for a snapshot
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const REPLY_TIMEOUT_MS = 10000;
const DOOR_TRIES = 3; // the bid door failed this often in a row: this page stops using it
const DOOR_FINAL_CODES = [1009, 4401, 4403, 4404]; // refused for good: never opened again here

const won = (n) => Number(n).toLocaleString("ko-KR") + "원";
const grouped = (n) => Number(n).toLocaleString("ko-KR");
// A typed amount: digits with optional commas, spaces or 원 (the server's parse_won says the rest).
// static/js/app.js (loaded first on every page) reads amounts as people type them ("5만 3천").
const typedWon = (text) => window.NB.typedWon(text);
// Toasts by weight: a lighter one never hides a heavier one still on screen; it joins it.
const TOAST_WEIGHT = { info: 0, ok: 1, warn: 2, error: 3 };
const TOAST_MS = 6000;

function newRequestId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  return "r" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
}

function formatLeft(ms) {
  if (ms <= 0) return "마감 처리 중…";
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const pad = (n) => (n < 10 ? "0" : "") + n;
  if (d > 0) return `${d}일 ${h}시간 남음`;
  return `${h > 0 ? h + ":" + pad(m) : m}:${pad(s)} 남음`;
}

class LiveAuction {
  constructor(root) {
    this.root = root;
    this.auctionId = root.dataset.auctionId;
    this.seq = Number.parseInt(root.dataset.seq || "-1", 10);
    this.youTag = root.dataset.youTag || null;
    this.status = null;
    this.endsAt = NaN;
    this.offset = 0; // server clock − local clock, ms
    this.socket = null;
    this.attempt = 0;
    this.stopped = false;
    this.pending = new Map(); // request_id -> {frame, form, timer, viaDoor}
    // The bid door: requests only (ack / error); states and notices stay on this.socket.
    this.doorOn = root.dataset.bidDoor === "1";
    this.door = null;
    this.doorReady = false; // its first frame (a snapshot) came
    this.doorFailures = 0;
    this.lastFrameAt = Date.now();
    this.el = (name) => root.querySelector(`[data-live="${name}"]`);
    this.conn = root.querySelector("[data-live-conn]");
    this.toasts = root.querySelector("[data-live-toasts]");
    this.bidForm = root.querySelector("#bid-form");
    this.buyForm = root.querySelector("#buy-now-form");
    // The bid form has two modes (templates/auctions/detail.html): "bid", and a leader's "raise"
    // of their maximum. One fieldset is enabled; only its fields are sent.
    this.modes = {
      bid: this.bidForm ? this.bidForm.querySelector("[data-bid-mode='bid']") : null,
      raise: this.bidForm ? this.bidForm.querySelector("[data-bid-mode='raise']") : null,
    };
    this.amountInput = this.modes.bid ? this.modes.bid.querySelector("input[name=amount]") : null;
    this.raiseAmount = this.modes.raise ? this.modes.raise.querySelector("[data-raise-amount]") : null;
    this.myMax = this.raiseAmount && this.raiseAmount.value ? Number.parseInt(this.raiseAmount.value, 10) : null;
    this.minNext = this.bidForm ? Number(this.bidForm.dataset.min) : NaN;
    this.youLead = root.dataset.youTag !== "" && root.dataset.youTag === root.dataset.leaderTag;
    this.tradeLink = root.querySelector("[data-live-trade-link]");
    this.userEdited = false;
    this.placeWidgets();
    this.takeOverCountdown();
    this.hookForms();
    this.connect();
    setInterval(() => this.tick(), 250);
  }

  // --- connection ----------------------------------------------------------------------

  setConn(state) {
    this.root.dataset.conn = state;
    if (this.conn) {
      this.conn.dataset.state = state;
      this.conn.textContent = CONN_TEXT[state];
    }
  }

  connect() {
    if (this.stopped) return;
    this.setConn(this.attempt === 0 ? "connecting" : "reconnecting");
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    let socket;
    try {
      socket = new WebSocket(`${scheme}://${window.location.host}/ws/auctions/${this.auctionId}/`);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    // Events of a socket this page already gave up on (dropSocket) are ignored.
    socket.addEventListener("message", (event) => {
      if (socket === this.socket) this.onFrame(event.data);
    });
    socket.addEventListener("close", (event) => this.onClose(event, socket));
  }

  // Give up on the current socket now (no answer in time: the server may be frozen or the
  // network gone, and a close handshake with it can take minutes): show "reconnecting" and
  // open a new one; pending requests are resent on it with the same ids.
  dropSocket() {
    const socket = this.socket;
    if (!socket) return;
    this.socket = null;
    try {
      socket.close();
    } catch (e) {
      /* already closing */
    }
    this.scheduleReconnect();
  }

  onClose(event, socket) {
    if (socket !== this.socket) return; // a socket already dropped
    this.socket = null;
    if (event.code === 4403 || event.code === 4404) {
      this.stopped = true;
      this.setConn("offline");
      return;
    }
    if (event.code === 1009) {
      // "message too big": the same message would be refused again; never retry in a loop.
      this.stopped = true;
      this.setConn("offline");
      this.toast("보낸 메시지가 너무 커서 실시간 연결이 끊겼어요. 새로고침해 주세요.", "error");
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.attempt += 1;
    this.setConn("reconnecting");
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.attempt - 1));
    setTimeout(() => this.connect(), base / 2 + Math.random() * base);
  }

  isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN && this.root.dataset.conn === "live";
  }

  send(frame) {
    if (!this.isOpen()) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  // --- the bid door ---------------------------------------------------------------------

  openDoor() {
    if (!this.doorOn || this.door || this.stopped || this.doorFailures >= DOOR_TRIES) return;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    let door;
    try {
      door = new WebSocket(`${scheme}://${window.location.host}/ws/auctions/${this.auctionId}/bid/`);
    } catch (e) {
      this.doorFailures += 1;
      return;
    }
    this.door = door;
    this.doorReady = false;
    door.addEventListener("message", (event) => {
      if (door === this.door) this.onDoorFrame(event.data);
    });
    door.addEventListener("close", (event) => this.onDoorClose(event, door));
  }

  onDoorFrame(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      return;
    }
    if (msg.type === "snapshot") {
      // open: its state is the watch socket's business
      this.doorReady = true;
      this.doorFailures = 0;
      this.root.dataset.door = "open";
    } else if (msg.type === "ack" || msg.type === "error") {
      this.handle(msg);
    }
  }

  onDoorClose(event, door) {
    if (door !== this.door) return; // a door already given up
    this.door = null;
    this.doorReady = false;
    this.root.dataset.door = "closed";
    this.doorFailures = DOOR_FINAL_CODES.includes(event.code) ? DOOR_TRIES : this.doorFailures + 1;
    this.resendFromDoor();
  }

  // Give up on the door (no answer in time): its unanswered requests go over the watch socket,
  // with the same ids; the next use of a form opens a new door.
  dropDoor() {
    const door = this.door;
    if (!door) return;
    this.door = null;
    this.doorReady = false;
    this.root.dataset.door = "closed";
    this.doorFailures += 1;
    try {
      door.close();
    } catch (e) {
      /* already closing */
    }
    this.resendFromDoor();
  }

  resendFromDoor() {
    for (const entry of this.pending.values()) {
      if (!entry.viaDoor) continue;
      this.arm(entry);
      this.dispatch(entry);
    }
  }

  // A request goes over the door when it is open, else over the watch socket.
  dispatch(entry) {
    if (this.doorReady && this.door && this.door.readyState === WebSocket.OPEN) {
      entry.viaDoor = true;
      this.door.send(JSON.stringify(entry.frame));
      return;
    }
    entry.viaDoor = false;
    this.send(entry.frame);
  }

  tick() {
    this.renderCountdown();
    if (this.isOpen() && Date.now() - this.lastFrameAt > SILENCE_MS) {
      this.lastFrameAt = Date.now();
      this.send({ type: "sync", request_id: "sync-" + newRequestId(), seq: Math.max(this.seq, 0) });
    }
  }

  // --- frames ---------------------------------------------------------------------------

  onFrame(text) {
    this.lastFrameAt = Date.now();
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      return;
    }
    this.handle(msg);
  }

  handle(msg) {
    switch (msg.type) {
      case "snapshot":
        this.attempt = 0;
        if (msg.you && msg.you.tag) this.youTag = msg.you.tag;
        this.apply(msg, true);
        if (this.root.dataset.conn !== "live") {
          this.setConn("live");
          this.resendPending();
        }
        this.settle(msg.request_id, null);
        break;
      case "state":
        this.apply(msg, false);
        break;
      case "ended":
        this.onEnded(msg);
        break;
      case "ack":
        if (msg.state) this.apply(msg.state, false);
        if (msg.receipt) this.keepReceipt(msg.receipt);
        this.onAck(msg);
        break;
      case "error":
        this.onError(msg);
        break;
      case "notification":
        this.onNotification(msg);
        break;
      default:
        break; // unknown types are ignored (protocol: forward compatible)
    }
  }

  keepReceipt(receipt) {
    // the bid's place in the log ({seq, hash}), checked later on /auctions/<id>/verify/ (issue 24)
    const key = `nb-receipts-${this.auctionId}`;
    try {
      const kept = JSON.parse(localStorage.getItem(key) || "[]");
      if (!kept.some((r) => r.seq === receipt.seq)) kept.push({ seq: receipt.seq, hash: receipt.hash });
      localStorage.setItem(key, JSON.stringify(kept.slice(-200)));
    } catch (e) { /* private mode or full storage: the verify page still checks the log */ }
  }

  apply(state, isSnapshot) {
    if (typeof state.seq !== "number") return;
    if (state.seq < this.seq || (state.seq === this.seq && !isSnapshot)) return;
    this.seq = state.seq;
    this.root.dataset.seq = String(state.seq);
    if (state.server_time) this.offset = Date.parse(state.server_time) - Date.now();
    this.status = state.status;
    const previousEnd = this.endsAt;
    this.endsAt = Date.parse(state.ends_at);
    this.root.dataset.leaderTag = state.leader_tag || "";
    this.render(state);
    // A soft close moved the end later: say so (computed from ends_at, whatever the cause).
    if (!isSnapshot && !Number.isNaN(previousEnd) && this.endsAt - previousEnd >= 1000 && state.status === "open") {
      const minutes = Math.round((this.endsAt - previousEnd) / 60000);
      this.toast(minutes >= 1 ? `마감이 ${minutes}분 연장됐어요.` : "마감이 연장됐어요.", "info");
    }
  }

  render(state) {
    const price = this.el("current_price");
    if (price) {
      price.textContent = won(state.current_price);
      price.dataset.value = String(state.current_price);
      const label = price.previousElementSibling;
      if (label && label.tagName === "DT") {
        label.textContent = state.status === "sold" ? "낙찰가" : state.bid_count ? "현재가" : "시작가";
      }
    }
    const ended = ENDED.includes(state.status);
    const min = this.el("min_next_bid");
    if (min) {
      min.textContent = ended ? "-" : won(state.min_next_bid);
      min.dataset.value = String(state.min_next_bid);
    }
    const count = this.el("bid_count");
    if (count) count.textContent = String(state.bid_count);
    const leader = this.el("leader");
    const youLead = Boolean(state.leader_tag && this.youTag && state.leader_tag === this.youTag);
    this.root.dataset.youLead = youLead ? "1" : "0";
    if (this.youLead && !youLead) this.myMax = null; // outbid: the held maximum came back
    this.youLead = youLead;
    if (leader) {
      leader.textContent = state.leader ? state.leader + (youLead ? " (나)" : "") : "아직 없음";
      const label = leader.previousElementSibling;
      if (label && label.tagName === "DT") label.textContent = state.status === "sold" ? "낙찰자" : "최고 입찰자";
    }
    const status = this.el("status");
    if (status) {
      status.textContent = STATUS_TEXT[state.status] || state.status;
      status.dataset.status = state.status;
      status.className = `status-pill status--${state.status}`;
    }
    const lead = this.root.querySelector("[data-live-you-lead]");
    if (lead) lead.hidden = !(youLead && state.status === "open");
    this.renderRecent(state.recent_bids || []);
    this.renderChart(state);
    if (!ended) this.minNext = state.min_next_bid;
    if (this.amountInput && !ended && document.activeElement !== this.amountInput) {
      // Suggest the minimum next bid; keep what the user typed while it is still valid. Never
      // under the user's cursor: keys pressed as the text changed would land in the new text
      // ("11,00012,000"); what is in the field is what gets sent, and a stale amount is
      // refused with the new minimum (onError), which then fills the field.
      const typed = typedWon(this.amountInput.value);
      if (!this.userEdited || !(typed >= state.min_next_bid)) this.amountInput.value = grouped(state.min_next_bid);
    }
    this.renderMode();
    if (state.status === "sold") this.showTradeLink(state.leader_tag);
    if (ended) this.closeForms();
    else if (this.buyForm && state.buy_now_price && state.current_price >= state.buy_now_price) this.buyForm.hidden = true;
    this.renderCountdown();
  }

  renderChart(state) {
    // The price chart (auctions.selectors.price_chart_svg draws the first one): a point per
    // new price, redrawn with the same scaling, no charting library.
    const box = this.root.querySelector("[data-price-chart]");
    if (!box || !state.bid_count) return;
    if (!this.chartPoints) {
      try { this.chartPoints = JSON.parse(box.dataset.points || "[]"); } catch { this.chartPoints = []; }
    }
    const last = this.chartPoints[this.chartPoints.length - 1];
    if (last && last[1] === state.current_price) return;
    this.chartPoints.push([state.server_time, state.current_price]);
    if (this.chartPoints.length > 200) this.chartPoints.shift();
    if (this.chartPoints.length < 2) return;
    const w = 320, h = 120;
    const ts = this.chartPoints.map((p) => Date.parse(p[0]));
    const ps = this.chartPoints.map((p) => p[1]);
    const t0 = Math.min(...ts), t1 = Math.max(...ts), p0 = Math.min(...ps), p1 = Math.max(...ps);
    const xy = ts.map((t, i) => `${(((t - t0) / ((t1 - t0) || 1)) * (w - 8) + 4).toFixed(1)},${(h - 4 - ((ps[i] - p0) / ((p1 - p0) || 1)) * (h - 8)).toFixed(1)}`);
    const figure = box.querySelector("[data-chart=figure]");
    if (!figure) return;
    const empty = box.querySelector("[data-chart-empty]");
    if (empty) empty.remove();
    figure.hidden = false;
    const svg = figure.querySelector("svg");
    svg.querySelector("polyline").setAttribute("points", xy.join(" "));
    svg.setAttribute("aria-label", `가격 변화: ${ps[0].toLocaleString("ko-KR")}원에서 ${ps[ps.length - 1].toLocaleString("ko-KR")}원까지`);
    // the same labels as auctions.selectors.price_chart_svg: highest and lowest price, first
    // and last time (Korean time; with the date when the two differ in day)
    const at = (ms) => new Date(ms + 9 * 3600 * 1000); // KST, whatever the device's zone
    const day = (d) => `${d.getUTCMonth() + 1}.${d.getUTCDate()}`;
    const hm = (d) => `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
    const withDay = day(at(t0)) !== day(at(t1));
    const label = (ms) => (withDay ? `${day(at(ms))} ${hm(at(ms))}` : hm(at(ms)));
    const set = (name, text) => { const el = figure.querySelector(`[data-chart=${name}]`); if (el) el.textContent = text; };
    set("ymax", won(p1));
    set("ymin", won(p0));
    set("t0", label(t0));
    set("t1", label(t1));
  }

  renderRecent(bids) {
    const list = this.el("recent_bids");
    if (!list) return;
    list.replaceChildren(
      ...(bids.length
        ? bids.map((b) => {
            const li = document.createElement("li");
            const who = document.createElement("span");
            who.className = "history__who";
            who.textContent = b.bidder;
            const amount = document.createElement("span");
            amount.className = "history__amount";
            amount.textContent = won(b.amount);
            li.append(who, amount);
            return li;
          })
        : [Object.assign(document.createElement("li"), { className: "history__empty", textContent: "아직 입찰이 없어요. 첫 입찰자가 되어 보세요!" })])
    );
  }

  placeWidgets() {
    // _live.html is included at the end of the page: move the connection state next to the
    // status pill, and keep one "you lead" note (the page's own, when it rendered one).
    const top = this.root.querySelector(".panel__row--top");
    if (this.conn && top) top.after(this.conn);
    const mine = this.root.querySelector("[data-live-you-lead]");
    const pages = this.root.querySelector(".panel .note--good[data-you-lead], .panel .note--good");
    const numbers = this.root.querySelector(".panel .numbers");
    const trade = this.root.querySelector("[data-live-trade-link]");
    if (trade && numbers) numbers.after(trade);
    if (mine && pages && /최고 입찰자/.test(pages.textContent)) {
      mine.remove();
      pages.setAttribute("data-live-you-lead", "");
    } else if (mine && numbers) {
      numbers.after(mine);
    }
  }

  takeOverCountdown() {
    // app.js counts down from the page's load time; replace the node so only this module,
    // which follows every state's server_time and ends_at, writes the live countdown.
    const old = this.el("countdown");
    if (!old) return;
    const fresh = old.cloneNode(true);
    old.replaceWith(fresh);
    this.countdown = fresh;
    const ends = Date.parse(old.dataset.endsAt);
    const server = Date.parse(old.dataset.serverTime);
    if (!Number.isNaN(ends)) this.endsAt = ends;
    if (!Number.isNaN(server)) this.offset = server - Date.now();
    this.status = (this.el("status") && this.el("status").dataset.status) || null;
  }

  renderCountdown() {
    const el = this.countdown;
    if (!el || Number.isNaN(this.endsAt)) return;
    if (ENDED.includes(this.status)) {
      el.textContent = "종료";
      el.classList.remove("is-urgent");
      el.classList.add("countdown--ended");
      return;
    }
    el.dataset.endsAt = new Date(this.endsAt).toISOString();
    const left = this.endsAt - (Date.now() + this.offset);
    el.textContent = this.status === "scheduled" ? "시작 전" : formatLeft(left);
    el.classList.toggle("is-urgent", left > 0 && left < 10 * 60 * 1000);
  }

  onEnded(msg) {
    this.status = msg.status;
    const status = this.el("status");
    if (status) {
      status.textContent = STATUS_TEXT[msg.status] || msg.status;
      status.dataset.status = msg.status;
      status.className = `status-pill status--${msg.status}`;
    }
    this.closeForms();
    this.renderCountdown();
    if (msg.status === "sold") {
      const leader = this.el("leader");
      const label = leader && leader.previousElementSibling;
      if (label && label.tagName === "DT") label.textContent = "낙찰자";
      this.showTradeLink(msg.winner_tag);
    }
    const lead = this.root.querySelector("[data-live-you-lead]");
    if (lead) lead.hidden = true;
    const note = this.root.querySelector("[data-my-max]");
    if (note) note.hidden = true;
    const youWon = msg.status === "sold" && Boolean(this.youTag) && msg.winner_tag === this.youTag;
    const text = youWon
      ? `낙찰됐어요! ${won(msg.final_price)}에 내가 낙찰받았어요. 판매자와 거래 약속을 잡아 보세요.`
      : msg.status === "sold"
        ? `경매가 끝났어요. ${won(msg.final_price)}에 낙찰됐어요${msg.winner ? ` (${msg.winner})` : ""}.`
        : msg.status === "cancelled"
          ? "경매가 취소됐어요."
          : "경매가 입찰 없이 끝났어요.";
    this.toast(text, youWon ? "ok" : "info");
  }

  closeForms() {
    for (const form of [this.bidForm, this.buyForm]) if (form) form.hidden = true;
  }

  showTradeLink(winnerTag) {
    // The winner and the seller go on to the trade (trades:for_auction finds it once settled).
    const link = this.tradeLink;
    if (!link) return;
    const youWon = Boolean(this.youTag && winnerTag && winnerTag === this.youTag);
    if (youWon || link.dataset.for === "seller") link.hidden = false;
  }

  renderMode() {
    // A leader whose maximum is known raises it; everybody else bids. The other fieldset is
    // disabled, so neither the socket frame nor the HTTP fallback carries its fields.
    if (!this.bidForm) return;
    const mode = this.youLead && this.myMax !== null && this.status === "open" && this.modes.raise ? "raise" : "bid";
    for (const [name, fieldset] of Object.entries(this.modes)) {
      if (!fieldset) continue;
      fieldset.disabled = name !== mode;
      fieldset.hidden = name !== mode;
    }
    this.bidForm.dataset.leading = mode === "raise" ? "1" : "";
    if (mode === "raise") {
      this.raiseAmount.value = String(this.myMax);
      const floor = this.modes.raise.querySelector("[data-raise-floor]");
      if (floor) floor.textContent = `${won(this.myMax)}보다 높게`;
    }
    let note = this.root.querySelector("[data-my-max]");
    if (mode === "raise") {
      if (!note) {
        note = document.createElement("p");
        note.className = "note note--good";
        this.bidForm.before(note);
      }
      note.dataset.myMax = String(this.myMax);
      note.textContent = `내 최대 입찰가는 ${won(this.myMax)}이에요. 다른 이웃이 입찰하면 이 금액까지 한 단계씩 자동으로 입찰해요. 이 금액 전부가 지갑에 보관 중이에요.`;
      note.hidden = false;
    } else if (note) {
      note.hidden = true;
    }
    // app.js's preview ("최대 …원까지 자동으로 입찰해요") follows the values set here too.
    this.bidForm.dispatchEvent(new Event("bid-form:changed"));
  }

  needsConfirmation(amount, maximum) {
    // auctions.rules.bid_needs_confirmation, with its numbers from the server: the factor, the
    // buy-now price and PRICE_MAX on the form, the minimum from the newest state.
    const data = this.bidForm.dataset;
    const factor = Number(data.confirmFactor);
    const priceMax = Number(data.priceMax);
    const buyNow = data.buyNow ? Number(data.buyNow) : null;
    const top = Math.max(amount, maximum || 0);
    const refusedAnyway = (buyNow !== null && top >= buyNow) || top > priceMax;
    return !refusedAnyway && factor > 0 && top > factor * this.minNext;
  }

  release(form) {
    // app.js marked the form as submitting (one click); nothing was sent after all.
    form.dataset.submitting = "";
    form.querySelectorAll("button[type='submit']").forEach((b) => b.removeAttribute("aria-disabled"));
  }

  // --- requests -------------------------------------------------------------------------

  hookForms() {
    // the forms' first use opens the bid door, so it is ready by the first press
    for (const form of [this.bidForm, this.buyForm]) {
      if (form) form.addEventListener("focusin", () => this.openDoor());
    }
    if (this.amountInput) {
      this.amountInput.addEventListener("input", () => {
        this.userEdited = true;
      });
    }
    if (this.bidForm) {
      this.bidForm.addEventListener("submit", (event) => {
        if (event.defaultPrevented || !this.isOpen()) return; // HTTP fallback
        // Every enabled field of the form, as the HTTP fallback would send them.
        const data = new FormData(this.bidForm);
        const amount = typedWon(data.get("amount"));
        const maxText = String(data.get("max_amount") || "").trim();
        const maximum = maxText === "" ? null : typedWon(maxText);
        if (Number.isNaN(amount) || Number.isNaN(maximum)) return; // let the server's form explain it
        event.preventDefault();
        if (this.needsConfirmation(amount, maximum)) {
          const top = Math.max(amount, maximum || 0);
          const question =
            `이 금액이 맞나요? ${won(top)}${maximum !== null && maximum > amount ? "(최대 입찰가)" : ""}은 ` +
            `최소 입찰가(${won(this.minNext)})의 ${this.bidForm.dataset.confirmFactor}배가 넘어요. ` +
            "0을 하나 더 누르지 않았는지 확인해 주세요.";
          if (!window.confirm(question)) {
            this.release(this.bidForm);
            return;
          }
        }
        const frame = { type: "bid", amount, request_id: newRequestId() };
        if (maximum !== null) frame.max_amount = maximum;
        this.request(frame, this.bidForm);
      });
    }
    if (this.buyForm) {
      this.buyForm.addEventListener("submit", (event) => {
        if (event.defaultPrevented || !this.isOpen()) return;
        event.preventDefault();
        this.request({ type: "buy_now", request_id: newRequestId() }, this.buyForm);
      });
    }
  }

  request(frame, form) {
    const entry = { frame, form, timer: null, viaDoor: false };
    this.pending.set(frame.request_id, entry);
    this.arm(entry);
    this.dispatch(entry);
    this.openDoor(); // for the next one (pressed without a focus first, say)
  }

  arm(entry) {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      // No answer: the socket is probably dead. Reconnect; the request is resent with the
      // same id after the new snapshot (the server never does it twice). Over the door: it
      // goes again over the watch socket at once.
      if (entry.viaDoor) this.dropDoor();
      else this.dropSocket();
    }, REPLY_TIMEOUT_MS);
  }

  resendPending() {
    for (const entry of this.pending.values()) {
      if (entry.viaDoor && this.doorReady) continue; // its door is open and will answer
      this.arm(entry);
      this.dispatch(entry);
    }
  }

  settle(requestId, reply) {
    if (!requestId) return null;
    const entry = this.pending.get(requestId);
    if (!entry) return null;
    clearTimeout(entry.timer);
    this.pending.delete(requestId);
    if (entry.form) {
      entry.form.dataset.submitting = "";
      entry.form.querySelectorAll("button[type='submit']").forEach((b) => b.removeAttribute("aria-disabled"));
      const hidden = entry.form.querySelector("input[name=request_id]");
      if (hidden) hidden.value = newRequestId(); // a fresh id for a later HTTP fallback
    }
    return entry;
  }

  onAck(msg) {
    this.settle(msg.request_id, msg);
    if (msg.action === "bid") {
      this.userEdited = false;
      const price = msg.state ? msg.state.current_price : msg.amount;
      if (msg.leading) {
        this.youLead = true;
        if (typeof msg.my_max === "number") this.myMax = msg.my_max;
      }
      if (this.bidForm) this.bidForm.querySelectorAll("input[name=max_amount]").forEach((input) => { input.value = ""; });
      this.renderMode();
      if (msg.duplicate) this.toast("이미 처리된 입찰이에요.", "ok");
      else if (!msg.leading) this.toast(`더 높은 최대 입찰가가 있어 자동 입찰로 밀렸어요. 지금 가격은 ${won(price)}이에요.`, "warn");
      else if (typeof msg.my_max === "number" && msg.my_max > price)
        this.toast(`입찰 완료! 지금 가격은 ${won(price)}, 최대 ${won(msg.my_max)}까지 자동으로 입찰해요.`, "ok");
      else this.toast(`${won(msg.amount)} 입찰 완료!`, "ok"); // "지금 최고 입찰자예요": the page's note, once
      // a gentle offer of Web Push after a bid, once per browser (static/js/push.js, issue 22)
      if (!msg.duplicate && window.nbPush) window.nbPush.offerAfterBid();
    } else if (msg.action === "buy_now") {
      this.toast(`${won(msg.price)}에 즉시구매했어요!`, "ok");
    }
  }

  onError(msg) {
    this.settle(msg.request_id, msg);
    const link = msg.code === "insufficient_funds" && this.toasts && this.toasts.dataset.walletUrl
      ? { href: this.toasts.dataset.walletUrl, text: "지갑 충전하기" }
      : null;
    this.toast(msg.message || "요청을 처리하지 못했어요.", "error", link);
    if (typeof msg.min_next_bid === "number" && this.amountInput) {
      this.userEdited = false;
      this.minNext = msg.min_next_bid;
      this.amountInput.value = grouped(msg.min_next_bid);
      this.renderMode();
    }
  }

  onNotification(msg) {
    this.toast(msg.message, msg.kind === "outbid" ? "warn" : "info");
  }

  toast(text, kind, link = null) {
    if (!this.toasts || !text) return;
    // One toast at a time (a stack of them covers the bid history on a phone). A lighter one
    // (an extension) joins a heavier one still shown (an outbid) instead of hiding it; a
    // heavier one replaces a lighter one and keeps its words.
    const shown = this.toasts.querySelector(".live-toast");
    const shownKind = shown ? shown.dataset.kind : null;
    if (shown && TOAST_WEIGHT[kind] < TOAST_WEIGHT[shownKind]) {
      shown.querySelector("[data-toast-text]").textContent += " " + text;
      return;
    }
    const item = document.createElement("p");
    item.className = `live-toast live-toast--${kind}`;
    item.dataset.kind = kind;
    item.setAttribute("role", kind === "error" || kind === "warn" ? "alert" : "status");
    const words = document.createElement("span");
    words.dataset.toastText = "";
    words.textContent = shown && shownKind === "info" && kind !== "info" && kind !== "error" ? `${text} ${shown.querySelector("[data-toast-text]").textContent}` : text;
    item.append(words);
    if (link) {
      const a = document.createElement("a");
      a.className = "live-toast__action";
      a.href = link.href;
      a.textContent = link.text;
      item.append(" ", a);
    }
    this.toasts.replaceChildren(item);
    setTimeout(() => item.remove(), link ? 2 * TOAST_MS : TOAST_MS);
  }
}

function start() {
  const root = document.querySelector("[data-auction-id][data-national='1']");
  if (!root || !("WebSocket" in window)) return;
  window.neighborbidLive = new LiveAuction(root);
}

// app.js starts its countdowns on DOMContentLoaded; start after it (listeners run in order).
if (document.readyState === "complete") start();
else document.addEventListener("DOMContentLoaded", start);
