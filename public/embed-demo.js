// The demo shop's side of embedding (public/embed-demo.html): mounts the room named by the
// page's query (?room=ORIGIN&session=ID; the room defaults to embed.js's own site), keeps a
// cart of what the room's "Add to cart" sends, logs every message.
(function () {
  "use strict";
  function start() {
    var q = new URLSearchParams(location.search);
    var $ = function (id) { return document.getElementById(id); };
    var log = function (name, data) {
      var li = document.createElement("li");
      li.textContent = name + " " + JSON.stringify(data);
      li.dataset.event = name;
      $("log").appendChild(li);
    };
    var room = window.LiveShopping.mount($("room"), {
      session: q.get("session") || "1",
      room: q.get("room") || undefined,
      locale: q.get("locale") || undefined,
      onEvent: log,
      onAddToCart: function (product) {
        if ($("refuse-all").checked || product.stock === 0) {
          return { accepted: false, reason: "out of stock" };
        }
        var empty = $("cart-empty");
        if (empty) { empty.remove(); }
        var li = document.createElement("li");
        li.textContent = product.name + " " + (product.price / 100).toFixed(2) + " " + product.currency;
        $("cart").appendChild(li);
        return { accepted: true };
      },
    });
    room.on("state", function (d) { $("state").textContent = d.status; });
    room.on("ready", function (d) { $("state").textContent = d.status; });
    room.on("viewers", function (d) { $("viewers").textContent = String(d.count); });
    room.on("productPresented", function (p) { $("presented").textContent = p.name; });
    Array.prototype.forEach.call(document.querySelectorAll("[data-command]"), function (b) {
      b.addEventListener("click", function () {
        var data = b.dataset.locale ? { locale: b.dataset.locale } : {};
        room.send(b.dataset.command, data).then(function (reply) { log("reply:" + b.dataset.command, reply); });
      });
    });
    window.demoRoom = room;
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
