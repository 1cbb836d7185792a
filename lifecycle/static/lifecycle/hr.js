// The HR screen's script (templates/hr/): the browser's time zone for the server to show dates in
// (a cookie; a reviewer's own setting wins), and the "select every case" box of the list. The
// pages work without it: dates then in UTC, boxes ticked one by one.
(function () {
  "use strict";
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("roster_tz=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "roster_tz=" + encodeURIComponent(zone) + "; path=/hr/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* no Intl: UTC */ }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-select-all]").forEach(function (all) {
      var boxes = document.querySelectorAll('input[type="checkbox"][name="' + all.dataset.selectAll + '"]');
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
      });
    });
  });
})();
