/* NeighborBid page helpers (no build step): countdowns from the server's clock, confirmation
   of buy-now / cancel, one-click protection for forms, the radius selector and browser
   geolocation for neighbourhood verification. The server decides everything; this only
   displays and submits. */
// An amount as people type it (the same forms as wallets/amounts.py parse_won, which decides):
// "12,000", "12000원", and Korean units "5만", "5만 3천원", "1억 2천만", "만원". NaN otherwise.
window.NB = window.NB || {};
window.NB.typedWon = function (text) {
  var UNITS = { "억": 1e8, "만": 1e4, "천": 1e3, "백": 100 };
  var s = String(text == null ? "" : text).replace(/ /g, "").trim();
  if (s.slice(-1) === "원") s = s.slice(0, -1);
  if (/^(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)$/.test(s)) {
    var digits = s.replace(/,/g, "");
    return digits.length <= 13 ? Number.parseInt(digits, 10) : NaN;
  }
  if (!s || !/[억만천백]/.test(s)) return NaN;
  var term = /([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?([억만천백])?/y;
  var total = 0, group = 0, lastBig = 1e13, lastSmall = 1e5, pos = 0;
  while (pos < s.length) {
    term.lastIndex = pos;
    var m = term.exec(s);
    if (!m || term.lastIndex === pos) return NaN;
    var n = m[1] ? Number.parseInt(m[1].replace(/,/g, ""), 10) : null;
    var unit = m[2];
    if (!unit) {
      if (term.lastIndex !== s.length || n === null) return NaN;
      group += n;
    } else if (unit === "천" || unit === "백") {
      if (UNITS[unit] >= lastSmall || (n !== null && n >= 10)) return NaN;
      group += (n === null ? 1 : n) * UNITS[unit];
      lastSmall = UNITS[unit];
    } else {
      if (UNITS[unit] >= lastBig) return NaN;
      var value = group + (n || 0) || 1;
      if (value >= 10000) return NaN;
      total += value * UNITS[unit];
      group = 0; lastBig = UNITS[unit]; lastSmall = 1e5;
    }
    pos = term.lastIndex;
  }
  return total + group;
};

(function () {
  "use strict";

  var ENDED = ["sold", "unsold", "cancelled"];

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function formatLeft(ms, long) {
    if (ms <= 0) return "마감";
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400); s -= d * 86400;
    var h = Math.floor(s / 3600); s -= h * 3600;
    var m = Math.floor(s / 60); s -= m * 60;
    if (d > 0) return d + "일 " + h + "시간 남음";
    if (long) return (h > 0 ? h + ":" + pad(m) : m) + ":" + pad(s) + " 남음";
    if (h > 0) return h + "시간 " + m + "분 남음";
    if (m > 0) return m + "분 " + pad(s) + "초 남음";
    return s + "초 남음";
  }

  function startCountdowns() {
    var nodes = document.querySelectorAll("[data-countdown], [data-live='countdown']");
    if (!nodes.length) return;
    var root = document.querySelector("[data-auction-id]");
    var local = root && root.getAttribute("data-national") === "0";
    var started = Date.now();
    function tick() {
      nodes.forEach(function (el) {
        var ends = Date.parse(el.getAttribute("data-ends-at"));
        var server = Date.parse(el.getAttribute("data-server-time"));
        if (isNaN(ends) || isNaN(server)) return;
        // The server's time when it was read + time elapsed here since = the server's "now".
        var syncedAt = Number(el.getAttribute("data-synced-at")) || started;
        var now = server + (Date.now() - syncedAt);
        var left = ends - now;
        var detail = el.getAttribute("data-live") === "countdown";
        if (el.getAttribute("data-ended") === "1") return;
        var status = detail && root && root.querySelector("[data-live='status']");
        if (status && ENDED.indexOf(status.getAttribute("data-status")) !== -1) return;
        if (detail && local && left <= 0) {
          // The countdown ran out: ask the server (an extension, or its decision) instead of
          // reloading into an auction that may still be open.
          el.textContent = "마감 처리 중…";
          el.classList.remove("is-urgent");
          if (el.getAttribute("data-end-asked") !== el.getAttribute("data-ends-at") && Date.now() - started > 1500) {
            el.setAttribute("data-end-asked", el.getAttribute("data-ends-at"));
            if (window.neighborbidLocal) window.neighborbidLocal.countdownEnded();
            else setTimeout(function () { window.location.reload(); }, 2500);
          }
          return;
        }
        el.textContent = formatLeft(left, detail);
        el.classList.toggle("is-urgent", left > 0 && left < 10 * 60 * 1000);
      });
    }
    tick();
    setInterval(tick, 1000);
  }

  function won(n) { return Number(n).toLocaleString("ko-KR") + "원"; }

  function visible() { return !document.visibilityState || document.visibilityState === "visible"; }

  // Local (동네) auction pages have no socket: they re-check the public state over plain HTTP
  // (GET /auctions/<id>/state.json, conditional on the seq) every ~15 s while visible and when
  // the countdown runs out, and show what changed: the numbers, an extension, an outbid.
  var LOCAL_POLL_MS = 15000;
  var SETTLE_RETRY_MS = 3000;
  var SETTLE_RETRIES = 10;

  function LocalAuction(root) {
    this.root = root;
    this.url = "/auctions/" + root.getAttribute("data-auction-id") + "/state.json";
    this.seq = parseInt(root.getAttribute("data-seq") || "-1", 10);
    this.youTag = root.getAttribute("data-you-tag") || "";
    this.leaderTag = root.getAttribute("data-leader-tag") || "";
    this.countdown = root.querySelector("[data-live='countdown']");
    this.endsAt = this.countdown ? Date.parse(this.countdown.getAttribute("data-ends-at")) : NaN;
    this.etag = null;
    this.inflight = false;
    this.settleTries = 0;
    this.amount = root.querySelector("#bid-amount");
    this.userEdited = false;
    var self = this;
    if (this.amount) this.amount.addEventListener("input", function () { self.userEdited = true; });
    setInterval(function () { if (visible()) self.check(); }, LOCAL_POLL_MS);
    document.addEventListener("visibilitychange", function () { if (visible()) self.check(); });
  }

  LocalAuction.prototype.el = function (name) { return this.root.querySelector("[data-live='" + name + "']"); };

  LocalAuction.prototype.check = function (then) {
    var self = this;
    if (this.inflight || !window.fetch) return;
    this.inflight = true;
    var headers = { Accept: "application/json" };
    if (this.etag) headers["If-None-Match"] = this.etag;
    fetch(this.url, { headers: headers, credentials: "same-origin", cache: "no-cache" })
      .then(function (r) {
        if (r.status === 404) { window.location.reload(); return null; }
        if (r.status !== 200) return null; // 304: nothing new; 5xx: try again next time
        self.etag = r.headers.get("ETag");
        return r.json();
      })
      .then(function (state) {
        self.inflight = false;
        if (state) self.apply(state);
        if (then) then();
      })
      .catch(function () { self.inflight = false; if (then) then(); });
  };

  LocalAuction.prototype.countdownEnded = function () {
    var self = this;
    this.check(function () {
      if (self.stopped) return;
      var server = Date.parse(self.countdown.getAttribute("data-server-time"));
      var syncedAt = Number(self.countdown.getAttribute("data-synced-at")) || Date.now();
      var now = server + (Date.now() - syncedAt);
      if (!(self.endsAt > now)) {
        // Past its end and not decided yet: the server settles it in a moment.
        self.settleTries += 1;
        if (self.settleTries > SETTLE_RETRIES) window.location.reload();
        else setTimeout(function () { self.countdownEnded(); }, SETTLE_RETRY_MS);
      }
    });
  };

  LocalAuction.prototype.notice = function (text, kind) {
    // One notice at a time, newest wins.
    var box = this.root.querySelector("[data-local-notice]");
    if (!box) {
      box = document.createElement("p");
      box.setAttribute("data-local-notice", "");
      box.setAttribute("role", "status");
      var numbers = this.root.querySelector(".numbers");
      if (numbers) numbers.insertAdjacentElement("afterend", box);
      else this.root.prepend(box);
    }
    box.className = "note note--" + (kind || "warn");
    box.textContent = text;
  };

  LocalAuction.prototype.apply = function (state) {
    if (typeof state.seq !== "number" || state.seq <= this.seq) return;
    this.seq = state.seq;
    this.root.setAttribute("data-seq", String(state.seq));
    if (ENDED.indexOf(state.status) !== -1 || state.status !== this.root.querySelector("[data-live='status']").getAttribute("data-status")) {
      this.stopped = true;
      window.location.reload(); // the server's page shows its decision (winner, refunds)
      return;
    }
    var price = this.el("current_price");
    if (price) { price.textContent = won(state.current_price); price.setAttribute("data-value", String(state.current_price)); }
    var label = price && price.previousElementSibling;
    if (label && label.tagName === "DT") label.textContent = state.bid_count ? "현재가" : "시작가";
    var min = this.el("min_next_bid");
    if (min) { min.textContent = won(state.min_next_bid); min.setAttribute("data-value", String(state.min_next_bid)); }
    var count = this.el("bid_count");
    if (count) count.textContent = String(state.bid_count);
    var youLead = Boolean(this.youTag && state.leader_tag === this.youTag);
    var leader = this.el("leader");
    if (leader) leader.textContent = state.leader ? state.leader + (youLead ? " (나)" : "") : "아직 없음";
    var leadNote = this.root.querySelector("[data-you-lead]");
    if (leadNote) leadNote.hidden = !youLead;
    this.renderRecent(state.recent_bids || []);
    if (this.amount && document.activeElement !== this.amount) { // never under the user's cursor (live.js)
      var typed = window.NB.typedWon(this.amount.value || "");
      if (!this.userEdited || !(typed >= state.min_next_bid)) this.amount.value = state.min_next_bid.toLocaleString("ko-KR");
    }
    var wasLeading = Boolean(this.youTag && this.leaderTag === this.youTag);
    this.leaderTag = state.leader_tag || "";
    this.root.setAttribute("data-leader-tag", this.leaderTag);
    var ends = Date.parse(state.ends_at);
    var extended = !isNaN(this.endsAt) && ends - this.endsAt >= 1000;
    if (this.countdown) {
      this.countdown.setAttribute("data-ends-at", state.ends_at);
      this.countdown.setAttribute("data-server-time", state.server_time);
      this.countdown.setAttribute("data-synced-at", String(Date.now()));
    }
    var minutes = Math.round((ends - this.endsAt) / 60000);
    this.endsAt = ends;
    if (wasLeading && !youLead) {
      this.notice("더 높은 입찰이 들어왔어요. 입찰금은 지갑으로 돌아왔어요. 최소 입찰가는 " + won(state.min_next_bid) + "이에요.", "warn");
    } else if (extended) {
      this.settleTries = 0;
      this.notice(minutes >= 1 ? "마감이 " + minutes + "분 연장됐어요." : "마감이 연장됐어요.", "info");
    }
  };

  LocalAuction.prototype.renderRecent = function (bids) {
    var list = this.el("recent_bids");
    if (!list) return;
    list.innerHTML = "";
    if (!bids.length) {
      var empty = document.createElement("li");
      empty.className = "history__empty";
      empty.textContent = "아직 입찰이 없어요. 첫 입찰자가 되어 보세요!";
      list.appendChild(empty);
      return;
    }
    bids.forEach(function (b) {
      var li = document.createElement("li");
      var who = document.createElement("span");
      who.className = "history__who";
      who.textContent = b.bidder;
      var amount = document.createElement("span");
      amount.className = "history__amount";
      amount.textContent = won(b.amount);
      li.appendChild(who);
      li.appendChild(amount);
      list.appendChild(li);
    });
  };

  function localAuction() {
    var root = document.querySelector("[data-auction-id][data-national='0']");
    var status = root && root.querySelector("[data-live='status']");
    if (!root || !status || ENDED.indexOf(status.getAttribute("data-status")) !== -1) return;
    window.neighborbidLocal = new LocalAuction(root);
  }

  // The header badge: GET /notifications/unread.json about once a minute while visible.
  var BADGE_POLL_MS = 60000;

  function unreadBadge() {
    var bells = document.querySelectorAll(".topnav__bell, .bell-mobile");
    function label(bell, count) {
      var base = bell.getAttribute("data-badge-label");
      if (base) bell.setAttribute("aria-label", count ? base + ", " + bell.getAttribute("data-badge-unit") + " " + count + "개" : base);
    }
    if (!bells.length || !window.fetch) return;
    function show(count) {
      bells.forEach(function (bell) {
        var badge = bell.querySelector(".badge");
        label(bell, count);
        if (!count) { if (badge) badge.remove(); return; }
        if (!badge) {
          badge = document.createElement("span");
          badge.className = "badge";
          badge.setAttribute("data-unread-badge", "");
          badge.setAttribute("aria-hidden", "true");
          bell.appendChild(badge);
        }
        badge.textContent = String(count);
      });
    }
    function poll() {
      if (!visible()) return;
      fetch("/notifications/unread.json", { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.status === 200 ? r.json() : null; })
        .then(function (data) { if (data && data.signed_in) show(data.unread); })
        .catch(function () {});
    }
    setInterval(poll, BADGE_POLL_MS);
    document.addEventListener("visibilitychange", poll);
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var confirmed = form.querySelector("[data-confirmed]");
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
          event.stopImmediatePropagation();
          if (confirmed) confirmed.value = "";
        } else if (confirmed) {
          confirmed.value = "1"; // without JavaScript the server asks on a page of its own
        }
      });
    });
  }

  function oneClick() {
    // A second click while the first POST is on its way does nothing (the request id makes a
    // resubmission harmless anyway).
    document.querySelectorAll("form[method='post'], form[method='POST']").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (event.defaultPrevented) return;
        if (form.dataset.submitting === "1") { event.preventDefault(); return; }
        form.dataset.submitting = "1";
        form.querySelectorAll("button[type='submit']").forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
      });
    });
  }

  function autosubmit() {
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.addEventListener("change", function () { form.requestSubmit ? form.requestSubmit() : form.submit(); });
    });
  }

  function geolocation() {
    // Every press asks the browser for a fresh position (maximumAge: 0): after a refusal ("too
    // far") the page comes back with the form, and a retry must never re-send the old position.
    // On arrival the page asks for the position once and proposes the nearest 동 and the next
    // two (data-geo-propose: /accounts/verify/nearby/), so verifying takes two taps.
    var form = document.querySelector("form[data-geo-form]");
    if (!form) return;
    var status = form.querySelector("[data-geo-status]");
    var lat = form.querySelector("input[name='latitude']");
    var lon = form.querySelector("input[name='longitude']");
    var choice = form.querySelector("[data-geo-choice]");
    var proposals = form.querySelector("[data-geo-proposals]");
    var initial = status.textContent;
    var pending = false;
    function buttons() { return form.querySelectorAll("button[type='submit']"); }
    function reset(message, isError) {
      lat.value = "";
      lon.value = "";
      pending = false;
      delete form.dataset.submitting;
      buttons().forEach(function (b) { b.removeAttribute("aria-disabled"); });
      status.textContent = message;
      status.classList.toggle("error", !!isError);
    }
    reset(initial, false);
    // Back/forward cache: a page restored after the POST starts clean too.
    window.addEventListener("pageshow", function (event) { if (event.persisted) reset(initial, false); });
    function denied(err) {
      return err && err.code === 1
        ? "위치 권한이 거부됐어요. 아래에서 동네 이름이나 초성으로 찾은 뒤, 위치 권한을 허용하고 인증해 주세요."
        : "현재 위치를 가져오지 못했어요. 잠시 후 다시 시도하거나 아래에서 동네를 찾아 주세요.";
    }
    function propose(pos) {
      var body = new FormData();
      body.append("latitude", pos.coords.latitude.toFixed(6));
      body.append("longitude", pos.coords.longitude.toFixed(6));
      var token = form.querySelector("input[name='csrfmiddlewaretoken']");
      fetch(form.dataset.geoPropose, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": token ? token.value : "", "Accept": "application/json" },
      }).then(function (r) { return r.json(); }).then(function (data) {
        proposals.innerHTML = "";
        (data.results || []).forEach(function (n, i) {
          var li = document.createElement("li");
          var b = document.createElement("button");
          b.type = "submit";
          b.name = "neighbourhood";
          b.value = String(n.id);
          b.className = "btn btn--block" + (i === 0 ? " btn--primary" : "");
          b.setAttribute("data-geo-button", "");
          b.textContent = n.full_name + " 인증하기 (" + n.km.toFixed(1) + "km)";
          li.appendChild(b);
          proposals.appendChild(li);
        });
        // a refusal is {"error": "..."} (bad position) or {"error": {"message": ...}} (429)
        var error = data.error && (data.error.message || data.error);
        status.textContent = error || data.message || "가장 가까운 동네예요. 눌러서 인증해 주세요.";
        status.classList.toggle("error", !!(error || data.message));
      }).catch(function () {
        status.textContent = "가까운 동네를 불러오지 못했어요. 아래에서 동네를 찾아 주세요.";
      });
    }
    if (form.dataset.geoPropose && proposals && navigator.geolocation) {
      status.textContent = "현재 위치에서 가까운 동네를 찾는 중이에요…";
      navigator.geolocation.getCurrentPosition(propose, function (err) {
        status.textContent = denied(err);
        status.classList.add("error");
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault(); // the position is sent by form.submit() below, once it is known
      if (pending) return;
      // form.submit() leaves out the pressed button: its 동 goes into the hidden field
      if (choice && event.submitter && event.submitter.name === "neighbourhood") choice.value = event.submitter.value;
      reset("현재 위치를 확인하는 중이에요…", false);
      if (!navigator.geolocation) {
        reset("이 브라우저는 위치 확인을 지원하지 않아요.", true);
        return;
      }
      pending = true;
      buttons().forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          lat.value = pos.coords.latitude.toFixed(6);
          lon.value = pos.coords.longitude.toFixed(6);
          status.textContent = "위치를 확인했어요. 인증하는 중…";
          form.submit();
        },
        function (err) {
          reset(err && err.code === 1
            ? "위치 권한이 거부됐어요. 브라우저 설정에서 위치 권한을 허용한 뒤 다시 시도해 주세요. 인증 없이도 둘러볼 수 있어요."
            : "현재 위치를 가져오지 못했어요. 잠시 후 다시 시도해 주세요.", true);
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 }
      );
    });
  }

  function photoPreviews() {
    // the listing form's photos (up to 10) and the chat room's one photo: the same picker
    document.querySelectorAll("input[type='file'][multiple], input[type='file'].photo-input").forEach(function (input) {
      var most = input.multiple ? 10 : 1;
      var list = document.createElement("ul");
      list.className = "photo-strip photo-strip--preview";
      list.setAttribute("aria-live", "polite");
      var next = input.nextElementSibling;
      var anchor = next && next.classList.contains("photo-picker") ? next : input;
      anchor.insertAdjacentElement("afterend", list);
      var label = anchor.querySelector && anchor.querySelector("span");
      input.addEventListener("change", function () {
        list.innerHTML = "";
        Array.prototype.slice.call(input.files || [], 0, most).forEach(function (file) {
          if (!/^image\//.test(file.type)) return;
          var li = document.createElement("li");
          var img = document.createElement("img");
          img.alt = file.name;
          img.src = URL.createObjectURL(file);
          li.appendChild(img);
          list.appendChild(li);
        });
        if (label && anchor !== input) {
          var count = Math.min((input.files || []).length, most);
          label.textContent = most === 1 ? (count ? "다른 사진 고르기" : "사진 고르기") : "사진 " + count + "/10";
        }
        if ((input.files || []).length > most) {
          var note = document.createElement("li");
          note.className = "error";
          note.textContent = "사진은 최대 10장까지 올릴 수 있어요.";
          list.appendChild(note);
        }
      });
    });
  }

  // The review form (templates/reviews/form.html): only the tags that fit the rating picked are
  // shown ("좋아요": 좋았던 점, "별로예요": 아쉬웠던 점, "괜찮아요": both); a hidden group's boxes
  // are unticked, so what is sent always agrees with the rating (the service checks it too).
  function reviewTags() {
    const form = document.querySelector("[data-review-form]");
    if (!form) return;
    const hint = form.querySelector("[data-tags-hint]");
    function sync() {
      const picked = form.querySelector('input[name="rating"]:checked');
      const rating = picked ? picked.value : null;
      if (hint) hint.hidden = Boolean(rating);
      form.querySelectorAll("[data-tags-for]").forEach(function (group) {
        const fits = Boolean(rating) && group.dataset.tagsFor.split(" ").indexOf(rating) !== -1;
        group.hidden = !fits;
        if (!fits) {
          group.querySelectorAll("input[type=checkbox]").forEach(function (box) { box.checked = false; });
        }
      });
    }
    form.addEventListener("change", function (event) {
      if (event.target && event.target.name === "rating") sync();
    });
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    reviewTags();
    photoPreviews();
    confirmations();
    geolocation();
    oneClick();
    autosubmit();
    localAuction();
    startCountdowns();
    unreadBadge();
  });
})();


// Max bidding: say what will happen before the bid is sent (docs/web.md).
(() => {
  const form = document.getElementById("bid-form");
  const preview = form && form.querySelector("[data-bid-preview]");
  if (!form || !preview) return;
  const digits = (el) => window.NB.typedWon((el && el.value) || "");
  const won = (n) => `${n.toLocaleString("ko-KR")}원`;
  const update = () => {
    const amount = digits(form.querySelector("#bid-amount"));
    const maximum = digits(form.querySelector("#bid-amount-max"));
    if (!(amount > 0)) { preview.textContent = ""; return; }
    preview.textContent = maximum > amount
      ? `최대 ${won(maximum)}까지 자동으로 입찰해요. 지금 가격은 ${won(amount)}이 돼요.`
      : `${won(amount)}에 입찰해요.`;
  };
  form.addEventListener("input", update);
  form.addEventListener("bid-form:changed", update); // live.js set the amount or the mode
  update();
})();

// The bid's receipt after a form bid (issue 24): kept for the verify page, like live.js does
// with the socket's ack. It rides on the bid's success message: data-receipt="auction:seq:hash".
(function () {
  document.querySelectorAll(".message[data-receipt]").forEach((el) => {
    const [auction, seq, hash] = el.dataset.receipt.split(":");
    if (!auction || !seq || !hash) return;
    const key = `nb-receipts-${auction}`;
    try {
      const kept = JSON.parse(localStorage.getItem(key) || "[]");
      if (!kept.some((r) => r.seq === Number(seq))) kept.push({ seq: Number(seq), hash });
      localStorage.setItem(key, JSON.stringify(kept.slice(-200)));
    } catch (e) { /* private mode or full storage: the verify page still checks the log */ }
  });
})();
