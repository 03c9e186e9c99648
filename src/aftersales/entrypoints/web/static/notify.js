// Notifications without reloading: the nav badge, a toast for a new one, and the fresh list
// on the notification centre. One conditional GET every few seconds (304 while nothing changed).
(function () {
  "use strict";
  var POLL_MS = 4000;
  var link = document.querySelector("a.nav-notify");
  if (!link) { return; }
  var badge = link.querySelector(".notify-badge");
  var etag = null;
  var seen = null;

  function toast(newest) {
    var old = document.querySelector(".notify-toast");
    if (old) { old.remove(); }
    var box = document.createElement("div");
    box.className = "notify-toast";
    box.setAttribute("role", "status");
    var title = document.createElement("strong");
    title.textContent = link.dataset.toastTitle + " · " + newest.kind;
    var text = document.createElement("p");
    text.textContent = newest.text;
    var open = document.createElement("a");
    open.href = newest.href;
    open.textContent = "→ " + newest.href.split("/").pop();
    var close = document.createElement("button");
    close.className = "close";
    close.type = "button";
    close.setAttribute("aria-label", "×");
    close.textContent = "×";
    close.addEventListener("click", function () { box.remove(); });
    box.append(close, title, text, open);
    document.body.appendChild(box);
    setTimeout(function () { box.remove(); }, 15000);
  }

  function refreshList() {
    var live = document.getElementById("notification-live");
    if (!live || live.dataset.live !== "1") { return; }
    fetch("/notifications?fragment=list", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html) { live.innerHTML = html; } })
      .catch(function () {});
  }

  function show(data) {
    badge.textContent = String(data.unread);
    badge.hidden = data.unread === 0;
    if (seen !== null && data.latest !== seen) {
      if (data.latest > seen && data.newest && !data.newest.read) { toast(data.newest); }
      refreshList();
    }
    seen = data.latest;
  }

  function poll() {
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch(link.dataset.badgeUrl, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status !== 200) { return null; }
        etag = r.headers.get("ETag");
        return r.json();
      })
      .then(function (data) { if (data) { show(data); } })
      .catch(function () {})
      .then(function () { setTimeout(poll, POLL_MS); });
  }
  poll();
})();
