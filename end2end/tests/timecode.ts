import type { Page } from '@playwright/test';

// The time-code broadcast shared by the card-sync test and the glass-to-glass bench: a
// publisher page draws the current time as a 48-bit bar code on a 640x360 canvas at 30 fps and
// broadcasts the canvas with the studio's own broadcaster.js (WHIP); a viewer page decodes the
// bar code from the frame its <video> shows. Both pages run in one browser on one machine, so
// they read the same clock as the server.

/** Starts broadcasting the time code from `page` (a page of ours: it must have loaded
 *  `/studio`, whose bundle carries LiveBroadcaster). */
export async function broadcastTimecode(page: Page, whipUrl: string, token: string): Promise<void> {
  await page.waitForFunction(() => (window as any).LiveBroadcaster !== undefined);
  await page.evaluate(async ({ whip, token }) => {
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
  }, { whip: whipUrl, token });
}

/** Defines `window.readTimecode(video)` in `page` (from now on, and after navigations): the
 *  time (ms) drawn in the frame `video` shows, or NaN when there is no picture or the bar code
 *  does not read as a time near now. */
export async function installTimecodeReader(page: Page): Promise<void> {
  const define = () => {
    const canvas = document.createElement('canvas');
    canvas.width = 640; canvas.height = 360;
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    (window as any).readTimecode = (v: HTMLVideoElement): number => {
      if (!v || v.readyState < 2 || v.videoWidth === 0) return NaN;
      ctx.drawImage(v, 0, 0, 640, 360);
      let t = 0;
      for (let i = 0; i < 48; i++) {
        const px = ctx.getImageData((i % 12) * 52 + 8 + 24, Math.floor(i / 12) * 80 + 20 + 36, 1, 1).data;
        if (px[0] > 128) t += 2 ** i;
      }
      const age = Date.now() - t;
      return age > -1000 && age < 60_000 ? t : NaN;
    };
  };
  await page.addInitScript(define);
  await page.evaluate(define).catch(() => {});
}

/** Watches `page` for the product card of `productId`: when it appears, records the time and
 *  the time code of the frame on screen in `window.cardSeen`. */
export async function watchForCard(page: Page, productId: number): Promise<void> {
  await page.evaluate((id) => {
    (window as any).cardSeen = null;
    const look = () => {
      if ((window as any).cardSeen) return;
      if (document.querySelector(`.explaining-card[data-product-id="${id}"]`)) {
        const v = document.querySelector('video.live-player') as HTMLVideoElement;
        (window as any).cardSeen = { at: Date.now(), frame: (window as any).readTimecode(v) };
        observer.disconnect();
      }
    };
    const observer = new MutationObserver(look);
    observer.observe(document.body, { subtree: true, childList: true });
    look();
  }, productId);
}
