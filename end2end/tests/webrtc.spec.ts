import { test, expect, type Page } from './fixtures';
import { hostWithSession, newPhone } from './helpers';
import { broadcastTimecode, installTimecodeReader, watchForCard } from './timecode';

// Live video close to the host: the studio's broadcaster sends a time-code canvas (the clock
// drawn into every frame); phones play it over WebRTC (WHEP), fall back to HLS when the node's
// WebRTC seats are taken (the suite's server has APP_WHEP_MAX_VIEWERS=3), and the product card
// waits for the picture: it appears when the frame on screen shows the moment the host
// presented it, not before (over HLS that is seconds after the event arrived).

/** The player's state on the live room's <video>. */
async function player(page: Page) {
  return page.locator('video.live-player').evaluate((v: any) => ({
    transport: v.getAttribute('data-transport'),
    fallback: v.getAttribute('data-fallback'),
    time: v.currentTime as number,
    width: v.videoWidth as number,
    clock: (window as any).LivePlayer.clock(v.livePlayerHandle) as number,
  }));
}

/** Waits until the phone's picture moves and the player knows its wall clock. */
async function playing(page: Page) {
  await expect(page.locator('video.live-player')).toBeAttached({ timeout: 45_000 });
  await expect.poll(async () => (await player(page)).time, { timeout: 45_000, intervals: [500] }).toBeGreaterThan(1);
  await expect.poll(async () => Number.isFinite((await player(page)).clock), { timeout: 20_000, intervals: [500] }).toBe(true);
}

/** Presents `productId` and returns how late the card came and the skew between the frame on
 *  screen when it appeared and the moment the host pressed (ms; negative: the card came before
 *  the picture showed that moment). */
async function presentAndWatch(page: Page, present: () => Promise<void>, productId: number) {
  await watchForCard(page, productId);
  const pressed = Date.now();
  await present();
  await expect.poll(() => page.evaluate(() => (window as any).cardSeen), { timeout: 15_000, intervals: [100] }).not.toBeNull();
  const seen = await page.evaluate(() => (window as any).cardSeen as { at: number; frame: number });
  expect(Number.isFinite(seen.frame), 'the time code reads').toBe(true);
  return { after: seen.at - pressed, skew: seen.frame - pressed };
}

test('webrtc: phones play the broadcast over WHEP, fall back to HLS at the limit, and the card waits for the picture', async ({ browser, allowConsoleErrors }, testInfo) => {
  test.skip(testInfo.project.name !== 'desktop', 'one broadcast per run is enough');
  test.setTimeout(180_000);
  // The phone refused a WebRTC seat: its browser logs the 503 before the player falls back.
  allowConsoleErrors(/status of 503/);
  const s = await hostWithSession(testInfo, 'WebRTC', [
    { name: 'Lip tint', category: 'cosmetics', price: '59.00', stock: 100 },
    { name: 'Vitamin C', category: 'health', price: '89.00', stock: 100 },
  ]);
  await s.goLive();
  const info = await (await s.host.post('/api/studio/broadcast', { form: { session_id: String(s.sessionId) } })).json();
  const studio = await (await browser.newContext({ baseURL: testInfo.project.use.baseURL })).newPage();
  await studio.goto('/studio');
  await broadcastTimecode(studio, info.whip_url, info.token);

  await test.step('a phone plays over WebRTC; the card follows the picture', async () => {
    const { context, page } = await newPhone(browser, testInfo);
    await installTimecodeReader(page);
    await page.goto(`/s/${s.sessionId}`);
    await playing(page);
    const p = await player(page);
    expect(p.transport).toBe('webrtc');
    expect(p.fallback).toBeNull();
    expect(p.width).toBe(640);
    const t1 = p.time;
    await page.waitForTimeout(1500);
    expect((await player(page)).time).toBeGreaterThan(t1);
    // The picture's clock is the server's: within a second of now (WebRTC is that close).
    expect(Math.abs(Date.now() - (await player(page)).clock)).toBeLessThan(1500);
    const { after, skew } = await presentAndWatch(page, () => s.present(s.productIds[0]), s.productIds[0]);
    console.log(JSON.stringify({ transport: 'webrtc', card_after_ms: after, skew_ms: skew }));
    expect(skew, 'the card never shows before the frame of that moment (one frame of slack)').toBeGreaterThan(-300);
    expect(after).toBeLessThan(3000);
    await context.close();
  });

  await test.step('at the node limit a phone falls back to HLS by itself', async () => {
    // Another page takes the node's three seats (a raw peer connection each).
    const holders = await browser.newContext({ baseURL: testInfo.project.use.baseURL });
    const holder = await holders.newPage();
    await holder.goto('/');
    const taken = await holder.evaluate(async (url) => {
      const statuses: number[] = [];
      (window as any).seats = [];
      for (let i = 0; i < 3; i++) {
        const pc = new RTCPeerConnection();
        pc.addTransceiver('video', { direction: 'recvonly' });
        await pc.setLocalDescription(await pc.createOffer());
        const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription!.sdp });
        statuses.push(res.status);
        if (res.status === 201) {
          (window as any).seats.push(new URL(res.headers.get('Location')!, location.href).toString());
          await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
        }
      }
      return statuses;
    }, info.whip_url.replace('/whip/', '/whep/'));
    expect(taken).toEqual([201, 201, 201]);
    const { context, page } = await newPhone(browser, testInfo);
    await page.goto(`/s/${s.sessionId}`);
    await playing(page);
    const p = await player(page);
    expect(p.transport).toBe('hls');
    expect(p.fallback).toContain('503');
    await context.close();
    // The seats go back with a DELETE each.
    const left = await holder.evaluate(async () => Promise.all(((window as any).seats as string[]).map(async (u) => (await fetch(u, { method: 'DELETE' })).status)));
    expect(left).toEqual([200, 200, 200]);
    await holders.close();
  });

  await test.step('over HLS the card is held until the picture shows the moment', async () => {
    const { context, page } = await newPhone(browser, testInfo);
    await installTimecodeReader(page);
    await page.goto(`/s/${s.sessionId}?transport=hls`);
    await playing(page);
    expect((await player(page)).transport).toBe('hls');
    const { after, skew } = await presentAndWatch(page, () => s.present(s.productIds[1]), s.productIds[1]);
    console.log(JSON.stringify({ transport: 'hls', card_after_ms: after, skew_ms: skew }));
    expect(skew, 'the card never shows before the frame of that moment').toBeGreaterThan(-300);
    // Nor long after it: the segments' program date-times are the frames' own times (a
    // timeline dated from the wrong packet put the card 1-2 s behind the picture). The slack
    // is for a busy machine's rendering; the bench measures the skew itself.
    expect(skew, 'the card comes with the frame of that moment, not seconds later').toBeLessThan(1000);
    // HLS runs seconds behind: without the hold the card would have come at once.
    expect(after).toBeGreaterThan(800);
    await context.close();
  });

  await studio.evaluate(() => (window as any).LiveBroadcaster.stop());
  await s.end();
});
