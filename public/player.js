// Live and replay playback for the Wasm client. Native HLS where the browser has it (Safari,
// iOS, WeChat on iOS), hls.js elsewhere (loaded on first use). Recovers from stalls and
// network/media errors; reports state changes to the caller.
(function () {
  "use strict";
  var hlsLoading = null;
  function loadHls() {
    if (window.Hls) { return Promise.resolve(window.Hls); }
    if (!hlsLoading) {
      hlsLoading = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = "/public/vendor/hls.min.js";
        s.onload = function () { resolve(window.Hls); };
        s.onerror = function () { reject(new Error("could not load the video player")); };
        document.head.appendChild(s);
      });
    }
    return hlsLoading;
  }

  function native(video) {
    return !!video.canPlayType("application/vnd.apple.mpegurl");
  }

  /** Plays `url` in `video`. `onState(state)` gets "loading", "playing", "stalled", "blocked"
   *  (autoplay refused: show a tap-to-play button), "error". Returns a handle for detach(). */
  function attach(video, url, live, onState) {
    var handle = { video: video, hls: null, timer: null, lastTime: -1, stuck: 0 };
    var report = function (s) { try { onState(s); } catch (e) { /* the page went away */ } };
    var play = function () {
      var p = video.play();
      if (p && p.catch) {
        p.catch(function () { report("blocked"); });
      }
    };
    report("loading");
    // Inside WeChat, playback may start only once WeChat's bridge is ready (its webview
    // refuses an earlier play()); tap-to-play stays for when it still refuses.
    if (window.WeixinJSBridge) {
      if (video.readyState >= 2) { play(); }
    } else {
      document.addEventListener("WeixinJSBridgeReady", function () { if (video.src || handle.hls) { play(); } }, { once: true });
    }
    video.addEventListener("playing", function () { report("playing"); });
    video.addEventListener("waiting", function () { report("stalled"); });
    if (native(video) || !window.MediaSource) {
      video.src = url;
      video.addEventListener("loadedmetadata", play, { once: true });
      video.addEventListener("error", function () {
        report("error");
        // Try again shortly: a live playlist may not have its first segment yet.
        setTimeout(function () { video.src = url; video.load(); }, 2000);
      });
    } else {
      loadHls().then(function (Hls) {
        var hls = new Hls({ lowLatencyMode: false, liveSyncDurationCount: 2, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 30 });
        handle.hls = hls;
        hls.attachMedia(video);
        hls.loadSource(url);
        hls.on(Hls.Events.MANIFEST_PARSED, play);
        hls.on(Hls.Events.ERROR, function (_e, data) {
          if (!data.fatal) { return; }
          report("stalled");
          if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); }
          else { setTimeout(function () { hls.loadSource(url); hls.startLoad(); }, 1500); }
        });
      }, function () { report("error"); });
    }
    // Stall watchdog: a live stream whose clock does not move for 6 s is reloaded at the edge.
    if (live) {
      handle.timer = setInterval(function () {
        if (video.paused) { return; }
        if (video.currentTime === handle.lastTime) {
          handle.stuck += 1;
          if (handle.stuck >= 3) {
            handle.stuck = 0;
            report("stalled");
            if (handle.hls) { handle.hls.startLoad(); if (handle.hls.liveSyncPosition) { video.currentTime = handle.hls.liveSyncPosition; } }
            else { video.load(); play(); }
          }
        } else {
          handle.stuck = 0;
          handle.lastTime = video.currentTime;
        }
      }, 2000);
    }
    return handle;
  }

  function detach(handle) {
    if (!handle) { return; }
    if (handle.timer) { clearInterval(handle.timer); }
    if (handle.hls) { handle.hls.destroy(); }
    handle.video.removeAttribute("src");
    handle.video.load();
  }

  /** Unmutes and plays after a tap (WeChat and iOS block autoplay with sound). */
  function tapToPlay(video) {
    video.muted = false;
    var p = video.play();
    if (p && p.catch) { p.catch(function () { video.muted = true; video.play(); }); }
  }

  window.LivePlayer = { attach: attach, detach: detach, tapToPlay: tapToPlay };
})();
