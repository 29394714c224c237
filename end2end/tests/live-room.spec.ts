import { test, expect } from './fixtures';
import { hostWithSession, newPhone } from './helpers';
import * as net from 'node:net';

// The live room end to end: two viewers watch a live session, see the host present products
// and each other's chat messages in real time; a viewer whose connection drops shows that it is
// reconnecting, recovers, and shows the product presented while it was away.
//
// The server is shared by every spec and both projects: this test makes its own host and
// session through the studio's API and never touches the demo session.

const PRODUCTS = [
  { name: 'Peach Lip Balm', category: 'Cosmetics', price: '39.00', stock: 100 },
  { name: 'Oat Baby Lotion 200ml', category: 'Baby care', price: '79.90', stock: 100 },
];

/**
 * A TCP proxy in front of the server: a real network path that the test can cut (every open
 * connection is reset and new ones are refused) and restore.
 */
async function flakyProxy(target: URL): Promise<{ url: string; cut: () => void; restore: () => void; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => {
      down = true;
      for (const s of sockets) s.resetAndDestroy();
    },
    restore: () => {
      down = false;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

test('live room: viewers see presenting and each other\'s chat, and recover after a dropped connection', async ({ browser, allowConsoleErrors }, testInfo) => {
  // Cutting B's network path makes Chromium log the failed event-stream requests.
  allowConsoleErrors(/net::ERR_CONNECTION_(RESET|REFUSED)/);
  const baseURL = testInfo.project.use.baseURL!;
  const { host, sessionId, productIds: ids, goLive, present, end } = await hostWithSession(testInfo, 'Live room', PRODUCTS);
  await goLive();

  const a = await newPhone(browser, testInfo);
  // B reaches the server through a network path the test can cut.
  const proxy = await flakyProxy(new URL(baseURL));
  const b = await newPhone(browser, testInfo, proxy.url);
  for (const v of [a, b]) {
    await v.page.goto(`/s/${sessionId}`);
    await expect(v.page.getByRole('region', { name: 'Live room' })).toBeVisible();
    await expect(v.page.getByText('Reconnecting…')).toBeHidden({ timeout: 15_000 });
  }

  // The host presents product 1: both viewers' explaining-now cards show it.
  await present(ids[0]);
  for (const v of [a, b]) {
    const card = v.page.getByRole('article', { name: 'Explaining now' });
    await expect(card).toContainText(PRODUCTS[0].name);
    await expect(card).toContainText('¥39.00');
    await expect(card.getByRole('button', { name: `Buy ${PRODUCTS[0].name}` })).toBeVisible();
  }

  // Chat both ways, rendered as text.
  await a.page.getByRole('textbox', { name: 'Say something' }).fill('Hello from A <b>bold?</b>');
  await a.page.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(b.page.getByRole('list', { name: 'Chat' })).toContainText('Hello from A <b>bold?</b>');
  await expect(b.page.locator('.live-chat b')).toHaveCount(0);
  await b.page.getByRole('textbox', { name: 'Say something' }).fill('Hi A, B here');
  await b.page.getByRole('textbox', { name: 'Say something' }).press('Enter');
  await expect(a.page.getByRole('list', { name: 'Chat' })).toContainText('Hi A, B here');

  // Viewer count and hearts.
  await expect(a.page.getByText(/^[2-9]\d* watching$/)).toBeVisible();
  await a.page.getByRole('button', { name: 'Send a heart' }).click();
  await expect(b.page.locator('.like-count')).not.toHaveText('0', { timeout: 10_000 });

  // B's network drops; meanwhile the host presents product 2.
  proxy.cut();
  await expect(b.page.getByText('Reconnecting…')).toBeVisible({ timeout: 45_000 });
  await present(ids[1]);
  await expect(a.page.getByRole('article', { name: 'Explaining now' })).toContainText(PRODUCTS[1].name);
  await expect(b.page.getByRole('article', { name: 'Explaining now' })).toContainText(PRODUCTS[0].name);
  proxy.restore();
  await expect(b.page.getByText('Reconnecting…')).toBeHidden({ timeout: 45_000 });
  await expect(b.page.getByRole('article', { name: 'Explaining now' })).toContainText(PRODUCTS[1].name);
  await expect(b.page.getByRole('article', { name: 'Explaining now' })).toContainText('¥79.90');

  await end();
  await a.context.close();
  await b.context.close();
  await proxy.close();
  await host.dispose();
});
