/* Progressive enhancement for the admin pages: charts and confirmations. Pages work without it. */
(function () {
  "use strict";

  var PALETTE = ["#0f6cbf", "#198754", "#dc3545", "#fd7e14", "#6f42c1", "#20c997", "#ffc107", "#6c757d"];
  // Colours that carry a meaning follow the series (or slice) name, never its position: failures red,
  // successes green, the unused part of a score grey. Other series take the palette in order, minus these.
  var MEANING = {
    "Failed": "#dc3545", "Errors": "#dc3545", "Error": "#dc3545",
    "Successful": "#198754", "Success": "#198754", "Score": "#198754",
    "Remaining": "#dee2e6"
  };
  var NEUTRAL = PALETTE.filter(function (colour) { return colour !== "#198754" && colour !== "#dc3545"; });

  function colourOf(name, i) {
    return MEANING[name] || NEUTRAL[i % NEUTRAL.length];
  }

  function drawChart(block) {
    var canvas = document.getElementById(block.getAttribute("data-chart"));
    if (!canvas || typeof Chart === "undefined") { return; }
    var spec = JSON.parse(block.textContent);
    var round = spec.kind === "doughnut" || spec.kind === "pie";
    var datasets = spec.series.map(function (series, i) {
      var colour = colourOf(series.name, i);
      return {
        label: series.name,
        data: series.values,
        borderColor: round ? "#fff" : colour,
        backgroundColor: round ? spec.labels.map(function (label, j) { return colourOf(label, j); })
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
