import {
  test,
  expect,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type Page,
  type TestInfo,
} from './fixtures';

// The shopper flow end to end, on the WeChat phone viewport: reserve before the session,
// invite a friend (link and poster), the host goes live and presents a product, the inviter
// and the friend buy at 50% off, a shopper who came without an invite pays full price, and
// "My orders" shows what each one paid. Every price and state comes from the server.

const HOST_EMAIL = 'sunjing@demo.live';
const HOST_PASSWORD = 'xiaoxiaobao-demo';
const TITLE = 'Xiaoxiaobao Mama live';
const PRODUCT = 'Hydrating Rose Toner 200ml';
const PRICE = '¥129.00';
const HALF = '¥64.50';
const INVITER_NAME = 'Xiaomei';

/** A new shopper: a browser context with the project's device settings and its own cookies. */
async function newShopper(browser: Browser, testInfo: TestInfo): Promise<{ context: BrowserContext; page: Page }> {
  const { viewport, deviceScaleFactor, isMobile, hasTouch, userAgent, locale, baseURL, storageState } = testInfo.project.use;
  const context = await browser.newContext({ viewport, deviceScaleFactor, isMobile, hasTouch, userAgent, locale, baseURL, storageState });
  return { context, page: await context.newPage() };
}

type SessionJson = { id: number; status: 'scheduled' | 'live' | 'ended'; products: { id: number; name: string }[] };

async function getSession(request: APIRequestContext, id: number): Promise<SessionJson> {
  const res = await request.get(`/api/sessions/get?id=${id}`);
  expect(res.status()).toBe(200);
  return res.json();
}

/**
 * The session page's next refresh of the viewer state: every 4 s before the session, and while
 * live whenever the room's event stream says something changed (there may be none for a while,
 * so waiting ends quietly after a few seconds).
 */
function nextPoll(page: Page) {
  return page
    .waitForResponse((r) => r.url().includes('/api/sessions/viewer') && r.ok(), { timeout: 6_000 })
    .catch(() => undefined);
}

/** Buys one unit of the product on a live session page; checks the confirmation shows `paid`. */
async function buyOne(page: Page, paid: string, note: string) {
  const product = page.locator('li.product').filter({ has: page.getByRole('heading', { name: PRODUCT }) });
  await product.getByRole('button', { name: `Buy ${PRODUCT}` }).click();
  const sheet = page.getByRole('dialog', { name: 'Choose quantity and pay' });
  await expect(sheet).toBeVisible();
  await expect(sheet.getByRole('heading', { name: PRODUCT })).toBeVisible();
  await expect(sheet).toContainText(note);
  // The quantity stepper: 1 to the purchase limit.
  const qty = sheet.getByLabel('Quantity');
  await expect(qty).toHaveText('1');
  await expect(sheet.getByRole('button', { name: 'Fewer' })).toBeDisabled();
  await sheet.getByRole('button', { name: 'More' }).click();
  await expect(qty).toHaveText('2');
  await sheet.getByRole('button', { name: 'Fewer' }).click();
  await expect(qty).toHaveText('1');
  // The page keeps polling; an open sheet must survive a refresh.
  await nextPoll(page);
  await expect(sheet).toBeVisible();
  await expect(qty).toHaveText('1');
  // Pay shows the total the order will charge.
  await sheet.getByRole('button', { name: `Pay ${paid}` }).click();
  const ok = page.getByRole('status').filter({ hasText: /^Order #\d+ paid: / });
  await expect(ok).toContainText(`paid: ${paid}`);
  await expect(sheet).toBeHidden();
  await expect(product.getByText('You bought 1')).toBeVisible();
  // The confirmation stays after the refresh that follows the payment and the next poll.
  await nextPoll(page);
  await expect(ok).toContainText(`paid: ${paid}`);
  await expect(ok.getByRole('link', { name: 'My orders' })).toHaveAttribute('href', /^\/orders#order-\d+$/);
  await ok.getByRole('button', { name: 'Dismiss' }).click();
  await expect(ok).toBeHidden();
}

/** "My orders": the order for the product, with what was paid and the discount line. */
async function expectOrder(page: Page, paid: string, discount: string, rule: RegExp) {
  await page.goto('/orders');
  await expect(page.getByRole('heading', { level: 1, name: 'My orders' })).toBeVisible();
  const order = page.locator('li.order').filter({ hasText: `${PRODUCT} × 1` });
  await expect(order).toHaveCount(1);
  await expect(order).toContainText(TITLE);
  await expect(order.locator('.order-full')).toHaveText(PRICE);
  await expect(order.locator('.order-discount')).toHaveText(discount);
  await expect(order.locator('.order-paid')).toHaveText(paid);
  await expect(order.locator('.order-line')).toContainText(rule);
  return order;
}

test('shopper flow: reserve, invite a friend, both buy at 50% off, a stranger pays full price', async ({
  browser,
  request,
}, testInfo) => {
  // Runs on the WeChat project only: the issue targets WeChat's in-app browser (390x844), and
  // both projects share one server and database per run. The flow takes the demo session live
  // for good, so running it under `desktop` too would make the session live before the
  // `mobile-wechat` run of browse.spec.ts, which expects it upcoming. (The flow itself copes
  // with a session that is already live: `--repeat-each 2` runs both branches.)
  test.skip(testInfo.project.name !== 'mobile-wechat', 'the shopper flow runs on the WeChat phone viewport');
  test.setTimeout(120_000);

  const a = await newShopper(browser, testInfo);
  const b = await newShopper(browser, testInfo);
  const c = await newShopper(browser, testInfo);
  const d = await newShopper(browser, testInfo);

  // --- A finds the session from the home page.
  await a.page.goto('/');
  const card = a.page.getByRole('link', { name: new RegExp(TITLE) });
  const href = await card.getAttribute('href');
  const sessionId = Number(href!.match(/^\/s\/(\d+)$/)![1]);
  await card.click();
  await expect(a.page).toHaveURL(new RegExp(`/s/${sessionId}$`));
  await expect(a.page.getByRole('heading', { level: 1, name: TITLE })).toBeVisible();

  const before = await getSession(request, sessionId);
  const product = before.products.find((p) => p.name === PRODUCT);
  expect(product, `${PRODUCT} is in the demo session`).toBeTruthy();

  // --- Before reserving (once the viewer's state has loaded): no share panel, only the hint.
  const sharePanel = a.page.getByRole('region', { name: 'Invite friends, both get 50% off' });
  await expect(a.page.getByRole('button', { name: before.status === 'scheduled' ? 'Reserve' : 'Join' })).toBeVisible();
  await expect(a.page.getByText(/^Reserve to invite friends/)).toBeVisible();
  await expect(sharePanel).toHaveCount(0);

  if (before.status === 'scheduled') {
    // Countdown, Reserve, reservation count, calendar link.
    const box = a.page.getByRole('region', { name: 'Reservation' });
    await expect(box.getByRole('timer')).toContainText(/Starts in \d/);
    const count = box.getByText(/^\d+ reservations?$/);
    await expect(count).toBeVisible();
    const n = Number((await count.textContent())!.match(/^\d+/)![0]);
    const calendar = box.getByRole('link', { name: 'Add to calendar' });
    await expect(calendar).toHaveAttribute('href', /\/calendar\.ics$/);
    const ics = await request.get((await calendar.getAttribute('href'))!);
    expect(ics.status()).toBe(200);
    expect(ics.headers()['content-type']).toContain('text/calendar');
    expect(await ics.text()).toContain('BEGIN:VCALENDAR');
    await box.getByRole('button', { name: 'Reserve' }).click();
    await expect(box.getByText('✓ Reserved')).toBeVisible();
    await expect(box.getByRole('button', { name: 'Reserve' })).toHaveCount(0);
    await expect(count).toHaveText(n + 1 === 1 ? '1 reservation' : `${n + 1} reservations`);
  } else {
    // Already live (the flow ran before against this server): reserving is "Join".
    expect(before.status).toBe('live');
    await a.page.getByRole('button', { name: 'Join' }).click();
    await expect(a.page.getByRole('button', { name: 'Join' })).toHaveCount(0);
  }

  // --- The share panel: personal link, poster, name on invites.
  await expect(sharePanel).toBeVisible();
  await expect(a.page.getByText(/^Reserve to invite friends/)).toHaveCount(0);
  await expect(sharePanel.getByText('No friends joined yet.')).toBeVisible();
  const linkInput = sharePanel.getByRole('textbox', { name: 'Your invite link' });
  await expect(linkInput).toHaveValue(/\/i\/[A-Za-z0-9_-]{16}$/);
  const inviteUrl = await linkInput.inputValue();
  const inviteCode = inviteUrl.match(/\/i\/([A-Za-z0-9_-]{16})$/)![1];

  // Inside WeChat (this project's user agent) Share explains WeChat's ··· menu, and the
  // address shown meanwhile (what that menu shares) is the invite's.
  const sessionPath = new URL(a.page.url()).pathname;
  await sharePanel.getByRole('button', { name: 'Share', exact: true }).click();
  const hint = a.page.getByRole('dialog', { name: 'Share in WeChat' });
  await expect(hint).toContainText('Tap ··· at the top right');
  await expect(a.page).toHaveURL(new RegExp(`/i/${inviteCode}$`));
  await hint.getByRole('button', { name: 'Got it' }).click();
  await expect(hint).toHaveCount(0);
  expect(new URL(a.page.url()).pathname).toBe(sessionPath);

  await sharePanel.getByRole('textbox', { name: 'Your name on invites' }).fill(INVITER_NAME);
  await sharePanel.getByRole('button', { name: 'Save name' }).click();
  await expect(sharePanel.getByRole('status')).toHaveText(`Saved. Friends will see "${INVITER_NAME}".`);

  await sharePanel.getByRole('button', { name: 'Create poster' }).click();
  const poster = sharePanel.getByRole('img', { name: 'Invite poster with a QR code of your link' });
  await expect(poster).toBeVisible();
  await expect
    .poll(() => poster.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 15_000 })
    .toBeGreaterThan(0);
  // The poster (and the saved-name message) stay while the page polls.
  await nextPoll(a.page);
  await expect(poster).toBeVisible();
  await expect(sharePanel.getByRole('status')).toHaveText(`Saved. Friends will see "${INVITER_NAME}".`);
  const download = sharePanel.getByRole('link', { name: 'Download poster' });
  await expect(download).toHaveAttribute('href', `/i/${inviteCode}/poster.png`);
  const png = await request.get(`/i/${inviteCode}/poster.png`);
  expect(png.status()).toBe(200);
  expect(png.headers()['content-type']).toBe('image/png');
  expect((await png.body()).subarray(1, 4).toString('latin1')).toBe('PNG');

  // --- B opens A's invite and joins with one tap; A's page sees the friend (it polls).
  await b.page.goto(new URL(inviteUrl).pathname);
  await expect(b.page.getByText(`${INVITER_NAME} invites you`)).toBeVisible();
  await expect(b.page.getByRole('heading', { level: 1, name: TITLE })).toBeVisible();
  await expect(b.page.getByText('you both get 50% off')).toBeVisible();
  await b.page.getByRole('button', { name: `Join ${INVITER_NAME}'s invite` }).click();
  await expect(b.page).toHaveURL(new RegExp(`/s/${sessionId}$`));
  await expect(b.page.getByRole('heading', { level: 1, name: TITLE })).toBeVisible();
  await expect(b.page.getByRole('region', { name: 'Invite friends, both get 50% off' })).toBeVisible();
  if (before.status === 'scheduled') {
    await expect(b.page.getByText('✓ Reserved')).toBeVisible();
  } else {
    await expect(b.page.getByRole('button', { name: 'Join' })).toHaveCount(0);
  }

  await expect(sharePanel.getByText('1 friend joined, discount unlocked')).toBeVisible({ timeout: 15_000 });

  // --- The host goes live and presents the product (no studio UI yet: its HTTP API).
  const signIn = await request.post('/api/host/sign_in', { form: { email: HOST_EMAIL, password: HOST_PASSWORD } });
  expect(signIn.status(), await signIn.text()).toBe(200);
  const goLive = await request.post('/api/studio/go_live', { form: { session_id: String(sessionId) } });
  expect([200, 409], await goLive.text()).toContain(goLive.status());
  const present = await request.post('/api/studio/present', { form: { product_id: String(product!.id) } });
  expect(present.status(), await present.text()).toBe(200);
  expect((await getSession(request, sessionId)).status).toBe('live');

  // --- A and B see the live room (by polling) and buy at half price.
  for (const [who, shopper] of [
    ['A', a],
    ['B', b],
  ] as const) {
    const page = shopper.page;
    await expect(page.getByText('Happening now', { exact: false }), `${who} sees the session live`).toBeVisible({
      timeout: 15_000,
    });
    await expect(page.getByText(/^50% off: /)).toBeVisible();
    const row = page.locator('li.product').filter({ has: page.getByRole('heading', { name: PRODUCT }) });
    await expect(row.getByText('Explaining now')).toBeVisible();
    await expect(row.locator('.badge-discount')).toHaveText('50% off');
    await expect(row.locator('.price').first()).toHaveText(HALF);
    await expect(row.getByLabel(`was ${PRICE}`)).toHaveText(PRICE);
    await buyOne(page, HALF, `1 at ${HALF} (${HALF} off), more at ${PRICE} each`);
  }

  // --- C came without an invite: joins, sees no discount, pays full price.
  await c.page.goto(`/s/${sessionId}`);
  await expect(c.page.getByText('Happening now', { exact: false })).toBeVisible();
  await c.page.getByRole('button', { name: 'Join' }).click();
  await expect(c.page.getByRole('button', { name: 'Join' })).toHaveCount(0);
  const cRow = c.page.locator('li.product').filter({ has: c.page.getByRole('heading', { name: PRODUCT }) });
  await expect(cRow.getByText('Explaining now')).toBeVisible();
  await expect(cRow.locator('.price')).toHaveText(PRICE);
  await expect(cRow.locator('.badge-discount')).toHaveCount(0);
  await buyOne(c.page, PRICE, `${PRICE} each`);

  // --- "My orders" for each of them.
  await expectOrder(a.page, HALF, `-${HALF}`, /50% off: friends joined through your invite/);
  await expectOrder(b.page, HALF, `-${HALF}`, /50% off: joined through a friend's invite/);
  const cOrder = await expectOrder(c.page, PRICE, '-¥0.00', /Full price/);
  await expect(cOrder).not.toContainText('% off');
  await expect(cOrder.locator('.price-was')).toHaveCount(0);

  // --- D has not reserved: no share panel, just the hint.
  await d.page.goto(`/s/${sessionId}`);
  await expect(d.page.getByText('Happening now', { exact: false })).toBeVisible();
  await expect(d.page.getByRole('button', { name: 'Join' })).toBeVisible();
  await expect(d.page.getByText(/^Reserve to invite friends/)).toBeVisible();
  await expect(d.page.getByRole('region', { name: 'Invite friends, both get 50% off' })).toHaveCount(0);

  for (const s of [a, b, c, d]) await s.context.close();
});
