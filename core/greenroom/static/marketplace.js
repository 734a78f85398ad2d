// Live filtering for /plugins. The page works without this: the form is a plain GET form and
// the server applies the same rules (every search word must appear; any checked category).
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    var form = document.getElementById("marketplace-filters");
    if (!form) return;
    var search = form.querySelector("input[name=q]");
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=category]"));
    var sections = Array.prototype.slice.call(document.querySelectorAll("[data-section]"));
    var none = document.querySelector(".marketplace-none");

    function apply() {
      var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      var cats = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
      var total = 0;
      sections.forEach(function (section) {
        var shown = 0;
        section.querySelectorAll(".marketplace-entry").forEach(function (entry) {
          var text = entry.getAttribute("data-search") || "";
          var ok = words.every(function (w) { return text.indexOf(w) !== -1; }) &&
            (cats.length === 0 || cats.indexOf(entry.getAttribute("data-category")) !== -1);
          entry.hidden = !ok;
          if (ok) shown += 1;
        });
        var count = section.querySelector("[data-count]");
        if (count) count.textContent = "(" + shown + ")";
        section.hidden = shown === 0;
        total += shown;
      });
      if (none) none.hidden = total !== 0;
      // Keep the URL shareable, as the server-rendered form would.
      var params = new URLSearchParams(new FormData(form));
      if (!search.value) params.delete("q");
      var query = params.toString();
      history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
    }

    search.addEventListener("input", apply);
    boxes.forEach(function (b) { b.addEventListener("change", apply); });

    document.querySelectorAll("[data-copy]").forEach(function (code) {
      if (!navigator.clipboard) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-small";
      button.textContent = "Copy";
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(code.textContent).then(function () {
          button.textContent = "Copied";
        });
      });
      code.after(button);
    });
  });
})();
