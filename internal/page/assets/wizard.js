// Follows a device code sign-in: asks the status route at the interval the
// server gives and reloads the page once the attempt has an outcome. The
// page works without it (a noscript refresh does the same).
(function () {
  "use strict";
  var el = document.getElementById("progress");
  if (!el) { return; }
  var url = el.getAttribute("data-status");
  var wait = parseInt(el.getAttribute("data-interval"), 10) || 5000;
  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        // The page may have been reached by the form's POST to
        // /invite/{token}/device, which has no GET; the wizard's own page
        // is the status route without /status.
        if (s.step !== "device" || s.outcome) { window.location.replace(url.replace(/\/status$/, "")); return; }
        wait = s.intervalMs || wait;
        setTimeout(poll, wait);
      })
      .catch(function () { setTimeout(poll, wait * 2); });
  }
  setTimeout(poll, wait);
})();
