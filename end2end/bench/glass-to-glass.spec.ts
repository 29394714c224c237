import { test, expect } from '@playwright/test';

// Glass-to-glass latency through the embedded pipeline (WHIP -> ffmpeg -> HLS -> hls.js).
// A publisher page draws the current time as a 48-bit bar code on a canvas and broadcasts the
// canvas with the studio's own broadcaster.js; a viewer page plays the HLS stream and decodes
// the bar code from the displayed frame. Both pages run in one browser on one machine, so
// they read the same clock. Prints a JSON line; run with ./scripts/bench-video.sh.

const SAMPLES = Number(process.env.SAMPLES ?? 30);

test('glass-to-glass latency', async ({ browser }, testInfo) => {
  test.setTimeout(240_000);
  const baseURL = testInfo.project.use.baseURL!;
  const host = await browser.newContext({ baseURL });
  const pub = await host.newPage();
  // The studio's bundle carries the broadcaster (public/broadcaster.js).
  await pub.goto('/studio');
  await pub.waitForFunction(() => (window as any).LiveBroadcaster !== undefined);
  const tag = `${Date.now()}`;
  expect((await pub.request.post('/api/host/sign_up', { form: { display_name: 'Bench', email: `g2g-${tag}@example.com`, password: 'a long password' } })).status()).toBe(200);
  const created = await pub.request.post('/api/studio/session/create', {
    data: { form: { title: `Latency ${tag}`, description: '', scheduled_start_ms: Date.now() + 3_600_000,
      policy: { percent_off: 50, friends_needed: 1, units_per_shopper: 1, units_cap: null, purchase_limit: 5 } } },
  });
  const sid = (await created.json()) as number;
  await pub.request.post('/api/studio/go_live', { form: { session_id: String(sid) } });
  const info = await (await pub.request.post('/api/studio/broadcast', { form: { session_id: String(sid) } })).json();

  // Publisher: a 640x360 canvas at 30 fps with the time in 48 black/white cells.
  await pub.evaluate(async ({ whip, token }) => {
    const c = document.createElement('canvas');
    c.width = 640; c.height = 360;
    document.body.appendChild(c);
    const ctx = c.getContext('2d')!;
    const draw = () => {
      const t = Date.now();
      ctx.fillStyle = '#808080'; ctx.fillRect(0, 0, 640, 360);
      for (let i = 0; i < 48; i++) {
        const bit = Math.floor(t / 2 ** i) % 2;
        ctx.fillStyle = bit ? '#fff' : '#000';
        ctx.fillRect((i % 12) * 52 + 8, Math.floor(i / 12) * 80 + 20, 48, 72);
      }
      requestAnimationFrame(draw);
    };
    draw();
    const stream = (c as any).captureStream(30) as MediaStream;
    (window as any).LiveBroadcaster.useStream(stream);
    await (window as any).LiveBroadcaster.start(whip, token, () => {});
  }, { whip: info.whip_url, token: info.token });

  // Viewer: hls.js playback; decode the bar code from the displayed frame.
  const viewerCtx = await browser.newContext({ baseURL });
  const viewer = await viewerCtx.newPage();
  await viewer.goto('/');
  const result = await viewer.evaluate(async ({ url, samples }) => {
    const v = document.createElement('video');
    v.muted = true; v.playsInline = true; v.width = 640; v.height = 360;
    document.body.appendChild(v);
    // Wait for the live (multivariant) playlist to be out.
    for (let i = 0; i < 60; i++) {
      const r = await fetch(url);
      if (r.ok && /#EXT-X-STREAM-INF|\.m4s/.test(await r.text())) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    v.autoplay = true;
    (window as any).LivePlayer.attach(v, url, true, () => {});
    for (let i = 0; i < 30 && v.currentTime === 0; i++) {
      await v.play().catch(() => {});
      await new Promise((r) => setTimeout(r, 500));
    }
    const c = document.createElement('canvas');
    c.width = 640; c.height = 360;
    const ctx = c.getContext('2d', { willReadFrequently: true })!;
    const out: number[] = [];
    const heights: number[] = []; // the rendition each sample was read from
    const start = Date.now();
    while (out.length < samples && Date.now() - start < 180_000) {
      await new Promise((r) => setTimeout(r, 500));
      if (v.readyState < 2 || v.videoWidth === 0) continue;
      ctx.drawImage(v, 0, 0, 640, 360);
      let t = 0;
      for (let i = 0; i < 48; i++) {
        const px = ctx.getImageData((i % 12) * 52 + 8 + 24, Math.floor(i / 12) * 80 + 20 + 36, 1, 1).data;
        if (px[0] > 128) t += 2 ** i;
      }
      const now = Date.now();
      const lat = now - t;
      if (lat > 0 && lat < 60_000) { out.push(lat); heights.push(v.videoHeight); }
    }
    return { out, heights };
  }, { url: info.hls_url, samples: SAMPLES });
  await pub.evaluate(() => (window as any).LiveBroadcaster.stop());
  await pub.request.post('/api/studio/end', { form: { session_id: String(sid) } });
  // Counts, not timings: every sample asked for was read (the smoke run of the test command).
  expect(result.out.length).toBeGreaterThanOrEqual(Math.min(SAMPLES, 30));
  const sorted = [...result.out].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)];
  const renditions: Record<string, number> = {};
  for (const h of result.heights) renditions[`${h}p`] = (renditions[`${h}p`] ?? 0) + 1;
  console.log(JSON.stringify({ scenario: 'glass-to-glass', path: 'WHIP -> ffmpeg fMP4 HLS ladder (1 s segments, live window) -> hls.js', samples: sorted.length,
    renditions, latency_ms: { min: sorted[0], p50: pct(0.5), p95: pct(0.95), max: sorted[sorted.length - 1] } }));
});
