// Embeds a live room in another site:
//
//   <div id="live"></div>
//   <script src="https://LIVE-SITE/public/embed.js"></script>
//   <script>
//     var room = LiveShopping.mount(document.getElementById("live"), {
//       session: 42, locale: "zh-CN",
//       onAddToCart: function (product) { return { accepted: true }; },   // or a Promise
//     });
//     room.on("productPresented", function (p) { console.log(p.name, p.price); });
//     room.send("mute");
//   </script>
//
// The room runs in an iframe from LIVE-SITE (`/embed/{session}`), which only sites its host
// listed in the studio may frame. Messages go both ways with `postMessage` in a versioned
// envelope, `{ls: 1, kind: "event" | "command" | "reply", name, id, to, data}`, each posted to
// the other side's exact origin (never "*") and accepted only from that window and origin.
//
// Events (room -> page): ready {version, session, status, events, commands}; state {status};
// productPresented {productId, name, imageUrl, price, discountedPrice, percentOff, currency,
// stock, url} (amounts in minor units: fen for CNY); viewers {count}; addToCart {the product}
// (answered by `onAddToCart`: {accepted: true} or {accepted: false, reason}); reserveRequested
// {session, url} (the room also opens itself as a top-level page, where the shopper reserves);
// resize {height}. Commands (page -> room): play, pause, mute, unmute, setLocale {locale}.
(function () {
  "use strict";
  var VERSION = 1;
  var REPLY_WAIT_MS = 10000;
  var scriptOrigin = (function () {
    try { return new URL(document.currentScript.src).origin; } catch (e) { return location.origin; }
  })();

  function mount(element, options) {
    options = options || {};
    if (typeof element === "string") { element = document.querySelector(element); }
    var session = parseInt(options.session, 10);
    if (!element || !(session > 0)) {
      throw new Error("LiveShopping.mount(element, {session}) needs an element and a session id");
    }
    var room = new URL(options.room || scriptOrigin).origin;
    var src = room + "/embed/" + session + "?parent=" + encodeURIComponent(location.origin) +
      (options.locale ? "&locale=" + encodeURIComponent(options.locale) : "");
    var iframe = document.createElement("iframe");
    iframe.src = src;
    iframe.title = options.title || "Live shopping";
    iframe.allow = "autoplay; fullscreen; picture-in-picture";
    iframe.style.cssText = "display:block;width:100%;border:0;height:" + (options.height || 560) + "px";
    var listeners = {};
    var waiting = {};
    var nextId = 0;

    function post(message) {
      message.ls = VERSION;
      if (iframe.contentWindow) { iframe.contentWindow.postMessage(message, room); }
    }
    function emit(name, data) {
      (listeners[name] || []).concat(listeners["*"] || []).forEach(function (fn) {
        try { fn(data, name); } catch (e) { setTimeout(function () { throw e; }); }
      });
      if (typeof options.onEvent === "function") { options.onEvent(name, data); }
    }
    function answerCart(message) {
      var ask = typeof options.onAddToCart === "function"
        ? new Promise(function (resolve) { resolve(options.onAddToCart(message.data)); })
        : Promise.resolve({ accepted: false, reason: "this shop takes no orders here" });
      ask.then(function (answer) {
        var accepted = answer === true || !!(answer && answer.accepted);
        post({ kind: "reply", to: message.id, data: accepted ? { accepted: true }
          : { accepted: false, reason: String((answer && answer.reason) || "refused") } });
      }, function (err) {
        post({ kind: "reply", to: message.id, data: { accepted: false, reason: String((err && err.message) || err) } });
      });
    }
    function onMessage(ev) {
      if (ev.source !== iframe.contentWindow || ev.origin !== room) { return; }
      var m = ev.data;
      if (!m || typeof m !== "object" || m.ls !== VERSION) { return; }
      if (m.kind === "reply") {
        var done = waiting[m.to];
        if (done) { delete waiting[m.to]; done(m.data); }
        return;
      }
      if (m.kind !== "event" || typeof m.name !== "string") { return; }
      if (m.name === "resize" && options.autoResize !== false && m.data && m.data.height > 0) {
        iframe.style.height = Math.min(Math.max(m.data.height, 200), 4000) + "px";
      }
      if (m.name === "addToCart") { answerCart(m); }
      if (m.name === "reserveRequested" && typeof options.onReserveRequested === "function") {
        options.onReserveRequested(m.data);
      }
      emit(m.name, m.data);
    }
    window.addEventListener("message", onMessage);
    element.appendChild(iframe);

    return {
      iframe: iframe,
      /** Calls fn(data, name) for each event `name` ("*": every event). */
      on: function (name, fn) { (listeners[name] = listeners[name] || []).push(fn); return this; },
      /** Sends a command; resolves with the room's reply ({ok: true} or {ok: false, reason}). */
      send: function (command, data) {
        var id = ++nextId;
        return new Promise(function (resolve) {
          waiting[id] = resolve;
          post({ kind: "command", name: command, id: id, data: data || {} });
          setTimeout(function () {
            if (waiting[id]) { delete waiting[id]; resolve({ ok: false, reason: "no answer" }); }
          }, REPLY_WAIT_MS);
        });
      },
      destroy: function () {
        window.removeEventListener("message", onMessage);
        if (iframe.parentNode) { iframe.parentNode.removeChild(iframe); }
      },
    };
  }

  window.LiveShopping = { mount: mount, version: VERSION };
})();
