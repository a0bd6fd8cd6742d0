// Follows a training run on the model-version admin pages without reloading them: polls the
// run's progress JSON and updates the bar until the run ends. Works without any framework.
"use strict";
(function () {
  function follow(box) {
    var url = box.dataset.url;
    var delay = 1000;
    function update(data) {
      Object.keys(data).forEach(function (key) {
        var el = box.querySelector('[data-cr-field="' + key + '"]');
        if (el) {
          el.textContent = data[key] === null ? "" : String(data[key]);
          if (key === "error") { el.hidden = !data.error; }
          if (key === "status_display") { el.className = "cr-status cr-status-" + data.status; }
        }
      });
      var percent = data.percent === null ? 0 : data.percent;
      var track = box.querySelector(".cr-progress-track");
      box.querySelector(".cr-progress-bar").style.width = percent + "%";
      track.setAttribute("aria-valuenow", String(percent));
      box.dataset.status = data.status;
      if (data.done) {
        box.dataset.state = "done";
        var cancel = box.querySelector(".cr-cancel-form");
        if (cancel) { cancel.hidden = true; }
        box.querySelector(".cr-progress-done").hidden = false;
      }
    }
    function poll() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          delay = 1000;
          update(data);
          if (!data.done) { window.setTimeout(poll, delay); }
        })
        .catch(function () {
          delay = Math.min(delay * 2, 15000);  // server busy or restarting: back off, keep trying
          window.setTimeout(poll, delay);
        });
    }
    if (box.dataset.state !== "done") { window.setTimeout(poll, delay); }
  }
  function start() {
    document.querySelectorAll("[data-cr-progress]").forEach(follow);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
