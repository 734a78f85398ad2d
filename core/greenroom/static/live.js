// Live pages. Progressive enhancement only: without this file, or with the event stream
// blocked, every page works as it does without scripts.
//
// A page says what it shows (an entity, /incidents, /oncall, the catalog) and listens to
// /api/live/events. An event says what changed ({entity, card, version}); the page then fetches
// its own fresh fragment (pages differ per viewer) and swaps it in, keeping focus, scroll
// position and anything typed in an open form. Tabs of one browser share one stream: the tab
// holding a Web Lock opens it for every tab's watches and relays events on a BroadcastChannel.
(function () {
  "use strict";
  if (!window.fetch || !window.EventSource || !window.DOMParser) return;

  // Where the portal is mounted (it may sit under a path prefix): this script's own URL says.
  var script = document.currentScript;
  var ROOT = script && script.src ? new URL(script.src).pathname.replace(/\/static\/live\.js$/, "") : "";

  var TICK_MS = 30000;
  var MAX_BACKOFF_MS = 30000;
  var NOT_LIVE_AFTER_MS = 2500;
  var TAB_TIMEOUT_MS = 30000;
  var ANNOUNCE_MS = 10000;

  // --- what this page shows --------------------------------------------------------------

  function pageWatches(path) {
    if (path === "/") return ["home"];
    if (path === "/incidents" || path === "/incidents/") return ["incidents"];
    if (path === "/oncall" || path === "/oncall/") return ["oncall"];
    var m = /^\/catalog\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(path);
    if (m) {
      return ["entity:" + decodeURIComponent(m[2]).toLowerCase() + ":" +
        decodeURIComponent(m[1]) + "/" + decodeURIComponent(m[3])];
    }
    return [];
  }

  var path = location.pathname;
  if (ROOT && path.indexOf(ROOT) === 0) path = path.slice(ROOT.length) || "/";
  var watches = pageWatches(path);
  var entityRef = watches.length && watches[0].indexOf("entity:") === 0 ? watches[0].slice(7) : null;

  // --- relative times tick in the browser -------------------------------------------------

  var AGE = /^(just now|\d+ (minute|hour|day)s? ago)$/;

  function age(iso) {
    var seconds = Math.floor((Date.now() - new Date(iso).getTime()) / 1000);
    if (isNaN(seconds)) return null;
    if (seconds < 60) return "just now";
    var units = [["day", 86400], ["hour", 3600], ["minute", 60]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1]) {
        var n = Math.floor(seconds / units[i][1]);
        return n + " " + units[i][0] + (n === 1 ? "" : "s") + " ago";
      }
    }
    return "just now";
  }

  function tickTimes(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (el) {
      var text = el.textContent.trim();
      if (!AGE.test(text)) return;
      var fresh = age(el.getAttribute("datetime"));
      if (fresh && fresh !== text) el.textContent = fresh;
    });
  }

  setInterval(tickTimes, TICK_MS);
  if (!watches.length) return;

  // --- the page's furniture: a "not live" note and a polite announcer ----------------------

  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = ROOT + "/static/live.css";
  document.head.appendChild(css);

  var status = document.createElement("div");
  status.className = "live-status";
  status.hidden = true;
  status.setAttribute("data-live-status", "");
  status.textContent = "Not live: reconnecting…";
  status.title = "Changes will show after a reload until the page reconnects.";
  var announcer = document.createElement("div");
  announcer.className = "live-announcer";
  announcer.setAttribute("aria-live", "polite");
  announcer.setAttribute("role", "status");

  function mountFurniture() {
    document.body.appendChild(status);
    document.body.appendChild(announcer);
  }
  if (document.body) mountFurniture(); else document.addEventListener("DOMContentLoaded", mountFurniture);

  var notLiveTimer = null;
  var live = null;
  function setLive(value) {
    if (value === live) return;
    live = value;
    document.documentElement.setAttribute("data-live", value ? "on" : "off");
    clearTimeout(notLiveTimer);
    if (value) { status.hidden = true; return; }
    notLiveTimer = setTimeout(function () { if (!live) status.hidden = false; }, NOT_LIVE_AFTER_MS);
  }
  setLive(false);

  function announce(text) {
    announcer.textContent = "";
    setTimeout(function () { announcer.textContent = text; }, 50);
  }

  // --- swapping a fragment in without losing what the person is doing ---------------------

  function fieldKey(el) {
    var form = el.form;
    var where = form ? (form.getAttribute("action") || "") : "";
    var extra = (el.type === "radio" || el.type === "checkbox") ? "|" + el.value : "";
    if (el.name) return where + "|" + el.name + extra;
    if (el.id) return "#" + el.id;
    return null;
  }

  function isDirty(el) {
    if (el.type === "hidden" || el.type === "submit" || el.type === "button") return false;
    if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") {
      for (var i = 0; i < el.options.length; i++) {
        if (el.options[i].selected !== el.options[i].defaultSelected) return true;
      }
      return false;
    }
    return el.value !== el.defaultValue;
  }

  function capture(root) {
    var state = { fields: [], open: [], focus: null };
    root.querySelectorAll("input, textarea, select").forEach(function (el) {
      var key = fieldKey(el);
      if (!key || !isDirty(el)) return;
      var value = el.tagName === "SELECT"
        ? Array.prototype.filter.call(el.options, function (o) { return o.selected; }).map(function (o) { return o.value; })
        : el.value;
      state.fields.push({ key: key, value: value, checked: el.checked });
    });
    root.querySelectorAll("details[open] > summary").forEach(function (summary) {
      state.open.push(summary.textContent.trim());
    });
    var active = document.activeElement;
    if (active && active !== document.body && root.contains(active)) {
      state.focus = {
        key: fieldKey(active) || (active.tagName === "SUMMARY" ? "summary|" + active.textContent.trim() : null),
        start: typeof active.selectionStart === "number" ? active.selectionStart : null,
        end: typeof active.selectionEnd === "number" ? active.selectionEnd : null
      };
    }
    return state;
  }

  function findField(root, key) {
    var found = null;
    root.querySelectorAll("input, textarea, select").forEach(function (el) {
      if (!found && fieldKey(el) === key) found = el;
    });
    return found;
  }

  function restore(root, state) {
    state.open.forEach(function (text) {
      root.querySelectorAll("details > summary").forEach(function (summary) {
        if (summary.textContent.trim() === text) summary.parentElement.open = true;
      });
    });
    state.fields.forEach(function (saved) {
      var el = findField(root, saved.key);
      if (!el) return;
      if (el.type === "checkbox" || el.type === "radio") el.checked = saved.checked;
      else if (el.tagName === "SELECT") {
        Array.prototype.forEach.call(el.options, function (o) { o.selected = saved.value.indexOf(o.value) >= 0; });
      } else el.value = saved.value;
      el.dispatchEvent(new Event("input", { bubbles: true }));
    });
    if (state.focus && state.focus.key) {
      var target = null;
      if (state.focus.key.indexOf("summary|") === 0) {
        var text = state.focus.key.slice(8);
        root.querySelectorAll("summary").forEach(function (s) { if (!target && s.textContent.trim() === text) target = s; });
      } else target = findField(root, state.focus.key);
      if (target) {
        target.focus({ preventScroll: true });
        if (state.focus.start !== null && typeof target.setSelectionRange === "function") {
          try { target.setSelectionRange(state.focus.start, state.focus.end); } catch (e) { /* not a text field */ }
        }
      }
    }
  }

  function visibleText(root) {
    var copy = root.cloneNode(true);
    copy.querySelectorAll("time").forEach(function (t) { t.textContent = ""; });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }

  function busy(root) {
    return !!root.querySelector("form[data-submitting]");
  }

  // Replaces root's content with html; returns whether anything a person sees changed.
  function swap(root, html) {
    var before = visibleText(root);
    var state = capture(root);
    var x = window.scrollX, y = window.scrollY;
    root.innerHTML = html;
    restore(root, state);
    tickTimes(root);
    window.scrollTo(x, y);
    var changed = visibleText(root) !== before;
    if (changed) {
      root.classList.remove("live-updated");
      void root.offsetWidth;
      root.classList.add("live-updated");
    }
    return changed;
  }

  // --- refreshing what the page shows ------------------------------------------------------

  var pending = {};
  function once(key, job) {
    // One fetch per fragment at a time; a change during a fetch fetches again after it.
    if (pending[key]) { pending[key].again = true; return; }
    pending[key] = { again: false };
    job().catch(function () { /* the next event, or a reload, will bring it */ }).then(function () {
      var again = pending[key].again;
      delete pending[key];
      if (again) once(key, job);
    });
  }

  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      });
  }

  function refreshCard(slot) {
    var card = slot.getAttribute("data-card");
    once("card:" + card, function () {
      var url = location.pathname.replace(/\/$/, "") + "/cards/" + encodeURIComponent(card);
      return get(url).then(function (html) {
        if (busy(slot)) return;
        if (swap(slot, html)) {
          var title = slot.querySelector(".card-title");
          announce((title ? title.textContent.trim() : card) + " updated");
        }
        // Still rate limited with the very same words: no change to observe, so ask here.
        retryLater(slot);
      });
    });
  }

  // A card whose read was rate limited says when it retries (data-retry-after, seconds).
  function retryLater(root) {
    root.querySelectorAll(".card-slot [data-retry-after]").forEach(function (box) {
      var slot = box.closest(".card-slot");
      var seconds = parseInt(box.getAttribute("data-retry-after"), 10);
      if (!slot || !(seconds > 0) || slot.getAttribute("data-retrying")) return;
      slot.setAttribute("data-retrying", "1");
      setTimeout(function () { slot.removeAttribute("data-retrying"); refreshCard(slot); },
        seconds * 1000);
    });
  }
  retryLater(document);
  if (window.MutationObserver && document.body) {  // cards streamed in, or swapped in later
    new MutationObserver(function () { retryLater(document); })
      .observe(document.body, { childList: true, subtree: true });
  }

  function refreshMain() {
    once("main", function () {
      return get(location.href).then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        var main = document.getElementById("main");
        if (!fresh || !main || busy(main)) return;
        // A flash alert shown on this page is kept: the fresh copy no longer has it.
        var flash = main.firstElementChild && main.firstElementChild.classList.contains("alert") &&
          !(fresh.firstElementChild && fresh.firstElementChild.classList.contains("alert"))
          ? main.firstElementChild.outerHTML : "";
        if (swap(main, flash + fresh.innerHTML)) {
          var heading = main.querySelector("h1");
          announce((heading ? heading.textContent.trim() : "Page") + " updated");
        }
      });
    });
  }

  function refreshAll() {
    if (entityRef) document.querySelectorAll(".card-slot[data-card]").forEach(refreshCard);
    else refreshMain();
  }

  function handle(kind, data) {
    if (kind === "refresh") { refreshAll(); return; }
    if (kind !== "change" || !data) return;
    if (entityRef) {
      if (data.entity !== entityRef) return;
      var slots = document.querySelectorAll(".card-slot[data-card]");
      var matched = false;
      slots.forEach(function (slot) {
        if (data.card === "*" || slot.getAttribute("data-card") === data.card) { matched = true; refreshCard(slot); }
      });
      if (!matched) slots.forEach(refreshCard);
    } else {
      refreshMain();
    }
  }

  // --- the stream --------------------------------------------------------------------------

  var lastId = "";

  function Stream(onEvent, onStatus) {
    var source = null, attempt = 0, timer = null, current = [];
    function url(list) {
      var query = new URLSearchParams();
      list.forEach(function (w) { query.append("watch", w); });
      if (lastId) query.set("last", lastId);
      return ROOT + "/api/live/events?" + query.toString();
    }
    function open(list) {
      current = list.slice();
      clearTimeout(timer);
      if (source) source.close();
      source = new EventSource(url(current));
      source.addEventListener("open", function () { attempt = 0; onStatus(true); });
      source.addEventListener("ready", function (e) { if (e.lastEventId) lastId = e.lastEventId; });
      source.addEventListener("change", function (e) {
        if (e.lastEventId) lastId = e.lastEventId;
        var data = null;
        try { data = JSON.parse(e.data); } catch (err) { return; }
        onEvent("change", lastId, data);
      });
      source.addEventListener("refresh", function () { onEvent("refresh", lastId, null); });
      source.onerror = function () {
        onStatus(false);
        source.close();
        // Back off (with jitter) so a portal that is down is not hammered by every browser.
        var delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
        attempt += 1;
        timer = setTimeout(function () { open(current); }, delay);
      };
    }
    return {
      open: open,
      watches: function () { return current; },
      close: function () { clearTimeout(timer); if (source) source.close(); }
    };
  }

  var TAB = Math.random().toString(36).slice(2);
  var shared = typeof BroadcastChannel === "function" && navigator.locks && navigator.locks.request;

  if (!shared) {
    Stream(function (kind, id, data) { handle(kind, data); }, setLive).open(watches);
    return;
  }

  var channel = new BroadcastChannel("greenroom-live");
  var leader = null;

  function Leader() {
    var tabs = {};
    var debounce = null;
    var isLive = false;
    tabs[TAB] = { watches: watches, seen: Date.now() };
    var stream = Stream(function (kind, id, data) {
      handle(kind, data);
      channel.postMessage({ type: "event", kind: kind, id: id, data: data });
    }, function (value) {
      isLive = value;
      setLive(value);
      channel.postMessage({ type: "status", live: value, id: lastId });
    });
    function union() {
      var now = Date.now(), all = {};
      Object.keys(tabs).forEach(function (tab) {
        if (tab !== TAB && now - tabs[tab].seen > TAB_TIMEOUT_MS) { delete tabs[tab]; return; }
        tabs[tab].watches.forEach(function (w) { all[w] = true; });
      });
      return Object.keys(all).sort();
    }
    function update() {
      clearTimeout(debounce);
      debounce = setTimeout(function () {
        var wanted = union();
        if (wanted.join("\n") !== stream.watches().join("\n")) stream.open(wanted);
      }, 150);
    }
    return {
      seen: function (tab, list) { tabs[tab] = { watches: list, seen: Date.now() }; update();
        channel.postMessage({ type: "status", live: isLive, id: lastId }); },
      gone: function (tab) { delete tabs[tab]; update(); },
      start: function () { stream.open(union()); }
    };
  }

  channel.onmessage = function (message) {
    var msg = message.data || {};
    if (msg.type === "event") {
      if (msg.id) lastId = msg.id;
      handle(msg.kind, msg.data);
    } else if (msg.type === "status") {
      if (!leader) { if (msg.id) lastId = msg.id; setLive(!!msg.live); }
    } else if (msg.type === "watch") {
      if (leader) leader.seen(msg.tab, msg.watches || []);
    } else if (msg.type === "bye") {
      if (leader) leader.gone(msg.tab);
    } else if (msg.type === "who") {
      if (!leader) tell();
    }
  };

  function tell() { channel.postMessage({ type: "watch", tab: TAB, watches: watches }); }
  tell();
  setInterval(function () { if (!leader) tell(); }, ANNOUNCE_MS);
  window.addEventListener("pagehide", function () { channel.postMessage({ type: "bye", tab: TAB }); });

  navigator.locks.request("greenroom-live-leader", function () {
    // This tab now opens the one stream for every tab of the browser, until it closes.
    leader = Leader();
    leader.start();
    channel.postMessage({ type: "who" });
    return new Promise(function () {});
  });
})();
