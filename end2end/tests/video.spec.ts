import { test, expect, request as pwRequest } from './fixtures';

// Live video end to end: the studio broadcasts Chromium's fake camera and microphone over WHIP,
// the server packages HLS, and a phone viewer's live room plays it (its currentTime advances).
// Its own host and session: the server is shared by every spec.

test.describe('video', () => {
  test('video: the studio broadcasts the fake camera and a phone viewer plays it', async ({ browser, page }, testInfo) => {
    test.skip(testInfo.project.name !== 'desktop', 'the studio runs on the desktop project; one broadcast per run is enough');
    test.setTimeout(120_000);
    const tag = `${Date.now()}`;
    // The host signs up and creates a session through the page's own request context (same cookies).
    const signUp = await page.request.post('/api/host/sign_up', {
      form: { display_name: 'Video Host', email: `video-${tag}@example.com`, password: 'a long password' },
    });
    expect(signUp.status(), await signUp.text()).toBe(200);
    const created = await page.request.post('/api/studio/session/create', {
      data: { form: { title: `Video ${tag}`, description: '', scheduled_start_ms: Date.now() + 3_600_000,
        policy: { percent_off: 50, friends_needed: 1, units_per_shopper: 1, units_cap: null, purchase_limit: 5 } } },
    });
    expect(created.status(), await created.text()).toBe(200);
    const sessionId = (await created.json()) as number;
    expect((await page.request.post('/api/studio/go_live', { form: { session_id: String(sessionId) } })).status()).toBe(200);

    // Studio: camera preview, then broadcast.
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`/studio/s/${sessionId}`);
    const camera = page.getByRole('region', { name: 'Camera' });
    await camera.getByRole('button', { name: 'Start camera' }).click();
    const preview = camera.getByLabel('Camera preview');
    await expect.poll(() => preview.evaluate((v: HTMLVideoElement) => v.videoWidth), { timeout: 20_000 }).toBeGreaterThan(0);
    // Device pickers list the fake devices.
    await expect(camera.getByRole('combobox', { name: 'Camera' }).locator('option')).not.toHaveCount(1);
    await camera.getByRole('button', { name: 'Start broadcasting' }).click();
    const health = camera.getByRole('status');
    await expect(health).toContainText('Broadcast: live', { timeout: 30_000 });
    await expect(health).toContainText(/\d+ kbps · \d+ fps · (H264|VP8)/i, { timeout: 15_000 });

    // A phone viewer plays it.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, baseURL: testInfo.project.use.baseURL });
    const viewer = await phone.newPage();
    await viewer.goto(`/s/${sessionId}`);
    await expect(viewer.getByRole('region', { name: 'Live room' })).toBeVisible();
    const video = viewer.getByLabel('Live video');
    await expect(video).toBeAttached({ timeout: 45_000 });
    await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 45_000, intervals: [1000] }).toBeGreaterThan(1.5);
    const t1 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
    await viewer.waitForTimeout(2000);
    expect(await video.evaluate((v: HTMLVideoElement) => v.currentTime)).toBeGreaterThan(t1);
    // A tap turns the sound on.
    await viewer.getByRole('button', { name: 'Tap to play with sound' }).click();
    await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.muted)).toBe(false);
    // The ladder: the live playlist offers the camera's own picture (up to the 720p the studio
    // asks for) with the default rungs below it (APP_MEDIA_LADDER: 480p, 240p) and one shared
    // audio rendition. On loopback the phone plays a rendition taller than 240p.
    const master = await (await page.request.get(`/hls/${sessionId}/live.m3u8`)).text();
    expect(master).toContain('RESOLUTION=426x240');
    expect(master).toContain('TYPE=AUDIO');
    expect(master.match(/#EXT-X-STREAM-INF/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
    await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.videoHeight), { timeout: 20_000 }).toBeGreaterThan(240);

    // A phone on a weak network (300 kbit/s once the page is up): the player moves down to
    // the 240p rendition on its own and keeps playing.
    const weak = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, baseURL: testInfo.project.use.baseURL });
    const slow = await weak.newPage();
    // (Over HLS: the ladder is what this checks; WebRTC sends the host's one picture.)
    await slow.goto(`/s/${sessionId}?transport=hls`);
    await expect(slow.getByRole('region', { name: 'Live room' })).toBeVisible();
    const cdp = await weak.newCDPSession(slow);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 80, downloadThroughput: 300_000 / 8, uploadThroughput: 300_000 / 8 });
    const slowVideo = slow.getByLabel('Live video');
    await expect.poll(() => slowVideo.evaluate((v: HTMLVideoElement) => v.videoHeight), { timeout: 60_000, intervals: [1000] }).toBe(240);
    const s1 = await slowVideo.evaluate((v: HTMLVideoElement) => v.currentTime);
    await expect.poll(() => slowVideo.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 20_000 }).toBeGreaterThan(s1);
    await weak.close();

    // Stop: the viewer's stream ends; after the session, the recording replays.
    await camera.getByRole('button', { name: 'Stop broadcasting' }).click();
    await expect(health).toContainText('stopped', { timeout: 10_000 });
    expect((await page.request.post('/api/studio/end', { form: { session_id: String(sessionId) } })).status()).toBe(200);
    // The recording: every rendition closed (its live playlist ended too).
    await expect.poll(async () => (await (await page.request.get(`/hls/${sessionId}/rec_source.m3u8`)).text()).endsWith('#EXT-X-ENDLIST\n'), { timeout: 15_000 }).toBe(true);
    const recording = await (await page.request.get(`/hls/${sessionId}/index.m3u8`)).text();
    expect(recording).toContain('rec_240p.m3u8');
    expect(await (await page.request.get(`/hls/${sessionId}/live_240p.m3u8`)).text()).toContain('#EXT-X-ENDLIST');
    await viewer.goto(`/s/${sessionId}`);
    await expect(viewer.getByRole('region', { name: 'Replay' })).toBeVisible();
    await phone.close();
  });
});
