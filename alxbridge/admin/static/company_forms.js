/* Company pickers submit on change; the company settings form gets Select/Deselect All for courses, and inputs the chosen
   response mode does not use are disabled (with their hidden twins, so nothing is posted and the stored values
   stay). The form works without this script: every input is then posted as shown. */
(function () {
  "use strict";

  function autosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  function courseToggles() {
    document.querySelectorAll("[data-course-toggles]").forEach(function (box) {
      box.hidden = false;
      box.querySelectorAll("[data-course-toggle]").forEach(function (button) {
        button.addEventListener("click", function () {
          var on = button.getAttribute("data-course-toggle") === "1";
          document.querySelectorAll("input[data-course]").forEach(function (input) { input.checked = on; });
        });
      });
    });
  }

  function modeStates() {
    var mode = document.getElementById("sync_mode");
    if (!mode) { return; }
    function apply() {
      document.querySelectorAll("[data-off-in-modes]").forEach(function (group) {
        var off = group.getAttribute("data-off-in-modes").split(" ").indexOf(mode.value) !== -1;
        group.classList.toggle("opacity-50", off);
        group.querySelectorAll("input").forEach(function (input) { input.disabled = off; });
      });
    }
    mode.addEventListener("change", apply);
    apply();
  }

  document.addEventListener("DOMContentLoaded", function () {
    autosubmit();
    courseToggles();
    modeStates();
  });
})();
