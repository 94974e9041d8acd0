// evidence curate: keyboard review of the queue. j/k move, y/n decide, u undo.
// Decisions are POSTed with the page's CSRF token; without this script the
// buttons are plain forms and work the same way.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var tags = Array.prototype.slice.call(document.querySelectorAll("li.tag"));
  var flash = document.querySelector(".flash");
  var current = -1;
  var busy = false;
  var done = [];  // the decided tags, last one on top (for undo)

  function markFor(tag) {
    var item = tag.closest("article");
    return item ? item.querySelector('mark[data-tags~="' + tag.dataset.mark + '"]') : null;
  }

  function select(i) {
    if (!tags.length) return;
    i = Math.max(0, Math.min(tags.length - 1, i));
    if (current >= 0) {
      tags[current].classList.remove("current");
      var old = markFor(tags[current]);
      if (old) old.classList.remove("current");
    }
    current = i;
    var tag = tags[current];
    tag.classList.add("current");
    var m = markFor(tag);
    if (m) m.classList.add("current");
    tag.scrollIntoView({block: "nearest"});
    (m || tag).scrollIntoView({block: "nearest"});
  }

  function say(text, bad) {
    flash.textContent = text;
    flash.classList.toggle("error", !!bad);
  }

  function post(path, data) {
    var body = new URLSearchParams(data);
    body.set("csrf", token);
    return fetch(path, {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRF-Token": token}
    }).then(function (r) { return r.json(); });
  }

  function setState(tag, status) {
    tag.classList.remove("confirmed", "rejected");
    if (status) tag.classList.add(status);
    tag.querySelector(".state").textContent = status ? " " + status : "";
    var m = markFor(tag);
    if (m) {
      m.classList.remove("confirmed", "rejected");
      if (status) m.classList.add(status);
    }
  }

  function nextOpen(from) {
    for (var i = from + 1; i < tags.length; i++) {
      if (!tags[i].classList.contains("confirmed") && !tags[i].classList.contains("rejected")) return i;
    }
    return Math.min(from + 1, tags.length - 1);
  }

  function decide(status) {
    if (busy || current < 0) return;
    var tag = tags[current];
    busy = true;
    say("saving…");
    post("/decide", {item: tag.dataset.item, domain: tag.dataset.domain, status: status}).then(function (res) {
      busy = false;
      if (!res.ok) { say(res.error, true); return; }
      setState(tag, status);
      done.push(tag);
      say(res.message);
      select(nextOpen(current));
    }, function () { busy = false; say("the server did not answer; is evidence curate still running?", true); });
  }

  function undo() {
    if (busy) return;
    busy = true;
    say("undoing…");
    post("/undo", {}).then(function (res) {
      busy = false;
      if (!res.ok) { say(res.error, true); return; }
      var tag = null;
      for (var i = done.length - 1; i >= 0; i--) {
        if (done[i].dataset.item === res.item && done[i].dataset.domain === res.domain) { tag = done.splice(i, 1)[0]; break; }
      }
      if (tag) { setState(tag, ""); select(tags.indexOf(tag)); }
      say(res.message);
    }, function () { busy = false; say("the server did not answer", true); });
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA")) return;
    var k = e.key;
    if (k === "j") { select(current + 1); e.preventDefault(); }
    else if (k === "k") { select(current - 1); e.preventDefault(); }
    else if (k === "y") { decide("confirmed"); e.preventDefault(); }
    else if (k === "n") { decide("rejected"); e.preventDefault(); }
    else if (k === "u") { undo(); e.preventDefault(); }
  });

  tags.forEach(function (tag, i) {
    tag.addEventListener("click", function () { select(i); });
    Array.prototype.forEach.call(tag.querySelectorAll("form"), function (f) {
      f.addEventListener("submit", function (e) {
        e.preventDefault();
        select(i);
        decide(f.querySelector('input[name="status"]').value);
      });
    });
  });
  var undoForm = document.querySelector("form.undo");
  if (undoForm) undoForm.addEventListener("submit", function (e) { e.preventDefault(); undo(); });
  if (tags.length) select(0);
  document.body.classList.add("js");
})();
