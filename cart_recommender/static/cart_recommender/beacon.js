/*
 * cart_recommender beacon: reports product views and clicks of the current shopper.
 *
 * Include it with {% include "cart_recommender/beacon.html" %} (which sets the endpoint and
 * the CSRF token), then mark products in your templates:
 *
 *   <div data-cr-view="{{ product.sku }}">...</div>       a view, sent once when the page loads
 *   <a data-cr-click="{{ product.sku }}" href="...">      a click, sent before the page changes
 *
 * or call window.cartRecommender.track("view", "SKU-1") yourself. Events are batched for a
 * moment and sent with fetch(keepalive), so a click on a link is not lost when the next page
 * loads. The server decides who the shopper is (the session cookie); nothing here names one.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var config = (script && script.dataset) || {};
  var endpoint = config.endpoint || "/recommender/beacon/";
  var BATCH = 10; // the server accepts up to 20 per request
  var DELAY_MS = 300;
  var queue = [];
  var timer = null;

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return "";
  }

  function csrfToken() {
    return config.csrf || cookie(config.csrfCookie || "csrftoken");
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function post(events) {
    var body = JSON.stringify({ events: events });
    try {
      return fetch(endpoint, {
        method: "POST",
        credentials: "same-origin",
        keepalive: true,
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: body
      }).catch(function () {});
    } catch (err) {
      return Promise.resolve();
    }
  }

  function flush() {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    var sent = [];
    while (queue.length) sent.push(post(queue.splice(0, BATCH)));
    return Promise.all(sent);
  }

  function track(eventType, itemId) {
    if (itemId === undefined || itemId === null || String(itemId) === "") return;
    queue.push({ event: eventType, item_id: String(itemId), id: newId() });
    if (!timer) timer = setTimeout(flush, DELAY_MS);
  }

  function scanViews(root) {
    var nodes = (root || document).querySelectorAll("[data-cr-view]");
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].getAttribute("data-cr-seen")) continue;
      nodes[i].setAttribute("data-cr-seen", "1");
      track("view", nodes[i].getAttribute("data-cr-view"));
    }
  }

  document.addEventListener("click", function (evt) {
    var el = evt.target && evt.target.closest ? evt.target.closest("[data-cr-click]") : null;
    if (!el) return;
    track("click", el.getAttribute("data-cr-click"));
    flush();
  }, true);

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush();
  });

  window.cartRecommender = window.cartRecommender || {};
  window.cartRecommender.track = track;
  window.cartRecommender.flush = flush;
  window.cartRecommender.scan = scanViews;

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { scanViews(); });
  } else {
    scanViews();
  }
})();
