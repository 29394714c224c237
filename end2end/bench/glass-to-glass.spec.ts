import { test, expect } from '@playwright/test';
import { hostWithSession } from '../tests/helpers';
import { broadcastTimecode, installTimecodeReader, watchForCard } from '../tests/timecode';

// Glass-to-glass latency through the embedded pipeline, both paths in the same run:
//  - WebRTC: WHIP -> the server's RTP fan-out -> WHEP -> the browser (public/player.js);
//  - HLS: WHIP -> ffmpeg fMP4 HLS ladder -> hls.js (the same player, HLS only).
// A publisher page broadcasts a canvas with the current time drawn as a bar code (the studio's
// own broadcaster.js); each viewer decodes it from the frame on screen every 500 ms. Then the
// card-to-frame skew with HLS: a phone's live room over HLS, the host presents products, and
// each time the card appears we read the frame on screen: how far its time is from the moment
// the host pressed. Every page runs in one browser on one machine: one clock. Prints JSON
// lines; run with ./scripts/bench-video.sh.

const SAMPLES = Number(process.env.SAMPLES ?? 30);
const CARDS = Number(process.env.CARDS ?? Math.max(2, Math.min(20, SAMPLES)));

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
  return { samples: sorted.length, min: sorted[0], p50: pct(0.5), p95: pct(0.95), max: sorted[sorted.length - 1] };
}

test('glass-to-glass latency (WebRTC and HLS) and card-to-frame skew', async ({ browser }, testInfo) => {
  test.setTimeout(420_000);
  const baseURL = testInfo.project.use.baseURL!;
  const s = await hostWithSession(testInfo, 'Latency', [
    { name: 'Card A', category: 'cosmetics', price: '10.00', stock: 1000 },
    { name: 'Card B', category: 'health', price: '20.00', stock: 1000 },
  ]);
  await s.goLive();
  const info = await (await s.host.post('/api/studio/broadcast', { form: { session_id: String(s.sessionId) } })).json();
  const pub = await (await browser.newContext({ baseURL })).newPage();
  await pub.goto('/studio');
  await broadcastTimecode(pub, info.whip_url, info.token);
  const whepUrl = `/whep/${s.sessionId}`;

  // Two viewers at once, one per path.
  const viewer = async (whep: string | null) => {
    const page = await (await browser.newContext({ baseURL })).newPage();
    await installTimecodeReader(page);
    await page.goto('/');
    return page.evaluate(async ({ url, whep, samples }) => {
      // Wait for the live (multivariant) playlist to be out.
      for (let i = 0; i < 60; i++) {
        const r = await fetch(url);
        if (r.ok && /#EXT-X-STREAM-INF/.test(await r.text())) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      const v = document.createElement('video');
      v.muted = true; v.playsInline = true; v.autoplay = true; v.width = 640; v.height = 360;
      document.body.appendChild(v);
      const handle = (window as any).LivePlayer.attach(v, url, true, () => {}, whep);
      for (let i = 0; i < 40 && v.currentTime === 0; i++) {
        await v.play().catch(() => {});
        await new Promise((r) => setTimeout(r, 500));
      }
      const out: number[] = [];
      const heights: number[] = [];
      const start = Date.now();
      while (out.length < samples && Date.now() - start < 180_000) {
        await new Promise((r) => setTimeout(r, 500));
        const t = (window as any).readTimecode(v);
        if (Number.isFinite(t)) { out.push(Date.now() - t); heights.push(v.videoHeight); }
      }
      return { out, heights, transport: (window as any).LivePlayer.transport(handle) as string };
    }, { url: info.hls_url, whep, samples: SAMPLES });
  };
  const [rtc, hls] = await Promise.all([viewer(whepUrl), viewer(null)]);
  for (const [r, path] of [[rtc, 'WHIP -> RTP fan-out -> WHEP (no transcoding)'], [hls, 'WHIP -> ffmpeg fMP4 HLS ladder (1 s segments, live window) -> hls.js']] as const) {
    expect(r.out.length, `${r.transport}: every sample asked for was read`).toBeGreaterThanOrEqual(Math.min(SAMPLES, 30));
    const renditions: Record<string, number> = {};
    for (const h of r.heights) renditions[`${h}p`] = (renditions[`${h}p`] ?? 0) + 1;
    console.log(JSON.stringify({ scenario: 'glass-to-glass', transport: r.transport, path, renditions, latency_ms: summary(r.out) }));
  }
  expect(rtc.transport).toBe('webrtc');
  expect(hls.transport).toBe('hls');

  // Card-to-frame skew over HLS, in a phone's live room.
  const phone = await (await browser.newContext({ baseURL, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
  await installTimecodeReader(phone);
  await phone.goto(`/s/${s.sessionId}?transport=hls`);
  await expect.poll(() => phone.evaluate(() => {
    const v = document.querySelector('video.live-player') as any;
    return v ? (window as any).LivePlayer.clock(v.livePlayerHandle) : NaN;
  }), { timeout: 60_000, intervals: [500] }).toBeGreaterThan(0);
  const skews: number[] = [];
  const held: number[] = [];
  for (let i = 0; i < CARDS; i++) {
    const id = s.productIds[i % 2];
    await watchForCard(phone, id);
    const pressed = Date.now();
    await s.present(id);
    await expect.poll(() => phone.evaluate(() => (window as any).cardSeen), { timeout: 15_000, intervals: [50] }).not.toBeNull();
    const seen = await phone.evaluate(() => (window as any).cardSeen as { at: number; frame: number });
    if (Number.isFinite(seen.frame)) { skews.push(seen.frame - pressed); held.push(seen.at - pressed); }
    await phone.waitForTimeout(1500);
  }
  expect(skews.length).toBeGreaterThanOrEqual(Math.min(CARDS, 2));
  const abs = skews.map(Math.abs);
  console.log(JSON.stringify({ scenario: 'card-to-frame', transport: 'hls', cards: skews.length,
    skew_ms: summary(skews), abs_skew_ms: summary(abs), card_after_press_ms: summary(held) }));

  await pub.evaluate(() => (window as any).LiveBroadcaster.stop());
  await s.end();
});
