/* Progressive help for the report pages; every page works without it (no inline script: CSP script-src 'self'). */
(function () {
  "use strict";
  function focusSummary() {
    var summary = document.getElementById("form-errors");
    if (summary && document.activeElement !== summary) {
      summary.focus();
      if (summary.scrollIntoView) { summary.scrollIntoView({ block: "start" }); }
    }
  }
  /* A link in the summary takes the keyboard to its field, not just the view. */
  function focusLinkedField(event) {
    var link = event.target.closest && event.target.closest("#form-errors a[href^='#f-']");
    if (!link) { return; }
    var target = document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
    if (!target) { return; }
    var input = target.matches("input, select, textarea") ? target : target.querySelector("input, select, textarea");
    if (input) {
      event.preventDefault();
      target.scrollIntoView({ block: "center" });
      input.focus();
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusSummary);
  } else {
    focusSummary();
  }
  document.addEventListener("click", focusLinkedField);
})();
