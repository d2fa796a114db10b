/* A sync job's status page: follow the job through its JSON endpoint, reload the page when it ends.
   Without JavaScript the page refreshes itself (a <noscript> meta refresh) instead. */
(function () {
  "use strict";

  var POLL_MS = 1500;

  function setText(id, value) {
    var element = document.getElementById(id);
    if (element) { element.textContent = String(value); }
  }

  function show(job) {
    var progress = document.getElementById("job-progress");
    if (progress) {
      progress.setAttribute("aria-valuenow", job.percent);
      var bar = progress.querySelector(".progress-bar");
      bar.style.width = job.percent + "%";
      bar.textContent = job.percent + "%";
    }
    setText("job-done", job.done);
    setText("job-total", job.total === null ? "(planning)" : job.total);
    setText("job-created", job.created);
    setText("job-updated", job.updated);
    setText("job-deleted", job.deleted);
    setText("job-failed", job.failed);
  }

  function poll(root) {
    fetch(root.getAttribute("data-job-url"), {
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" },
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (job) {
      show(job);
      if (job.running) {
        window.setTimeout(function () { poll(root); }, POLL_MS);
      } else {
        window.location.reload();
      }
    }).catch(function () {
      window.setTimeout(function () { window.location.reload(); }, POLL_MS * 2);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("sync-job");
    if (root && root.getAttribute("data-running") === "1") {
      window.setTimeout(function () { poll(root); }, POLL_MS);
    }
  });
})();
