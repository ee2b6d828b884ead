// A background job's progress page (a training data reset: /training/reset/<id>; an export: /exports/<id>): polls
// the job's status (data-status-url) and moves the bar without reloading while the job is in one of the states
// named in data-running; once it is not (or the session it ran under has ended), reloads, which shows the result,
// the download link or the login page. Without JavaScript the page refreshes itself (<noscript> meta refresh).
document.addEventListener("DOMContentLoaded", function () {
  var job = document.querySelector("[data-progress]");
  if (!job) { return; }
  var running = (job.getAttribute("data-running") || "running").split(" ");
  if (running.indexOf(job.getAttribute("data-state")) < 0) { return; }
  var bar = job.querySelector("progress");
  var label = job.querySelector("[data-progress-label]");
  var percent = job.querySelector("[data-progress-percent]");
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
        if (percent) { percent.textContent = status.percent; }
        if (label && status.label) { label.textContent = status.label; }
        if (running.indexOf(status.state) >= 0) { window.setTimeout(poll, 600); } else { window.location.reload(); }
      })
      .catch(function () { window.location.reload(); });
  }
  window.setTimeout(poll, 600);
});
