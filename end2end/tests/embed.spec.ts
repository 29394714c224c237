import { test, expect } from './fixtures';
import { hostWithSession } from './helpers';
import * as fs from 'node:fs';
import * as path from 'node:path';

// The embeddable live room: a page on another site (the demo shop, served from `localhost`
// while the room is on `127.0.0.1`: another site to the browser) embeds the room with
// `public/embed.js`, receives what the host presents and answers the room's "Add to cart"
// with its own cart; a site not on the host's list cannot frame the room, and the room ignores
// messages from anywhere but the page around it.

const PRODUCTS = [
  { name: 'Jasmine Tea Tin 100g', category: 'Food', price: '58.00', stock: 20 },
  { name: 'Silk Sleep Mask', category: 'Home', price: '99.00', stock: 20 },
];

test('embed', async ({ browser, allowConsoleErrors }, testInfo) => {
  test.skip(testInfo.project.name !== 'desktop', 'another site embedding the room: one project is enough');
  const room = new URL(testInfo.project.use.baseURL!);
  const shop = `http://localhost:${room.port}`;
  // A third site, not on the list: the second app of the suite, also on localhost.
  const stranger = `http://localhost:${Number(room.port) + 1}`;
  // Chromium reports the frame it refused to show.
  allowConsoleErrors(/Framing '.*' violates the following Content Security Policy directive: "frame-ancestors/);

  const { host, sessionId, productIds, goLive, present, end } = await hostWithSession(testInfo, 'Embed', PRODUCTS);
  const added = await host.post('/api/studio/embed/add', { form: { origin: shop } });
  expect(added.status(), await added.text()).toBe(200);
  expect(await added.json()).toEqual([shop]);
  await goLive();

  const context = await browser.newContext();
  const page = await context.newPage();
  const demo = (site: string) => `${site}/public/embed-demo.html?room=${encodeURIComponent(room.origin)}&session=${sessionId}`;
  await page.goto(demo(shop));
  const log = page.locator('#log');
  await expect(log.locator('li[data-event="ready"]')).toHaveCount(1);
  await expect(log.locator('li[data-event="ready"]')).toContainText('"status":"live"');
  await expect(log.locator('li[data-event="ready"]')).toContainText('addToCart');
  await expect(page.locator('#state')).toHaveText('live');
  await expect(log.locator('li[data-event="viewers"]').first()).toBeVisible();

  // The host presents a product: the shop hears of it, with its public price.
  await present(productIds[0]);
  await expect(page.locator('#presented')).toHaveText(PRODUCTS[0].name);
  const presented = log.locator('li[data-event="productPresented"]').last();
  await expect(presented).toContainText(`"productId":${productIds[0]}`);
  await expect(presented).toContainText('"price":5800');
  await expect(presented).toContainText('"currency":"CNY"');

  // "Add to cart" in the room goes to the shop's own cart, which accepts it...
  const frame = page.frameLocator('#room iframe');
  await expect(frame.getByRole('article', { name: 'Explaining now' })).toContainText(PRODUCTS[0].name);
  await frame.getByRole('button', { name: 'Add to cart' }).click();
  await expect(frame.getByRole('status').filter({ hasText: 'Added to your cart' })).toContainText(PRODUCTS[0].name);
  await expect(page.locator('#cart')).toContainText(PRODUCTS[0].name);
  // ...or refuses it with its reason.
  await page.getByLabel('Refuse every item').check();
  await present(productIds[1]);
  await expect(page.locator('#presented')).toHaveText(PRODUCTS[1].name);
  await frame.getByRole('button', { name: 'Add to cart' }).click();
  await expect(frame.getByRole('status').filter({ hasText: 'Not added' })).toContainText('out of stock');
  await expect(page.locator('#cart')).not.toContainText(PRODUCTS[1].name);
  // Buying with us opens the room as a top-level page (no cookie of ours in a frame).
  await expect(frame.getByRole('link', { name: 'Buy in the live room' })).toHaveAttribute('href', `${room.origin}/s/${sessionId}`);
  await expect(frame.getByRole('link', { name: 'Buy in the live room' })).toHaveAttribute('target', '_blank');

  // Commands from the shop: answered, and acted on (a new language reloads the room in it).
  await page.getByRole('button', { name: '中文' }).click();
  await expect(log.locator('li[data-event="reply:setLocale"]')).toContainText('"ok":true');
  const roomFrame = page.frames().find((f) => f.url().startsWith(`${room.origin}/embed/`))!;
  expect(roomFrame).toBeTruthy();
  // The room reloads to change language: asked mid-navigation, it has no answer yet.
  const roomLang = () => roomFrame.evaluate(() => document.documentElement.lang).catch(() => '');
  await expect.poll(() => roomLang()).toBe('zh-CN');
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(log.locator('li[data-event="reply:pause"]')).toContainText('"ok":false');

  // Messages that do not come from the page around the room, or not from its origin, are
  // ignored; the same message from the shop is obeyed.
  const command = (locale: string) => ({ ls: 1, kind: 'command', name: 'setLocale', data: { locale } });
  await roomFrame.evaluate((msg) => {
    window.dispatchEvent(new MessageEvent('message', { data: msg, origin: 'http://evil.example', source: window.parent }));
    window.dispatchEvent(new MessageEvent('message', { data: msg, origin: 'http://localhost:1', source: window.parent }));
  }, command('it'));
  await roomFrame.evaluate(({ msg, shop }) => {
    window.dispatchEvent(new MessageEvent('message', { data: msg, origin: shop, source: window }));
    window.dispatchEvent(new MessageEvent('message', { data: { ...msg, ls: 2 }, origin: shop, source: window.parent }));
  }, { msg: command('it'), shop });
  await page.waitForTimeout(300);
  expect(await roomFrame.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
  await roomFrame.evaluate(({ msg, shop }) => {
    window.dispatchEvent(new MessageEvent('message', { data: msg, origin: shop, source: window.parent }));
  }, { msg: command('it'), shop });
  await expect.poll(() => roomLang()).toBe('it');

  // The session ends: the shop hears it.
  await end();
  await expect(page.locator('#state')).toHaveText('ended');
  // The room now speaks Italian (setLocale reloaded it with its texts).
  const italian = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../core/locales/it/live.json'), 'utf8'));
  await expect(frame.getByText(italian.embed_ended_text)).toBeVisible();

  // A site not on the host's list cannot frame the room: the browser refuses it, the room
  // never says ready.
  const other = await context.newPage();
  await other.goto(demo(stranger));
  await other.waitForTimeout(2000);
  await expect(other.locator('#log li')).toHaveCount(0);
  const strangerFrame = other.frames().find((f) => f.url().startsWith(`${room.origin}/embed/`));
  if (strangerFrame) {
    expect(await strangerFrame.locator('.embed-room').count()).toBe(0);
  }
  await context.close();
  await host.dispose();
});
