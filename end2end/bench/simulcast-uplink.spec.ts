import { test, expect, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';

// The host's uplink cost of WebRTC simulcast against one stream. Two ways to fill the bitrate
// ladder's lower renditions: the server transcodes them from the host's one stream (server
// CPU), or the host's browser publishes simulcast layers h/m/l (the host's uplink and CPU).
// This measures the second way's cost to the host in real Chromium: one page, Chromium's fake
// camera at 1280x720/30, a loopback pair of RTCPeerConnections (pc1 publishes, pc2 receives),
// and per phase one JSON line from pc1's getStats over a fixed window, then one ratio line per
// codec. No server is needed. Run with:
//   cd end2end && npx playwright test --config=bench.config.ts simulcast-uplink
// Knobs: CODECS (default "h264,vp8"), RAMP_S (10), MEASURE_S (30), CONTENT_HINT ("", none, as the
// studio; "detail" to try it), DEGRADATION ("maintain-resolution", the studio's; or "balanced"),
// FAKE_VIDEO (a 1280x720 .y4m or .mjpeg file the fake camera plays instead of its drawing: the
// drawing is nearly static and easy to encode, so the encoders stay far below the caps; a clip
// with motion and detail shows the uplink of a real camera).

// The bandwidth estimate on loopback lets every layer reach its cap within about 2-5 s
// (target_kbps in the output shows it); 10 s of ramp-up keeps four phases under 3 minutes.
const RAMP_S = Number(process.env.RAMP_S ?? 10);
const MEASURE_S = Number(process.env.MEASURE_S ?? 30);
const CODECS = (process.env.CODECS ?? 'h264,vp8').split(',').map((c) => c.trim().toUpperCase()).filter(Boolean);
const CONTENT_HINT = process.env.CONTENT_HINT ?? '';
const DEGRADATION = process.env.DEGRADATION ?? 'maintain-resolution';
const FAKE_VIDEO = process.env.FAKE_VIDEO;

// What the studio sends today (public/broadcaster.js): one encoding capped at 2.5 Mbit/s.
const SINGLE: RTCRtpEncodingParameters[] = [{ maxBitrate: 2_500_000 }];
// The simulcast ladder: full, half and quarter resolution (1280x720, 640x360, 320x180).
const SIMULCAST: RTCRtpEncodingParameters[] = [
  { rid: 'h', maxBitrate: 2_500_000 },
  { rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 1_000_000 },
  { rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 300_000 },
];

type Phase = 'single' | 'simulcast';
type Outbound = {
  rid: string; ssrc: number; bytesSent: number; headerBytesSent: number; framesEncoded: number;
  frameWidth?: number; frameHeight?: number; framesPerSecond?: number; qualityLimitationReason?: string;
  qualityLimitationDurations?: Record<string, number>; totalEncodeTime: number; encoderImplementation?: string;
  targetBitrate?: number; codec: string; active?: boolean;
};
type Inbound = { mid: string; framesDecoded: number; totalDecodeTime: number; frameWidth?: number; frameHeight?: number; decoderImplementation?: string };
type Snapshot = { ts: number; outbound: Outbound[]; inbound: Inbound[]; transportBytesSent: number; availableOutgoingBitrate?: number };

// CPU time (utime + stime, in seconds) of every process below this worker: the Chromium this
// test launches and its children. Other Chromiums on the machine (other tests, other sessions)
// are not descendants and do not count. Split by Chromium process type: the renderer holds the
// page, i.e. pc1's encoders AND pc2's decoders; "capture" is the video capture service (the
// fake camera draws its frames there); "network" the network service (WebRTC's UDP sockets).
const TICKS = 100; // USER_HZ: 100 on Linux x86-64 and arm64
function browserCpuSeconds(): Record<string, number> {
  const parent = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try { stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8'); } catch { continue; } // exited meanwhile
    // "pid (comm) state ppid ... utime stime ...": comm may hold spaces, so split after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parent.set(Number(name), Number(f[1]));
    cpu.set(Number(name), (Number(f[11]) + Number(f[12])) / TICKS);
  }
  const below = (pid: number) => { for (let p = parent.get(pid); p; p = parent.get(p)) if (p === process.pid) return true; return false; };
  const out: Record<string, number> = { total: 0 };
  for (const [pid, s] of cpu) {
    if (!below(pid)) continue;
    let cmd = '';
    try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { /* exited meanwhile */ }
    const type = /--type=renderer/.test(cmd) ? 'renderer' : /video_capture/.test(cmd) ? 'capture' : /network\.mojom/.test(cmd) ? 'network'
      : /--type=gpu/.test(cmd) ? 'gpu' : /--type=/.test(cmd) ? 'other' : /chrom/.test(cmd) ? 'browser' : 'other';
    out[type] = (out[type] ?? 0) + s;
    out.total += s;
  }
  return out;
}

// ---- In the page -------------------------------------------------------------------------------

// Starts one phase: camera, pc1 -> pc2, negotiation. Returns the camera's settings and the codec.
async function startPhase(page: Page, args: { phase: Phase; codec: string; encodings: RTCRtpEncodingParameters[]; contentHint: string; degradation: string }) {
  return page.evaluate(async ({ phase, codec, encodings, contentHint, degradation }) => {
    const w = window as any;
    // 1. The fake camera at the studio's resolution; the settings say what it really delivers.
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720, frameRate: 30 } });
    const track = stream.getVideoTracks()[0];
    if (contentHint) track.contentHint = contentHint; // the studio sets none
    const s = track.getSettings();

    // 2. The loopback pair. max-bundle as the studio: one transport, whose bytesSent is the uplink.
    const pc1 = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    const pc2 = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    w.bench = { pc1, pc2, stream };
    const t = pc1.addTransceiver(track, { direction: 'sendonly', streams: [stream], sendEncodings: encodings });

    // 3. The codec: the studio's H.264 entries (packetization-mode=1) or VP8, nothing else. No
    // RTX/RED/FEC in either phase: the same for both, and the receiver's munged SDP (below) could
    // not route RTX anyway (its repaired-rid has no mid equivalent). On loopback nothing is lost.
    const caps = RTCRtpSender.getCapabilities('video')!.codecs;
    const prefs = codec === 'H264'
      ? caps.filter((c) => /^video\/h264$/i.test(c.mimeType) && /packetization-mode=1/.test(c.sdpFmtpLine ?? ''))
      : caps.filter((c) => /^video\/vp8$/i.test(c.mimeType));
    if (!prefs.length) return { unsupported: `${codec} is not in RTCRtpSender.getCapabilities('video')` };
    t.setCodecPreferences(prefs);
    // The studio keeps the resolution and drops frames when short of CPU or bandwidth.
    const params = t.sender.getParameters();
    (params as any).degradationPreference = degradation;
    await t.sender.setParameters(params).catch(() => {});
    const degradationApplied = (t.sender.getParameters() as any).degradationPreference ?? null;

    // Candidates go straight across. With simulcast pc2 sees other mids (below), so the
    // candidates are addressed to the first m-section of the other side's description.
    const rids = encodings.map((e) => e.rid!).filter(Boolean);
    const munge = phase === 'simulcast';
    pc1.onicecandidate = (e) => { if (e.candidate) pc2.addIceCandidate(munge ? { candidate: e.candidate.candidate, sdpMid: rids[0], sdpMLineIndex: 0 } : e.candidate).catch((err) => console.error(err)); };
    pc2.onicecandidate = (e) => { if (e.candidate) pc1.addIceCandidate(munge ? { candidate: e.candidate.candidate, sdpMid: t.mid!, sdpMLineIndex: 0 } : e.candidate).catch((err) => console.error(err)); };

    // Simulcast over a loopback pair: Chrome sends rid-simulcast but does not receive it. The
    // receiver gets an offer with one m-section per rid whose mid is the rid name, and the rid
    // header extension's id declared as the mid extension: both carry a short string on the wire,
    // so pc2 routes layer "h" to m-section "h" and decodes each layer as its own track (the trick
    // of fippo's simulcast playground and the WPT simulcast tests). pc1 gets the answer folded
    // back into one m-section that accepts the three rids (a=simulcast:recv).
    const MID = 'urn:ietf:params:rtp-hdrext:sdes:mid';
    const RID = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
    const RRID = 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id';
    const split = (sdp: string) => {
      const lines = sdp.trim().split(/\r?\n/);
      const first = lines.findIndex((l) => l.startsWith('m='));
      const media: string[][] = [];
      for (const l of lines.slice(first)) { if (l.startsWith('m=')) media.push([]); media[media.length - 1].push(l); }
      return { session: lines.slice(0, first), media };
    };
    const extId = (m: string[], uri: string) => { const l = m.find((x) => x.startsWith('a=extmap:') && x.endsWith(` ${uri}`)); return l ? l.slice(9).split(/[ /]/)[0] : null; };
    const join = (lines: string[]) => lines.join('\r\n') + '\r\n';
    const offerForPc2 = (sdp: string) => {
      const { session, media } = split(sdp);
      if (media.length !== 1) throw new Error(`expected one m-section in pc1's offer, got ${media.length}`);
      const m = media[0];
      if (!m.some((l) => l === `a=simulcast:send ${rids.join(';')}`)) throw new Error(`pc1's offer has no a=simulcast:send ${rids.join(';')}:\n${sdp}`);
      if (m.some((l) => /^a=rtpmap:\d+ (rtx|red|ulpfec)\//i.test(l))) throw new Error('pc1 offers RTX/RED/FEC despite the codec preferences');
      const ridId = extId(m, RID);
      if (!ridId) throw new Error('pc1 offers no rtp-stream-id header extension');
      const drop = [extId(m, MID), ridId, extId(m, RRID)].filter(Boolean).map((id) => `a=extmap:${id} `);
      const template = m.filter((l) => !drop.some((d) => l.startsWith(d)) && !/^a=(mid|rid|simulcast|msid|ssrc|ssrc-group):/.test(l));
      template.push(`a=extmap:${ridId} ${MID}`);
      return join([
        ...session.map((l) => (l.startsWith('a=group:BUNDLE') ? `a=group:BUNDLE ${rids.join(' ')}` : l)),
        ...rids.flatMap((rid) => [...template, `a=mid:${rid}`, `a=msid:layers ${rid}`]),
      ]);
    };
    const answerForPc1 = (sdp: string, offer: string) => {
      const { session, media } = split(sdp);
      const rejected = media.filter((m) => /^m=\S+ 0 /.test(m[0]));
      if (media.length !== rids.length || rejected.length) throw new Error(`pc2 did not accept the ${rids.length} layers:\n${sdp}`);
      const o = split(offer).media[0];
      const mid = t.mid!;
      const kept = media[0].filter((l) => !l.startsWith('a=mid:') && !l.endsWith(` ${MID}`));
      const back = [extId(o, MID) && `a=extmap:${extId(o, MID)} ${MID}`, `a=extmap:${extId(o, RID)} ${RID}`].filter(Boolean) as string[];
      return join([
        ...session.map((l) => (l.startsWith('a=group:BUNDLE') ? `a=group:BUNDLE ${mid}` : l)),
        ...kept, ...back, `a=mid:${mid}`,
        ...rids.map((rid) => `a=rid:${rid} recv`), `a=simulcast:recv ${rids.join(';')}`,
      ]);
    };

    // Each side gets its remote description before the other sets its local one, so that no
    // candidate can arrive before the description it belongs to.
    const offer = await pc1.createOffer();
    await pc2.setRemoteDescription(munge ? { type: 'offer', sdp: offerForPc2(offer.sdp!) } : offer);
    await pc1.setLocalDescription(offer);
    const answer = await pc2.createAnswer();
    await pc1.setRemoteDescription(munge ? { type: 'answer', sdp: answerForPc1(answer.sdp!, offer.sdp!) } : answer);
    await pc2.setLocalDescription(answer);
    for (let i = 0; i < 100 && pc1.connectionState !== 'connected'; i++) await new Promise((r) => setTimeout(r, 100));
    if (pc1.connectionState !== 'connected') throw new Error(`the loopback pair did not connect: ${pc1.connectionState}`);
    return {
      settings: { width: s.width, height: s.height, frameRate: s.frameRate, resizeMode: (s as any).resizeMode },
      degradation: degradationApplied, contentHint: track.contentHint,
      sentEncodings: t.sender.getParameters().encodings.map((e) => ({ rid: e.rid ?? null, scaleResolutionDownBy: e.scaleResolutionDownBy ?? null, maxBitrate: e.maxBitrate ?? null })),
    };
  }, args);
}

// pc1's outbound-rtp per layer and its transport, and pc2's inbound-rtp per layer (mid).
async function snapshot(page: Page): Promise<Snapshot> {
  return page.evaluate(async () => {
    const { pc1, pc2 } = (window as any).bench as { pc1: RTCPeerConnection; pc2: RTCPeerConnection };
    const [a, b] = [await pc1.getStats(), await pc2.getStats()];
    const codecs = new Map<string, string>();
    a.forEach((s: any) => { if (s.type === 'codec') codecs.set(s.id, `${s.mimeType.replace('video/', '')}${s.sdpFmtpLine ? ` ${s.sdpFmtpLine}` : ''}`); });
    const out: Snapshot = { ts: performance.now(), outbound: [], inbound: [], transportBytesSent: 0 };
    let pair = '';
    a.forEach((s: any) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.outbound.push({
          rid: s.rid ?? '', ssrc: s.ssrc, bytesSent: s.bytesSent ?? 0, headerBytesSent: s.headerBytesSent ?? 0,
          framesEncoded: s.framesEncoded ?? 0, frameWidth: s.frameWidth, frameHeight: s.frameHeight, framesPerSecond: s.framesPerSecond,
          qualityLimitationReason: s.qualityLimitationReason, qualityLimitationDurations: s.qualityLimitationDurations,
          totalEncodeTime: s.totalEncodeTime ?? 0, encoderImplementation: s.encoderImplementation, targetBitrate: s.targetBitrate, codec: codecs.get(s.codecId) ?? '', active: s.active,
        });
      }
      if (s.type === 'transport') { out.transportBytesSent += s.bytesSent ?? 0; pair = s.selectedCandidatePairId ?? ''; }
    });
    out.availableOutgoingBitrate = a.get(pair)?.availableOutgoingBitrate; // the bandwidth estimate
    b.forEach((s: any) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.inbound.push({ mid: s.mid ?? '', framesDecoded: s.framesDecoded ?? 0, totalDecodeTime: s.totalDecodeTime ?? 0,
          frameWidth: s.frameWidth, frameHeight: s.frameHeight, decoderImplementation: s.decoderImplementation });
      }
    });
    out.outbound.sort((x, y) => 'hml'.indexOf(x.rid) - 'hml'.indexOf(y.rid));
    out.inbound.sort((x, y) => 'hml'.indexOf(x.mid) - 'hml'.indexOf(y.mid));
    return out;
  });
}

async function stopPhase(page: Page) {
  await page.evaluate(() => {
    const b = (window as any).bench;
    if (!b) return;
    b.pc1.close(); b.pc2.close();
    b.stream.getTracks().forEach((t: MediaStreamTrack) => t.stop());
    (window as any).bench = undefined;
  });
}

// ---- The benchmark -----------------------------------------------------------------------------

test('host uplink: simulcast h/m/l against one stream', async ({ playwright }, testInfo) => {
  test.setTimeout((CODECS.length * 2 * (RAMP_S + MEASURE_S + 20) + 30) * 1000);
  // Our own Chromium, launched from this worker so that its processes are ours to count (see
  // browserCpuSeconds), with the config's executable and flags. One change: the fake camera
  // runs at 30 fps ("fps=30"); its default is 20, whatever getUserMedia asks for.
  const launch = testInfo.project.use.launchOptions ?? {};
  const args = (launch.args ?? ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'])
    .map((a) => (a === '--use-fake-device-for-media-stream' ? `${a}=fps=30` : a))
    .concat(FAKE_VIDEO ? [`--use-file-for-fake-video-capture=${FAKE_VIDEO}`] : []);
  const browser = await playwright.chromium.launch({ executablePath: launch.executablePath ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args });
  const page = await browser.newPage();
  // getUserMedia needs a secure context: about:blank has no navigator.mediaDevices, but
  // http://127.0.0.1 is potentially trustworthy. Playwright serves the empty page; no server.
  await page.route('http://127.0.0.1/simulcast-bench', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>simulcast bench</title>' }));
  await page.goto('http://127.0.0.1/simulcast-bench');
  const chrome = browser.version();

  const failures: string[] = [];
  const totals: Record<string, Partial<Record<Phase, { total_kbps: number; transport_kbps: number; browser_cores: number; encode_ms: number }>>> = {};
  try {
    for (const codec of CODECS) {
      for (const phase of ['single', 'simulcast'] as Phase[]) {
        const encodings = phase === 'single' ? SINGLE : SIMULCAST;
        const rids = encodings.map((e) => e.rid ?? '');
        try {
          const started = await startPhase(page, { phase, codec, encodings, contentHint: CONTENT_HINT, degradation: DEGRADATION });
          if ('unsupported' in started) {
            // This Chromium cannot send the codec at all: a fact about the build, not a failure.
            console.log(JSON.stringify({ scenario: 'host-uplink', phase, codec, chrome, skipped: started.unsupported }));
            break;
          }
          // The studio asks the camera for 720p: measure that, not whatever the camera fell back to.
          if (started.settings.width !== 1280 || started.settings.height !== 720) {
            throw new Error(`${codec} ${phase}: the camera delivers ${started.settings.width}x${started.settings.height}, not 1280x720`);
          }
          // 4. Ramp-up: the bandwidth estimate starts at 300 kbit/s and must climb past the caps.
          // Then the window: bytes, frames and CPU between two snapshots MEASURE_S apart.
          await page.waitForTimeout(RAMP_S * 1000);
          const a = await snapshot(page);
          const cpuA = browserCpuSeconds();
          const wallA = process.hrtime.bigint();
          const load = os.loadavg()[0];
          // Every rid must be there before the window starts; otherwise no numbers at all.
          const got = a.outbound.map((o) => o.rid);
          if (got.join(',') !== rids.join(',')) {
            throw new Error(`${codec} ${phase}: pc1 sends outbound-rtp for rids [${got.join(',')}], expected [${rids.join(',')}]: ${JSON.stringify(a.outbound)}`);
          }
          // The window: sample every 5 s to catch resolution changes inside it.
          const seen = new Map<string, Set<string>>(rids.map((r) => [r, new Set<string>()]));
          let b = a;
          for (let t = 0; t < MEASURE_S; t += 5) {
            await page.waitForTimeout(Math.min(5, MEASURE_S - t) * 1000);
            b = await snapshot(page);
            for (const o of b.outbound) seen.get(o.rid)?.add(`${o.frameWidth}x${o.frameHeight}`);
          }
          const cpuB = browserCpuSeconds();
          const wall = Number(process.hrtime.bigint() - wallA) / 1e9;
          const secs = (b.ts - a.ts) / 1000;

          const layers = b.outbound.map((o) => {
            const o0 = a.outbound.find((x) => x.ssrc === o.ssrc) ?? a.outbound.find((x) => x.rid === o.rid)!;
            const frames = o.framesEncoded - o0.framesEncoded;
            const limited: Record<string, number> = {};
            for (const [k, v] of Object.entries(o.qualityLimitationDurations ?? {})) {
              const d = v - (o0.qualityLimitationDurations?.[k] ?? 0);
              if (k !== 'none' && d > 0.05) limited[k] = +d.toFixed(1);
            }
            return {
              rid: o.rid || null,
              kbps: Math.round(((o.bytesSent - o0.bytesSent) * 8) / secs / 1000),
              // What the rate allocator let this layer spend, at the window's start and end: the
              // caps once the ramp-up is over. An encoder may still spend less (easy content).
              target_kbps: [o0.targetBitrate, o.targetBitrate].map((t) => (t === undefined ? null : Math.round(t / 1000))),
              // RTP headers AND padding (headerBytesSent counts both): Chrome pads a simulcast
              // stream whose encoders spend less than their targets, except for screen content.
              header_padding_kbps: Math.round(((o.headerBytesSent - o0.headerBytesSent) * 8) / secs / 1000),
              width: o.frameWidth ?? null, height: o.frameHeight ?? null,
              resolutions_seen: [...(seen.get(o.rid) ?? [])],
              fps: +(frames / secs).toFixed(1), fps_reported: o.framesPerSecond ?? null,
              quality_limitation: o.qualityLimitationReason ?? null, limited_s: limited,
              encode_ms_per_frame: frames > 0 ? +(((o.totalEncodeTime - o0.totalEncodeTime) * 1000) / frames).toFixed(2) : null,
              encoder: o.encoderImplementation ?? null, codec: o.codec,
              bytes_sent_delta: o.bytesSent - o0.bytesSent,
            };
          });
          // Sanity: each layer sent media in the window, at the size asked for (full, 1/2, 1/4),
          // unless a quality limitation explains a smaller one (reported, not hidden).
          const notes: string[] = [];
          for (const [i, l] of layers.entries()) {
            if (!(l.bytes_sent_delta > 0) || !(l.fps > 0)) throw new Error(`${codec} ${phase}: layer ${l.rid ?? 'single'} sent nothing in the window: ${JSON.stringify(l)}`);
            if (!l.codec.toUpperCase().startsWith(codec)) throw new Error(`${codec} ${phase}: asked for ${codec}, pc1 sends ${l.codec}`);
            const scale = encodings[i].scaleResolutionDownBy ?? 1;
            const want = `${Math.round((started.settings.width ?? 0) / scale)}x${Math.round((started.settings.height ?? 0) / scale)}`;
            if (`${l.width}x${l.height}` !== want) {
              const why = Object.keys(l.limited_s).length ? ` (limited: ${JSON.stringify(l.limited_s)})` : '';
              if (!why) throw new Error(`${codec} ${phase}: layer ${l.rid ?? 'single'} is ${l.width}x${l.height}, expected ${want}, with no quality limitation`);
              notes.push(`layer ${l.rid} at ${l.width}x${l.height}, not ${want}${why}`);
            }
          }
          // The receiving side decoded every layer (proves the munged simulcast really works).
          const receive = b.inbound.map((r) => {
            const r0 = a.inbound.find((x) => x.mid === r.mid);
            const frames = r.framesDecoded - (r0?.framesDecoded ?? 0);
            return { mid: r.mid, width: r.frameWidth ?? null, height: r.frameHeight ?? null, fps: +(frames / secs).toFixed(1),
              decode_ms_per_frame: frames > 0 ? +(((r.totalDecodeTime - (r0?.totalDecodeTime ?? 0)) * 1000) / frames).toFixed(2) : null, decoder: r.decoderImplementation ?? null };
          });
          if (receive.length !== rids.length || receive.some((r) => !(r.fps > 0))) {
            throw new Error(`${codec} ${phase}: pc2 did not decode all ${rids.length} layer(s): ${JSON.stringify(receive)}`);
          }

          const total_kbps = layers.reduce((s, l) => s + l.kbps, 0);
          const transport_kbps = Math.round(((b.transportBytesSent - a.transportBytesSent) * 8) / secs / 1000);
          // totalEncodeTime is wall time from a source frame's encode start to this layer's output,
          // and Chrome's SimulcastEncoderAdapter encodes the layers one after another: the slowest
          // layer's figure is the time to encode one camera frame into all layers (on a busy
          // machine it includes waiting for a core, so it is not CPU time).
          const encode_ms = Math.max(...layers.map((l) => l.encode_ms_per_frame ?? 0));
          const cores: Record<string, number> = {};
          for (const k of Object.keys(cpuB)) cores[k] = +((cpuB[k] - (cpuA[k] ?? 0)) / wall).toFixed(2);
          const browser_cores = cores.total;
          (totals[codec] ??= {})[phase] = { total_kbps, transport_kbps, browser_cores, encode_ms };
          console.log(JSON.stringify({
            scenario: 'host-uplink', phase, codec: layers[0].codec, chrome,
            settings: started.settings, camera: FAKE_VIDEO ? `file ${FAKE_VIDEO}` : 'fake (drawn)', content_hint: started.contentHint, degradation: started.degradation,
            encodings: started.sentEncodings, ramp_s: RAMP_S, window_s: +secs.toFixed(1),
            layers: layers.map(({ bytes_sent_delta, codec: _c, ...l }) => l),
            total_kbps, // media payload (bytesSent) of all layers
            header_padding_kbps: layers.reduce((s, l) => s + l.header_padding_kbps, 0), // their RTP headers and padding
            transport_kbps, // everything pc1 put on the wire: + RTCP, padding/probes, SRTP/DTLS
            available_outgoing_kbps: b.availableOutgoingBitrate ? Math.round(b.availableOutgoingBitrate / 1000) : null,
            encode_ms_per_source_frame: encode_ms,
            browser_cores, // all of this Chromium's processes: capture, pc1's encoding, pc2's decoding, page
            browser_cores_by_process: cores,
            // pc2's share of the renderer, from its decoders' time (decoding is not part of a host's cost)
            pc2_decode_cores: +(receive.reduce((s, r) => s + ((r.decode_ms_per_frame ?? 0) * r.fps) / 1000, 0)).toFixed(2),
            load_avg_1m: +load.toFixed(2), // the machine's, from other work too (measured at the window's start)
            receive, notes,
          }));
        } catch (e) {
          const msg = (e as Error).message.split('\n')[0];
          failures.push(msg);
          console.log(JSON.stringify({ scenario: 'host-uplink', phase, codec, chrome, error: msg }));
        } finally {
          await stopPhase(page).catch(() => {});
        }
      }
      const t = totals[codec];
      if (t?.single && t.simulcast) {
        console.log(JSON.stringify({
          scenario: 'host-uplink', ratio: 'simulcast/single', codec,
          simulcast_total_kbps: t.simulcast.total_kbps, single_total_kbps: t.single.total_kbps,
          total_kbps_ratio: +(t.simulcast.total_kbps / t.single.total_kbps).toFixed(2),
          simulcast_transport_kbps: t.simulcast.transport_kbps, single_transport_kbps: t.single.transport_kbps,
          transport_kbps_ratio: +(t.simulcast.transport_kbps / t.single.transport_kbps).toFixed(2),
          encode_ms_ratio: t.single.encode_ms > 0 ? +(t.simulcast.encode_ms / t.single.encode_ms).toFixed(2) : null,
          browser_cores_ratio: t.single.browser_cores > 0 ? +(t.simulcast.browser_cores / t.single.browser_cores).toFixed(2) : null,
        }));
      }
    }
  } finally {
    await browser.close();
  }
  // No made-up numbers: a phase that did not measure what it claims fails the benchmark.
  expect(failures, failures.join('\n')).toEqual([]);
  expect(Object.values(totals).some((t) => t.single && t.simulcast), 'no codec measured both phases').toBe(true);
});
