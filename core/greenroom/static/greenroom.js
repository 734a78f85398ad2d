// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Forms marked data-require-valid: the submit button is disabled while the form is invalid
  // and while a submit is in flight, so a double click sends one request.
  function wire(form) {
    if (form.dataset.wired) return;
    form.dataset.wired = "1";
    var buttons = form.querySelectorAll("button[type=submit], input[type=submit]");
    function update() {
      var invalid = !form.checkValidity();
      buttons.forEach(function (b) { if (!form.dataset.submitting) b.disabled = invalid; });
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    form.addEventListener("submit", function (event) {
      if (form.dataset.submitting) { event.preventDefault(); return; }
      form.dataset.submitting = "1";
      buttons.forEach(function (b) { b.disabled = true; b.setAttribute("aria-busy", "true"); });
    });
    update();
  }
  function scan() { document.querySelectorAll("form[data-require-valid]").forEach(wire); }
  document.addEventListener("DOMContentLoaded", scan);
  // Cards stream in after DOMContentLoaded may have fired for the shell.
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
