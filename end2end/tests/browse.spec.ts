import { test, expect } from './fixtures';
import { appReady } from './helpers';

// Foundation: the list and the session page render from the database in the Wasm client.

test('home lists the demo session from the database', async ({ page }) => {
  await page.goto('/');
  const card = page.getByRole('link', { name: /Xiaoxiaobao Mama live/ });
  await expect(card).toBeVisible();
  await expect(card).toContainText('Sun Jing');
  await expect(card).toContainText('16 products');
  await expect(card).toContainText('Upcoming');
});

test('opening the demo session shows its 16 products with prices', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('link', { name: /Xiaoxiaobao Mama live/ }).click();
  await expect(page).toHaveURL(/\/s\/\d+$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Xiaoxiaobao Mama live' })).toBeVisible();
  await expect(page.getByText('Host:')).toContainText('Sun Jing');
  const products = page.getByRole('list').filter({ has: page.locator('.product') }).locator('.product');
  await expect(products).toHaveCount(16);
  await expect(page.getByRole('heading', { name: 'Products (16)' })).toBeVisible();
  const toner = products.filter({ hasText: 'Hydrating Rose Toner 200ml' });
  await expect(toner).toContainText('¥129.00');
  await expect(products.filter({ hasText: 'Organic Cotton Baby Wipes' })).toContainText('¥49.90');
  // The start time is rendered by the browser, in a machine-readable <time> element too.
  await appReady(page);
  await expect(page.locator('.session-start time')).toHaveAttribute('datetime', /^\d{4}-\d{2}-\d{2}T/);
});

test('a session time is shown in the session\'s zone, named, with the viewer\'s own beside it', async ({ browser }, testInfo) => {
  test.skip(testInfo.project.name !== 'desktop', 'contexts of their own: one project is enough');
  const baseURL = testInfo.project.use.baseURL!;
  // A viewer in Rome: the demo session (Asia/Shanghai) in Beijing time, and in Rome time.
  const rome = await browser.newContext({ baseURL, timezoneId: 'Europe/Rome', locale: 'en-US' });
  const page = await rome.newPage();
  await page.goto('/');
  await page.getByRole('link', { name: /Xiaoxiaobao Mama live/ }).click();
  await expect(page).toHaveURL(/\/s\/\d+$/);
  await appReady(page);
  const start = page.locator('.session-start');
  await expect(start.locator('.session-time')).toContainText(/, \d\d:\d\d \(UTC\+08:00 Asia\/Shanghai\)$/);
  await expect(start.locator('.your-time')).toContainText(/\d\d:\d\d UTC\+0[12]:00, your time/);
  const url = page.url();
  await rome.close();
  // A viewer in Shanghai: one time, the session's.
  const shanghai = await browser.newContext({ baseURL, timezoneId: 'Asia/Shanghai', locale: 'en-US' });
  const p2 = await shanghai.newPage();
  await p2.goto(url);
  await appReady(p2);
  await expect(p2.locator('.session-start .session-time')).toContainText('(UTC+08:00 Asia/Shanghai)');
  await expect(p2.locator('.session-start .your-time')).toHaveCount(0);
  await shanghai.close();
});

test('an unknown session id shows a not-found page', async ({ page, allowConsoleErrors }) => {
  allowConsoleErrors(/status of 404/); // the session lookup answers 404, as it should
  await page.goto('/s/987654321');
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
  await expect(page.getByText('This live session does not exist.')).toBeVisible();
  await page.getByRole('link', { name: 'See live and upcoming sessions' }).click();
  await expect(page).toHaveURL(/\/$/);
});

test('a malformed session id and an unknown route also show not found', async ({ page, allowConsoleErrors }) => {
  allowConsoleErrors(/status of 404/);
  await page.goto('/s/not-a-number');
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
  await page.goto('/no/such/page');
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
});

test('the page is served with security headers and a hashed, cached client', async ({ request }) => {
  const res = await request.get('/');
  expect(res.status()).toBe(200);
  expect(res.headers()['content-security-policy']).toContain("frame-ancestors 'self'");
  expect(res.headers()['cache-control']).toBe('no-cache');
  const html = await res.text();
  const wasm = html.match(/\/app-[0-9a-f]{12,16}_bg\.wasm/);
  expect(wasm).not.toBeNull();
  const w = await request.get(wasm![0], { headers: { 'accept-encoding': 'br' } });
  expect(w.headers()['cache-control']).toContain('immutable');
  expect(w.headers()['content-encoding']).toBe('br');
});

test('a failed request shows a readable error and recovers on retry', async ({ page, allowConsoleErrors }) => {
  allowConsoleErrors(/ERR_INTERNET_DISCONNECTED/); // the request the test aborts
  let fail = true;
  await page.route('**/api/sessions/list', (route) => (fail ? route.abort('internetdisconnected') : route.continue()));
  await page.goto('/');
  const alert = page.getByRole('alert');
  await expect(alert).toContainText("Can't reach the server");
  fail = false;
  await alert.getByRole('button', { name: 'Try again' }).click();
  await expect(page.getByRole('link', { name: /Xiaoxiaobao Mama live/ })).toBeVisible();
});

test('without WebAssembly the page says so plainly', async ({ page, allowPageErrors }) => {
  // Trunk's loader throws when it finds no WebAssembly: the environment the test simulates.
  allowPageErrors(/WebAssembly is not defined/);
  await page.addInitScript(() => {
    // @ts-ignore: simulate a webview without WebAssembly
    delete (window as any).WebAssembly;
  });
  await page.goto('/');
  await expect(page.getByRole('alert')).toContainText('WebAssembly is not available');
});

test('when the page\'s texts cannot be fetched it says so instead of starting blank', async ({ page, allowConsoleErrors }) => {
  allowConsoleErrors(/Failed to load resource|net::ERR_FAILED/);
  await page.route('**/i18n/**', (route) => route.abort());
  await page.goto('/orders');
  await expect(page.getByRole('alert')).toContainText('taking longer than usual');
  await expect(page.locator('#app')).toBeEmpty();
});
