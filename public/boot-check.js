// Runs before the Wasm client. Where WebAssembly is unavailable (old webviews, some locked-down
// browsers) the app cannot start: say so plainly instead of spinning forever.
(function () {
  // The page's language, as the server set it on <html lang> (zh-CN, en, it).
  var TEXT = {
    "zh-CN": {
      noWasm: "你的浏览器无法运行这个页面（不支持 WebAssembly）。请升级浏览器，或用 Chrome、Safari 打开链接。",
      slow: "加载时间比平时长。请检查网络后刷新页面。",
    },
    it: {
      noWasm: "Il tuo browser non può aprire questa pagina (WebAssembly non è disponibile). Aggiorna il browser o apri il link in Chrome o Safari.",
      slow: "Ci sta mettendo più del solito. Controlla la connessione e ricarica la pagina.",
    },
    en: {
      noWasm: "Your browser can't run this page (WebAssembly is not available). Please update your browser or open the link in Chrome or Safari.",
      slow: "This is taking longer than usual. Check your connection and reload the page.",
    },
  };
  // Whether a finger or button is down on the page: the app waits for the press to end before
  // it takes the place of the server's first paint (app/src/components/first_paint.rs), so a
  // tap that spans the takeover is not lost. Tracked from here: a press can begin before the
  // app has loaded.
  window.pressing = false;
  addEventListener("pointerdown", function () { window.pressing = true; }, true);
  addEventListener("pointerup", function () { window.pressing = false; }, true);
  addEventListener("pointercancel", function () { window.pressing = false; }, true);
  var text = TEXT[document.documentElement.lang] || TEXT.en;
  var supported = typeof WebAssembly === "object" && typeof WebAssembly.instantiate === "function";
  function show(message) {
    var msg = document.getElementById("boot-message");
    if (msg) { msg.textContent = message; }
    var boot = document.getElementById("boot");
    if (boot) { boot.classList.add("boot-failed"); boot.setAttribute("role", "alert"); }
  }
  if (!supported) {
    show(text.noWasm);
    return;
  }
  // The client calls this when it cannot start (its texts could not be fetched).
  window.bootFailed = function () { show(text.slow); };
  // If the client has not started after 20 s, the download probably failed.
  setTimeout(function () {
    if (document.getElementById("boot")) {
      show(text.slow);
    }
  }, 20000);
})();
