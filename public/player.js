// Live and replay playback for the Wasm client.
//
// Live: WebRTC (WHEP) first where the browser has RTCPeerConnection: the picture arrives in a
// few hundred milliseconds, as the host speaks. The player falls back to HLS by itself when the
// server says no (503 when its WebRTC seats are taken, 404 between broadcasts), when the
// connection fails or drops, or when no picture comes within a few seconds (WeChat's webviews
// on some Android builds (X5) negotiate and then show nothing; on iOS they play WebRTC).
// Replay, and live where WebRTC is missing: HLS, by hls.js (loaded on first use) where the
// browser has Media Source Extensions, natively elsewhere (iOS before 17, WeChat on iOS).
// Recovers from stalls and
// network/media errors; reports state changes to the caller.
//
// `clock(handle)` is the server's wall clock (ms) of the frame on screen: from
// EXT-X-PROGRAM-DATE-TIME with HLS; with WebRTC from the RTP time of the frame played out
// (`getSynchronizationSources`) mapped through what the server sent with its answer (the RTP
// time of a recent frame and when it arrived, `X-RTP-Clock`), or where the browser exposes it
// the sender reports' mapping (`estimatedPlayoutTimestamp`). The live room holds the product
// card until the picture reaches the moment the host presented it.
(function () {
  "use strict";
  var NTP_TO_UNIX_MS = 2208988800000;
  /** A WebRTC picture must show within this long, or HLS takes over. */
  var WHEP_FIRST_FRAME_MS = 8000;
  var hlsLoading = null;
  function loadHls() {
    if (window.Hls) { return Promise.resolve(window.Hls); }
    if (!hlsLoading) {
      hlsLoading = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = "/public/vendor/hls.min.js";
        s.onload = function () { resolve(window.Hls); };
        s.onerror = function () { hlsLoading = null; reject(new Error("could not load the video player")); };
        document.head.appendChild(s);
      });
    }
    return hlsLoading;
  }

  /** Whether hls.js can play here (Media Source Extensions with H.264 and AAC). */
  function mseH264() {
    try { return !!(window.MediaSource && window.MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"')); }
    catch (e) { return false; }
  }

  function play(handle, report) {
    var p = handle.video.play();
    if (p && p.catch) {
      p.catch(function () { if (!handle.detached) { report("blocked"); } });
    }
  }

  /** Plays `url` (HLS) in `video`, or, live with `whepUrl`, WebRTC first. `onState(state)` gets
   *  "loading", "playing", "stalled", "blocked" (autoplay refused: show a tap-to-play button),
   *  "error". Returns a handle for detach() and clock(). */
  function attach(video, url, live, onState, whepUrl) {
    var handle = { video: video, url: url, live: live, hls: null, pc: null, timer: null, lastTime: -1, stuck: 0,
      transport: null, detached: false, listeners: [], playout: null };
    var report = function (s) { if (!handle.detached) { try { onState(s); } catch (e) { /* the page went away */ } } };
    handle.report = report;
    // (Tests and support tools read the player's state from the element.)
    video.livePlayerHandle = handle;
    report("loading");
    listen(handle, "playing", function () { report("playing"); });
    listen(handle, "waiting", function () { report("stalled"); });
    // Inside WeChat, playback may start only once WeChat's bridge is ready (its webview
    // refuses an earlier play()); tap-to-play stays for when it still refuses.
    if (!window.WeixinJSBridge) {
      listen(handle, "WeixinJSBridgeReady", function () { if (video.src || video.srcObject || handle.hls) { play(handle, report); } }, document);
    }
    if (live && whepUrl && window.RTCPeerConnection && !forceHls()) {
      startWhep(handle, whepUrl);
    } else {
      startHls(handle);
    }
    // Stall watchdog: a live picture whose clock does not move for 6 s is restarted (HLS: at
    // the live edge; WebRTC: over HLS).
    if (live) {
      handle.timer = setInterval(function () {
        if (video.paused) { return; }
        if (video.currentTime === handle.lastTime) {
          handle.stuck += 1;
          if (handle.stuck >= 3) {
            handle.stuck = 0;
            report("stalled");
            if (handle.transport === "webrtc") { fallBack(handle, "picture stopped"); }
            else if (handle.hls) { handle.hls.startLoad(); if (handle.hls.liveSyncPosition) { video.currentTime = handle.hls.liveSyncPosition; } }
            else { video.load(); play(handle, report); }
          }
        } else {
          handle.stuck = 0;
          handle.lastTime = video.currentTime;
        }
      }, 2000);
    }
    return handle;
  }

  /** `?transport=hls` in the page's address: HLS only (support, tests, comparisons). */
  function forceHls() {
    try { return new URLSearchParams(window.location.search).get("transport") === "hls"; } catch (e) { return false; }
  }

  function listen(handle, name, fn, target) {
    var t = target || handle.video;
    t.addEventListener(name, fn);
    handle.listeners.push([t, name, fn]);
  }

  function setTransport(handle, t) {
    handle.transport = t;
    handle.video.setAttribute("data-transport", t);
  }

  function startHls(handle) {
    var video = handle.video, url = handle.url, report = handle.report;
    setTransport(handle, "hls");
    // hls.js wherever Media Source Extensions exist (it gives the program date-time of the
    // frame on screen, and the same behaviour everywhere); the browser's own HLS where they
    // do not (iOS before 17, WeChat on iOS).
    if (!mseH264()) {
      video.src = url;
      listen(handle, "loadedmetadata", function () { play(handle, report); });
      listen(handle, "error", function () {
        if (handle.transport !== "hls") { return; }
        report("error");
        // Try again shortly: a live playlist may not have its first segment yet.
        setTimeout(function () { if (!handle.detached) { video.src = url; video.load(); } }, 2000);
      });
    } else {
      loadHls().then(function (Hls) {
        if (handle.detached) { return; }
        // Two seconds behind the live edge, in seconds rather than segments: one long segment
        // (a key frame late) raises a live playlist's target duration for good, and with it a
        // latency counted in target durations. lowLatencyMode: hls.js only plays faster (up to
        // 1.5x) to get back to that distance in this mode; where a viewer joined late, or
        // stalled, the latency would otherwise stay for good. Our playlists carry no LL-HLS
        // parts, so that is all it changes.
        var hls = new Hls({ lowLatencyMode: true, liveSyncDuration: 2, liveMaxLatencyDuration: 6, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 30 });
        handle.hls = hls;
        hls.attachMedia(video);
        hls.loadSource(url);
        hls.on(Hls.Events.MANIFEST_PARSED, function () { play(handle, report); });
        hls.on(Hls.Events.ERROR, function (_e, data) {
          if (!data.fatal) { return; }
          report("stalled");
          if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); }
          else { setTimeout(function () { if (!handle.detached) { hls.loadSource(url); hls.startLoad(); } }, 1500); }
        });
      }, function () { report("error"); });
    }
  }

  function waitIce(pc, ms) {
    if (pc.iceGatheringState === "complete") { return Promise.resolve(); }
    return new Promise(function (resolve) {
      pc.addEventListener("icegatheringstatechange", function () { if (pc.iceGatheringState === "complete") { resolve(); } });
      // The server is ICE-lite: it answers our checks wherever they come from, so host
      // candidates (gathered at once) are enough.
      setTimeout(resolve, ms);
    });
  }

  function startWhep(handle, whepUrl) {
    var video = handle.video, report = handle.report;
    var pc;
    try { pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" }); }
    catch (e) { startHls(handle); return; }
    handle.pc = pc;
    handle.whepUrl = whepUrl;
    playing.push(handle);
    setTransport(handle, "webrtc");
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    var stream = new MediaStream();
    pc.addEventListener("track", function (e) {
      stream.addTrack(e.track);
      if (video.srcObject !== stream) { video.srcObject = stream; play(handle, report); }
    });
    pc.addEventListener("connectionstatechange", function () {
      if (handle.pc !== pc) { return; }
      var s = pc.connectionState;
      if (s === "failed" || s === "closed") { fallBack(handle, "connection " + s); }
      else if (s === "disconnected") {
        report("stalled");
        // A brief loss of the path comes back by itself; a dead one does not.
        setTimeout(function () { if (handle.pc === pc && pc.connectionState !== "connected") { fallBack(handle, "disconnected"); } }, 4000);
      }
    });
    var firstFrame = setTimeout(function () {
      if (handle.pc === pc && !(video.videoWidth > 0 && video.currentTime > 0)) { fallBack(handle, "no picture"); }
    }, WHEP_FIRST_FRAME_MS);
    handle.firstFrame = firstFrame;
    pc.createOffer()
      .then(function (offer) { return pc.setLocalDescription(offer); })
      .then(function () { return waitIce(pc, 500); })
      .then(function () {
        return fetch(whepUrl, { method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp });
      })
      .then(function (res) {
        if (res.status !== 201) { throw new Error("WHEP " + res.status); }
        handle.location = new URL(res.headers.get("Location") || "", new URL(whepUrl, window.location.href)).toString();
        // The RTP time of a recent frame and when it reached the server (ms): with the RTP
        // time of the frame on screen, the server's clock of that frame (90 kHz video clock).
        var c = (res.headers.get("X-RTP-Clock") || "").split(" ");
        if (c.length === 2 && isFinite(+c[0]) && isFinite(+c[1])) { handle.rtpClock = { ts: +c[0], ms: +c[1] }; }
        return res.text();
      })
      .then(function (answer) { if (handle.pc === pc) { return pc.setRemoteDescription({ type: "answer", sdp: answer }); } })
      .catch(function (e) { if (handle.pc === pc) { fallBack(handle, e && e.message); } });
    // Where the receiver's stats have it (Safari, older Chrome): the sender reports' clock of
    // the frame played out (see clock()).
    handle.statsTimer = setInterval(function () {
      if (handle.pc !== pc || pc.connectionState !== "connected" || handle.rtpClock) { return; }
      pc.getStats().then(function (stats) {
        stats.forEach(function (s) {
          if (s.type === "inbound-rtp" && s.kind === "video" && s.estimatedPlayoutTimestamp) {
            handle.playout = { at: performance.now(), ms: s.estimatedPlayoutTimestamp - NTP_TO_UNIX_MS };
          }
        });
      }, function () {});
    }, 250);
  }

  /** The server's clock (ms) of the WebRTC frame played out last: its RTP time (the receiver's
   *  synchronization source) against the mapping the server sent with its answer. */
  function webrtcClock(handle) {
    var pc = handle.pc;
    if (!pc || !handle.rtpClock || !pc.getReceivers) { return NaN; }
    var receivers = pc.getReceivers();
    for (var i = 0; i < receivers.length; i++) {
      var r = receivers[i];
      if (!r.track || r.track.kind !== "video" || !r.getSynchronizationSources) { continue; }
      var sources = r.getSynchronizationSources();
      if (!sources.length) { return NaN; }
      // RTP time runs 90,000 a second and wraps at 2^32: the signed 32-bit difference.
      var d = (sources[0].rtpTimestamp - handle.rtpClock.ts) | 0;
      return handle.rtpClock.ms + d / 90;
    }
    return NaN;
  }

  // A page that goes away gives its WebRTC seat back at once (the server would otherwise
  // wait for the connection to time out).
  var playing = [];
  window.addEventListener("pagehide", function () { playing.slice().forEach(stopWhep); });

  function stopWhep(handle) {
    var pc = handle.pc;
    if (!pc) { return; }
    handle.pc = null;
    playing = playing.filter(function (h) { return h !== handle; });
    clearTimeout(handle.firstFrame);
    clearInterval(handle.statsTimer);
    handle.playout = null;
    // A connection that failed or closed was ended by the server (the broadcast stopped) or
    // is timed out there: its resource is gone or going, no DELETE.
    if (handle.location && pc.connectionState !== "failed" && pc.connectionState !== "closed") {
      fetch(handle.location, { method: "DELETE", keepalive: true }).catch(function () {});
    }
    handle.location = null;
    try { pc.close(); } catch (e) { /* closed */ }
    handle.video.srcObject = null;
  }

  /** WebRTC did not work out: the same broadcast over HLS, for the rest of this attachment. */
  function fallBack(handle, why) {
    if (handle.detached || handle.transport !== "webrtc") { return; }
    stopWhep(handle);
    handle.fallbackReason = why || "failed";
    handle.video.setAttribute("data-fallback", handle.fallbackReason);
    startHls(handle);
  }

  function detach(handle) {
    if (!handle) { return; }
    handle.detached = true;
    if (handle.timer) { clearInterval(handle.timer); }
    handle.listeners.forEach(function (l) { l[0].removeEventListener(l[1], l[2]); });
    handle.listeners = [];
    stopWhep(handle);
    if (handle.hls) { handle.hls.destroy(); handle.hls = null; }
    handle.video.removeAttribute("src");
    handle.video.removeAttribute("data-transport");
    handle.video.load();
  }

  /** The server's wall clock (ms since the epoch) of the frame on screen, or NaN when unknown
   *  (no picture yet, or a stream without program date-times). */
  function clock(handle) {
    if (!handle || handle.detached) { return NaN; }
    var video = handle.video;
    if (video.paused || video.readyState < 2) { return NaN; }
    if (handle.transport === "webrtc") {
      var rtp = webrtcClock(handle);
      if (!isNaN(rtp)) { return rtp; }
      if (!handle.playout) { return NaN; }
      return handle.playout.ms + (performance.now() - handle.playout.at);
    }
    if (handle.hls) {
      var d = handle.hls.playingDate;
      return d ? d.getTime() : NaN;
    }
    if (video.getStartDate) {
      var start = video.getStartDate().getTime();
      return isNaN(start) ? NaN : start + video.currentTime * 1000;
    }
    return NaN;
  }

  /** "webrtc" or "hls" (what plays now). */
  function transport(handle) { return handle ? handle.transport : null; }

  /** Unmutes and plays after a tap (WeChat and iOS block autoplay with sound). */
  function tapToPlay(video) {
    video.muted = false;
    var p = video.play();
    if (p && p.catch) { p.catch(function () { video.muted = true; video.play(); }); }
  }

  window.LivePlayer = { attach: attach, detach: detach, tapToPlay: tapToPlay, clock: clock, transport: transport };
})();
