// The studio's broadcaster: camera/microphone preview with device pickers, publishing over
// WHIP (RTCPeerConnection; H.264 preferred, VP8 fallback; Opus audio), stop, and health
// figures (state, bitrate, frame rate) from getStats.
(function () {
  "use strict";
  var state = { stream: null, pc: null, location: null, token: null, whipUrl: null, stats: null, lastBytes: 0, lastTs: 0 };

  function devices() {
    return navigator.mediaDevices.enumerateDevices().then(function (list) {
      return list
        .filter(function (d) { return d.kind === "videoinput" || d.kind === "audioinput"; })
        .map(function (d, i) { return { id: d.deviceId, kind: d.kind, label: d.label || (d.kind === "videoinput" ? "Camera " : "Microphone ") + (i + 1) }; });
    });
  }

  function preview(video, cameraId, micId) {
    if (state.stream) { state.stream.getTracks().forEach(function (t) { t.stop(); }); }
    var constraints = {
      video: cameraId ? { deviceId: { exact: cameraId }, width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } } : { width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: micId ? { deviceId: { exact: micId } } : true
    };
    return navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
      state.stream = stream;
      video.srcObject = stream;
      video.muted = true;
      return video.play().catch(function () {}).then(function () { return true; });
    });
  }

  function preferCodecs(transceiver) {
    if (!window.RTCRtpSender || !RTCRtpSender.getCapabilities) { return; }
    var caps = RTCRtpSender.getCapabilities("video");
    if (!caps || !transceiver.setCodecPreferences) { return; }
    var h264 = caps.codecs.filter(function (c) { return /h264/i.test(c.mimeType) && /packetization-mode=1/.test(c.sdpFmtpLine || ""); });
    var vp8 = caps.codecs.filter(function (c) { return /vp8/i.test(c.mimeType); });
    var rest = caps.codecs.filter(function (c) { return /rtx|red|ulpfec/i.test(c.mimeType); });
    var order = h264.concat(vp8).concat(rest);
    if (order.length) { transceiver.setCodecPreferences(order); }
  }

  function waitIce(pc) {
    if (pc.iceGatheringState === "complete") { return Promise.resolve(); }
    return new Promise(function (resolve) {
      var done = function () { if (pc.iceGatheringState === "complete") { resolve(); } };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 2000); // ICE-lite server: host candidates are enough
    });
  }

  /** Publishes the previewed stream. `onState(s)` gets "connecting", "live", "failed", "stopped". */
  function start(whipUrl, token, onState) {
    if (!state.stream) { return Promise.reject(new Error("Start the camera preview first.")); }
    var pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
    state.pc = pc; state.token = token; state.whipUrl = whipUrl;
    state.stream.getTracks().forEach(function (track) {
      var init = { direction: "sendonly", streams: [state.stream] };
      // At most 2.5 Mbit/s: the top of the server's ladder. (No contentHint "detail": Chrome
      // then encodes the camera like a screen share, at lower frame rates.)
      if (track.kind === "video") { init.sendEncodings = [{ maxBitrate: 2500000 }]; }
      var t = pc.addTransceiver(track, init);
      if (track.kind === "video") {
        preferCodecs(t);
        // Keep the camera's resolution when the uplink is short (drop frames instead), where
        // the browser lets us: the server plans its ladder from the size it receives (and
        // plans again when the size changes).
        try {
          var p = t.sender.getParameters();
          p.degradationPreference = "maintain-resolution";
          t.sender.setParameters(p).catch(function () { /* not supported */ });
        } catch (e) { /* older browsers */ }
      }
    });
    pc.addEventListener("connectionstatechange", function () {
      var s = pc.connectionState;
      onState(s === "connected" ? "live" : s === "failed" ? "failed" : s === "closed" ? "stopped" : "connecting");
    });
    onState("connecting");
    return pc.createOffer()
      .then(function (offer) { return pc.setLocalDescription(offer); })
      .then(function () { return waitIce(pc); })
      .then(function () {
        return fetch(whipUrl, {
          method: "POST",
          headers: { "Content-Type": "application/sdp", "Authorization": "Bearer " + token },
          body: pc.localDescription.sdp
        });
      })
      .then(function (res) {
        if (res.status !== 201) {
          return res.text().then(function (t) { throw new Error(t || ("The media server refused: " + res.status)); });
        }
        state.location = res.headers.get("Location");
        return res.text();
      })
      .then(function (answer) { return pc.setRemoteDescription({ type: "answer", sdp: answer }); })
      .catch(function (e) { onState("failed"); throw e; });
  }

  function stop() {
    var req = Promise.resolve();
    if (state.location && state.token) {
      var url = new URL(state.location, state.whipUrl).toString();
      req = fetch(url, { method: "DELETE", headers: { "Authorization": "Bearer " + state.token } }).catch(function () {});
    }
    if (state.pc) { state.pc.close(); state.pc = null; }
    state.location = null;
    return req;
  }

  /** { state, kbps, fps, codec } from the outgoing video stream. */
  function health() {
    if (!state.pc) { return Promise.resolve({ state: "idle", kbps: 0, fps: 0, codec: "" }); }
    return state.pc.getStats().then(function (report) {
      var out = { state: state.pc ? state.pc.connectionState : "idle", kbps: 0, fps: 0, codec: "" };
      var codecs = {};
      report.forEach(function (s) { if (s.type === "codec") { codecs[s.id] = s.mimeType; } });
      report.forEach(function (s) {
        if (s.type === "outbound-rtp" && s.kind === "video") {
          if (state.lastTs && s.timestamp > state.lastTs) {
            out.kbps = Math.round(((s.bytesSent - state.lastBytes) * 8) / (s.timestamp - state.lastTs));
          }
          state.lastBytes = s.bytesSent; state.lastTs = s.timestamp;
          out.fps = Math.round(s.framesPerSecond || 0);
          out.codec = (codecs[s.codecId] || "").replace("video/", "");
        }
      });
      return out;
    });
  }

  /** Publishes an existing MediaStream instead of the camera (screen or canvas capture; the
   *  glass-to-glass latency benchmark draws timestamps on a canvas). */
  function useStream(stream) {
    state.stream = stream;
  }

  window.LiveBroadcaster = { devices: devices, preview: preview, useStream: useStream, start: start, stop: stop, health: health };
})();
