// Runs before the Wasm client. Where WebAssembly is unavailable (old webviews, some locked-down
// browsers) the app cannot start: say so plainly instead of spinning forever.
(function () {
  var supported = typeof WebAssembly === "object" && typeof WebAssembly.instantiate === "function";
  function show(text) {
    var msg = document.getElementById("boot-message");
    if (msg) { msg.textContent = text; }
    var boot = document.getElementById("boot");
    if (boot) { boot.classList.add("boot-failed"); boot.setAttribute("role", "alert"); }
  }
  if (!supported) {
    show("Your browser can't run this page (WebAssembly is not available). Please update your browser or open the link in Chrome or Safari.");
    return;
  }
  // If the client has not started after 20 s, the download probably failed.
  setTimeout(function () {
    if (document.getElementById("boot")) {
      show("This is taking longer than usual. Check your connection and reload the page.");
    }
  }, 20000);
})();
