/* Control Center header: refresh its numbers from ajax_stats.php every 30 s (the plugin's cadence). */
(function () {
  "use strict";
  var REFRESH_MS = 30000;
  var FIELDS = {
    "total-records": "total_records",
    "active-companies": "total_companies",
    "api-calls-today": "api_calls_today",
    "cache-hit-rate-today": "cache_hit_rate_label",
    "error-rate-today": "error_rate_label",
    "system-health": "health_label"
  };

  /* As the page's pct macro writes it: one decimal, a dash when there is nothing to divide by. */
  function percent(value) {
    return value === null || value === undefined ? "\u2014" : value.toFixed(1) + "%";
  }

  function refresh(box) {
    fetch(box.getAttribute("data-refresh-url"), {
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (stats) {
      stats.health_label = { healthy: "Healthy", warning: "Warning", error: "Error" }[stats.health_status];
      stats.cache_hit_rate_label = percent(stats.cache_hit_rate);
      stats.error_rate_label = percent(stats.error_rate);
      Object.keys(FIELDS).forEach(function (id) {
        var element = document.getElementById(id);
        if (element) { element.textContent = stats[FIELDS[id]]; }
      });
      box.removeAttribute("data-stale");
    }).catch(function () {
      box.setAttribute("data-stale", "1");  /* keep the last numbers; the page still works */
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("cc-stats");
    if (box) { window.setInterval(function () { refresh(box); }, REFRESH_MS); }
  });
})();
