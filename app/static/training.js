// The training data reset's progress page (/training/reset/<id>): polls the job's status and moves the bar without
// reloading; once the job is over (or the session it ran under has ended), reloads, which shows the result or
// leads to the login page. Without JavaScript the page refreshes itself (<noscript> meta refresh).
document.addEventListener("DOMContentLoaded", function () {
  var job = document.querySelector("[data-reset-job]");
  if (!job || job.getAttribute("data-state") !== "running") { return; }
  var bar = document.getElementById("reset-progress");
  var label = job.querySelector("[data-field=reset_phase]");
  var percent = job.querySelector("[data-field=reset_percent]");
  var url = job.getAttribute("data-status-url");
  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (!response.ok || response.type === "opaqueredirect") { throw new Error("reload"); }
        return response.json();
      })
      .then(function (status) {
        bar.value = status.percent;
        bar.textContent = status.percent + "%";
        percent.textContent = status.percent;
        label.textContent = status.label;
        if (status.state === "running") { window.setTimeout(poll, 500); } else { window.location.reload(); }
      })
      .catch(function () { window.location.reload(); });
  }
  window.setTimeout(poll, 500);
});
