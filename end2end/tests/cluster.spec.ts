import { test, expect } from './fixtures';
import { hostWithSession, newPhone } from './helpers';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// Several server nodes sharing one live room through Redis (distributed mode): this spec starts
// its own cluster with scripts/cluster.sh (a redis-server, a throwaway PostgreSQL and three
// release nodes, each on its own port) and stops it afterwards. The host works through node 1,
// one phone watches on node 2 and the other on node 3: what one does reaches the others only
// through Redis.

const root = path.resolve(__dirname, '..', '..');
const PRODUCTS = [
  { name: 'Camellia Face Oil 30ml', category: 'Cosmetics', price: '39.00', stock: 50 },
  { name: 'Goji Berry Tea', category: 'Health', price: '58.00', stock: 50 },
];
const PRICE = '¥39.00';
const HALF = '¥19.50';

let dir = '';
let nodes: string[] = [];

test.beforeAll(async ({}, testInfo) => {
  if (testInfo.project.name !== 'mobile-wechat') return; // one cluster run is enough
  testInfo.setTimeout(120_000);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-e2e-cluster-'));
  fs.rmSync(dir, { recursive: true });
  const out = execFileSync(path.join(root, 'scripts/cluster.sh'), ['start', '3', dir], {
    cwd: root,
    env: {
      ...process.env,
      SEPARATE_PORTS: '1',
      APP_DIST_DIR: path.join(root, 'dist'),
      APP_LOG: 'warn',
      APP_RATE_LIMIT_SCALE: '10',
    },
    encoding: 'utf8',
  });
  const urls = /CLUSTER_URLS=(\S+)/.exec(out);
  expect(urls, out).toBeTruthy();
  nodes = urls![1].split(',');
  expect(nodes).toHaveLength(3);
});

test.afterAll(async () => {
  if (dir) execFileSync(path.join(root, 'scripts/cluster.sh'), ['stop', dir], { cwd: root });
});

test('cluster: host on node 1, phones on nodes 2 and 3 see the product presented, chat, and buy at the right price', async ({ browser }, testInfo) => {
  test.skip(testInfo.project.name !== 'mobile-wechat', 'runs once, on the phone project');
  test.setTimeout(120_000);
  const [n1, n2, n3] = nodes;
  const { host, sessionId, productIds: ids, goLive, present, end } = await hostWithSession(testInfo, 'Cluster', PRODUCTS, {}, n1);

  // A reserves on node 2 and invites B, who joins through the invite on node 3.
  const a = await newPhone(browser, testInfo, n2);
  await a.page.goto(`/s/${sessionId}`);
  const box = a.page.getByRole('region', { name: 'Reservation' });
  await box.getByRole('button', { name: 'Reserve' }).click();
  await expect(box.getByText('✓ Reserved')).toBeVisible();
  const share = a.page.getByRole('region', { name: 'Invite friends, both get 50% off' });
  const invite = await share.getByRole('textbox', { name: 'Your invite link' }).inputValue();
  expect(invite).toMatch(/\/i\/[A-Za-z0-9_-]{16}$/);

  const b = await newPhone(browser, testInfo, n3);
  await b.page.goto(new URL(invite).pathname);
  await b.page.getByRole('button', { name: /^Join .+'s invite$/ }).click();
  await expect(b.page).toHaveURL(new RegExp(`/s/${sessionId}$`));
  await expect(b.page.getByText('✓ Reserved')).toBeVisible();
  // The friend joined on node 3; A's page on node 2 hears it.
  await expect(share.getByText('1 friend joined, discount unlocked')).toBeVisible({ timeout: 15_000 });

  // The host goes live and presents through node 1: both phones see it, each at half price.
  await goLive();
  for (const v of [a, b]) {
    await expect(v.page.getByRole('region', { name: 'Live room' })).toBeVisible({ timeout: 15_000 });
    await expect(v.page.getByText('Reconnecting…')).toBeHidden({ timeout: 15_000 });
  }
  await present(ids[0]);
  for (const v of [a, b]) {
    const card = v.page.getByRole('article', { name: 'Explaining now' });
    await expect(card).toContainText(PRODUCTS[0].name);
    await expect(card.locator('.price').first()).toHaveText(HALF);
    await expect(card.getByLabel(`was ${PRICE}`)).toHaveText(PRICE);
  }
  // The viewer count is the sum over the nodes.
  await expect(a.page.getByText(/^[2-9]\d* watching$/)).toBeVisible({ timeout: 15_000 });
  await expect(b.page.getByText(/^[2-9]\d* watching$/)).toBeVisible({ timeout: 15_000 });

  // Chat both ways across nodes.
  await a.page.getByRole('textbox', { name: 'Say something' }).fill('Hello from node 2');
  await a.page.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(b.page.getByRole('list', { name: 'Chat' })).toContainText('Hello from node 2');
  await b.page.getByRole('textbox', { name: 'Say something' }).fill('Node 3 says hi');
  await b.page.getByRole('textbox', { name: 'Say something' }).press('Enter');
  await expect(a.page.getByRole('list', { name: 'Chat' })).toContainText('Node 3 says hi');

  // Both buy the presented product at the discounted price the server charges.
  for (const v of [a, b]) {
    const card = v.page.getByRole('article', { name: 'Explaining now' });
    await card.getByRole('button', { name: `Buy ${PRODUCTS[0].name}` }).click();
    const sheet = v.page.getByRole('dialog', { name: 'Choose quantity and pay' });
    await expect(sheet).toBeVisible();
    await sheet.getByRole('button', { name: `Pay ${HALF}` }).click();
    const ok = v.page.getByRole('status').filter({ hasText: /^Order #\d+ paid: / });
    await expect(ok).toContainText(`paid: ${HALF}`);
  }

  // The host's dashboard on node 1 counts both orders; the next product reaches both phones.
  const dash = await host.get(`/api/studio/dashboard?session_id=${sessionId}`);
  expect(dash.status(), await dash.text()).toBe(200);
  const figures = await dash.json();
  expect(figures.orders).toBe(2);
  expect(figures.gmv).toBe(2 * 1950);
  expect(figures.viewers).toBeGreaterThanOrEqual(2);
  await present(ids[1]);
  for (const v of [a, b]) {
    await expect(v.page.getByRole('article', { name: 'Explaining now' })).toContainText(PRODUCTS[1].name);
  }

  await end();
  for (const v of [a, b]) await v.context.close();
  await host.dispose();
});

test('cluster: a phone on node 2 plays the video that node 1 ingests, with no files shared', async ({ browser }, testInfo) => {
  test.skip(testInfo.project.name !== 'mobile-wechat', 'runs once, on the phone project');
  test.setTimeout(120_000);
  const [n1, n2] = nodes;
  // The studio on node 1 broadcasts a drawn canvas with its own broadcaster (public/broadcaster.js).
  const studio = await browser.newContext({ baseURL: n1, viewport: { width: 1280, height: 900 } });
  const pub = await studio.newPage();
  await pub.goto('/studio');
  await pub.waitForFunction(() => (window as any).LiveBroadcaster !== undefined);
  const tag = `${Date.now()}`;
  expect((await pub.request.post('/api/host/sign_up', { form: { display_name: 'Cluster Video', email: `cluster-video-${tag}@example.com`, password: 'a long password' } })).status()).toBe(200);
  const created = await pub.request.post('/api/studio/session/create', {
    data: { form: { title: `Cluster video ${tag}`, description: '', scheduled_start_ms: Date.now() + 3_600_000,
      policy: { percent_off: 50, friends_needed: 1, units_per_shopper: 1, units_cap: null, purchase_limit: 5 } } },
  });
  const sessionId = (await created.json()) as number;
  expect((await pub.request.post('/api/studio/go_live', { form: { session_id: String(sessionId) } })).status()).toBe(200);
  const info = await (await pub.request.post('/api/studio/broadcast', { form: { session_id: String(sessionId) } })).json();
  expect(info.whip_url).toBe(`${n1}/whip/${sessionId}`);
  await pub.evaluate(async ({ whip, token }) => {
    const c = document.createElement('canvas');
    c.width = 640; c.height = 360;
    document.body.appendChild(c);
    const ctx = c.getContext('2d')!;
    const draw = () => {
      const t = Date.now() / 1000;
      ctx.fillStyle = '#334'; ctx.fillRect(0, 0, 640, 360);
      ctx.fillStyle = '#fc6'; ctx.fillRect(300 + 200 * Math.sin(t), 140, 60, 80);
      requestAnimationFrame(draw);
    };
    draw();
    (window as any).LiveBroadcaster.useStream((c as any).captureStream(30));
    await (window as any).LiveBroadcaster.start(whip, token, () => {});
  }, { whip: info.whip_url, token: info.token });

  // A phone on node 2 over HLS: the live room plays the ladder node 2 fetches from node 1.
  const phone = await newPhone(browser, testInfo, n2);
  await phone.page.goto(`/s/${sessionId}?transport=hls`);
  const video = phone.page.getByLabel('Live video');
  await expect(video).toBeAttached({ timeout: 45_000 });
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 45_000, intervals: [1000] }).toBeGreaterThan(1.5);
  const t1 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 15_000 }).toBeGreaterThan(t1);
  // Node 2 has no file of it: what it served came from node 1 (its origin shield's counter).
  expect(fs.existsSync(path.join(dir, 'media-2', String(sessionId)))).toBe(false);
  const metrics = await (await phone.page.request.get(`${n2}/metrics`)).text();
  expect(Number(/^live_hls_origin_fetches_total (\d+)$/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
  await phone.context.close();
  // A phone on node 2 over WebRTC: node 2 relays node 1's feed (one stream for its viewers).
  const rtc = await newPhone(browser, testInfo, n2);
  await rtc.page.goto(`/s/${sessionId}`);
  const rtcVideo = rtc.page.getByLabel('Live video');
  await expect(rtcVideo).toBeAttached({ timeout: 45_000 });
  await expect.poll(() => rtcVideo.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 45_000, intervals: [1000] }).toBeGreaterThan(1);
  expect(await rtcVideo.evaluate((v) => v.getAttribute('data-transport'))).toBe('webrtc');
  const relayed = await (await rtc.page.request.get(`${n2}/metrics`)).text();
  expect(relayed).toMatch(/^live_whep_relays_total 1$/m);
  await rtc.context.close();

  await pub.evaluate(() => (window as any).LiveBroadcaster.stop());
  expect((await pub.request.post('/api/studio/end', { form: { session_id: String(sessionId) } })).status()).toBe(200);
  await studio.close();
});
