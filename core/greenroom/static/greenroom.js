// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Forms marked data-require-valid: the submit button is disabled while the form is invalid
  // and while a submit is in flight, so a double click sends one request.
  // The reason sits next to the disabled button (and is its description), e.g.
  // "Fill in Problem description first."
  function labelOf(field) {
    var label = field.labels && field.labels[0];
    var text = label ? label.textContent : (field.getAttribute("aria-label") || field.name);
    return text.replace(/\s+/g, " ").trim();
  }
  function wire(form) {
    if (form.dataset.wired) return;
    form.dataset.wired = "1";
    function buttons() { return form.querySelectorAll("button[type=submit], input[type=submit]"); }
    function update() {
      if (form.dataset.submitting) return;
      var missing = [];
      Array.prototype.forEach.call(form.elements, function (field) {
        if (field.willValidate && !field.checkValidity()) {
          var label = labelOf(field);
          if (missing.indexOf(label) < 0) missing.push(label);
        }
      });
      buttons().forEach(function (b) {
        b.disabled = missing.length > 0;
        var why = b.nextElementSibling && b.nextElementSibling.classList.contains("why-disabled")
          ? b.nextElementSibling : null;
        if (!missing.length) {
          if (why) why.remove();
          b.removeAttribute("aria-describedby");
          return;
        }
        if (!why) {
          why = document.createElement("span");
          why.className = "hint why-disabled";
          why.id = "why-" + Math.random().toString(36).slice(2);
          b.after(why);
        }
        why.textContent = "Fill in " + missing.join(", ") + " first.";
        b.setAttribute("aria-describedby", why.id);
      });
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    form.addEventListener("submit", function (event) {
      if (form.dataset.submitting) { event.preventDefault(); return; }
      form.dataset.submitting = "1";
      buttons().forEach(function (b) { b.disabled = true; b.setAttribute("aria-busy", "true"); });
    });
    update();
    // A form still streaming in may not have its button yet.
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", update);
  }
  // Streamed cards arrive at the end of #cards in the order they finish; put each one in
  // place of its own loading placeholder so Tab and screen readers meet the cards in the order
  // they are shown, and announce it politely. (Without scripts CSS `order` places them.)
  function place(slot) {
    var placeholder = document.getElementById(slot.dataset.slot);
    if (!placeholder || placeholder === slot) return;
    placeholder.replaceWith(slot);
    slot.removeAttribute("data-slot");
    var status = document.getElementById("cards-status");
    if (status && slot.dataset.title) {
      var line = document.createElement("span");
      line.textContent = slot.dataset.title + " loaded. ";
      status.appendChild(line);
    }
  }
  // Times: the server writes UTC (what a page without scripts shows); here they become the
  // viewer's local time, with UTC on hover. Relative ages ("3 minutes ago") keep their words.
  function localTime(el) {
    el.dataset.local = "1";
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) return;
    var utc = when.toISOString().slice(0, 16).replace("T", " ") + " UTC";
    var local = when.toLocaleString(undefined, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
      timeZoneName: "short"
    });
    if (/ UTC$/.test(el.textContent.trim())) {
      el.textContent = local;
      el.title = utc;
    } else {
      el.title = local + " (" + utc + ")";
    }
  }
  // An avatar picture that cannot load (offline, blocked) leaves its initials showing.
  document.addEventListener("error", function (event) {
    var img = event.target;
    if (img.tagName === "IMG" && img.parentElement && img.parentElement.classList.contains("avatar")) img.remove();
  }, true);
  function scan() {
    document.querySelectorAll("time[datetime]:not([data-local])").forEach(localTime);
    document.querySelectorAll(".avatar img").forEach(function (img) {
      if (img.complete && img.naturalWidth === 0) img.remove();  // failed before this file ran
    });
    document.querySelectorAll("[data-slot]").forEach(place);
    document.querySelectorAll("form[data-require-valid]").forEach(wire);
  }
  // This file loads async, so the page may still be streaming (or already parsed) when it runs.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  scan();
  new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
  // Copy buttons: <button data-copy="text">.
  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-copy]");
    if (!target || !navigator.clipboard) return;
    navigator.clipboard.writeText(target.getAttribute("data-copy")).then(function () {
      var old = target.textContent; target.textContent = "Copied"; setTimeout(function () { target.textContent = old; }, 1500);
    });
  });
})();
