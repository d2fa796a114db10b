/* Progressive enhancement for the admin pages: charts and confirmations. Pages work without it. */
(function () {
  "use strict";

  var PALETTE = ["#0f6cbf", "#198754", "#dc3545", "#fd7e14", "#6f42c1", "#20c997", "#ffc107", "#6c757d"];

  function drawChart(block) {
    var canvas = document.getElementById(block.getAttribute("data-chart"));
    if (!canvas || typeof Chart === "undefined") { return; }
    var spec = JSON.parse(block.textContent);
    var round = spec.kind === "doughnut" || spec.kind === "pie";
    var datasets = spec.series.map(function (series, i) {
      var colour = PALETTE[i % PALETTE.length];
      return {
        label: series.name,
        data: series.values,
        borderColor: round ? "#fff" : colour,
        backgroundColor: round ? spec.labels.map(function (_, j) { return PALETTE[j % PALETTE.length]; })
                               : (spec.kind === "bar" ? colour : colour + "33"),
        fill: spec.kind === "line",
        tension: 0.3
      };
    });
    new Chart(canvas, {
      type: spec.kind,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: round ? {} : { y: { beginAtZero: true, suggestedMax: 10 } },
        plugins: { legend: { display: round || datasets.length > 1 } }
      }
    });
    canvas.setAttribute("data-drawn", "1");
  }

  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("script[data-chart]").forEach(drawChart);
    confirmForms();
  });
})();
