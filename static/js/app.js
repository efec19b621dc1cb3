/* NeighborBid page helpers (no build step): countdowns from the server's clock, confirmation
   of buy-now / cancel, one-click protection for forms, the radius selector and browser
   geolocation for neighbourhood verification. The server decides everything; this only
   displays and submits. */
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
    var reloaded = false;
    var started = Date.now();
    function tick() {
      nodes.forEach(function (el) {
        var ends = Date.parse(el.getAttribute("data-ends-at"));
        var server = Date.parse(el.getAttribute("data-server-time"));
        if (isNaN(ends) || isNaN(server)) return;
        // Server time at page load + time elapsed here = the server's "now".
        var now = server + (Date.now() - started);
        var left = ends - now;
        var detail = el.getAttribute("data-live") === "countdown";
        if (el.getAttribute("data-ended") === "1") return;
        var status = detail && root && root.querySelector("[data-live='status']");
        if (status && ENDED.indexOf(status.getAttribute("data-status")) !== -1) return;
        el.textContent = formatLeft(left, detail);
        el.classList.toggle("is-urgent", left > 0 && left < 10 * 60 * 1000);
        if (detail && left <= 0 && local && !reloaded && Date.now() - started > 1500) {
          // The server settles the auction; show its decision shortly.
          reloaded = true;
          el.textContent = "마감 처리 중…";
          setTimeout(function () { window.location.reload(); }, 2500);
        }
      });
    }
    tick();
    setInterval(tick, 1000);
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
    var form = document.querySelector("form[data-geo-form]");
    if (!form) return;
    var status = form.querySelector("[data-geo-status]");
    var lat = form.querySelector("input[name='latitude']");
    var lon = form.querySelector("input[name='longitude']");
    var buttons = form.querySelectorAll("button[type='submit']");
    var initial = status.textContent;
    var pending = false;
    function reset(message, isError) {
      lat.value = "";
      lon.value = "";
      pending = false;
      delete form.dataset.submitting;
      buttons.forEach(function (b) { b.removeAttribute("aria-disabled"); });
      status.textContent = message;
      status.classList.toggle("error", !!isError);
    }
    reset(initial, false);
    // Back/forward cache: a page restored after the POST starts clean too.
    window.addEventListener("pageshow", function (event) { if (event.persisted) reset(initial, false); });
    form.addEventListener("submit", function (event) {
      event.preventDefault(); // the position is sent by form.submit() below, once it is known
      if (pending) return;
      reset("현재 위치를 확인하는 중이에요…", false);
      if (!navigator.geolocation) {
        reset("이 브라우저는 위치 확인을 지원하지 않아요.", true);
        return;
      }
      pending = true;
      buttons.forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
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
    document.querySelectorAll("input[type='file'][multiple]").forEach(function (input) {
      var list = document.createElement("ul");
      list.className = "photo-strip photo-strip--preview";
      list.setAttribute("aria-live", "polite");
      var next = input.nextElementSibling;
      var anchor = next && next.classList.contains("photo-picker") ? next : input;
      anchor.insertAdjacentElement("afterend", list);
      var label = anchor.querySelector && anchor.querySelector("span");
      input.addEventListener("change", function () {
        list.innerHTML = "";
        Array.prototype.slice.call(input.files || [], 0, 10).forEach(function (file) {
          if (!/^image\//.test(file.type)) return;
          var li = document.createElement("li");
          var img = document.createElement("img");
          img.alt = file.name;
          img.src = URL.createObjectURL(file);
          li.appendChild(img);
          list.appendChild(li);
        });
        if (label && anchor !== input) label.textContent = "사진 " + Math.min((input.files || []).length, 10) + "/10";
        if ((input.files || []).length > 10) {
          var note = document.createElement("li");
          note.className = "error";
          note.textContent = "사진은 최대 10장까지 올릴 수 있어요.";
          list.appendChild(note);
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    photoPreviews();
    confirmations();
    geolocation();
    oneClick();
    autosubmit();
    startCountdowns();
  });
})();
