import { test, expect, type Browser, type BrowserContext, type Page, type TestInfo } from './fixtures';

// The host studio end to end: a new host signs up, schedules a session with a cover and three
// products, goes live and presents product 2; a shopper who joined through a friend's invite
// sees it explained live and buys it at 50% off; the studio's live figures show the order and
// the GMV; the shopper typed a delivery address in the pay sheet, the host ships the order from
// the Orders panel and the phone's "My orders" shows the carrier and tracking number; after the session ends, the CSV export holds exactly that order.
//
// The server and its database are shared by every spec and both projects in a run, and
// shopper-flow.spec.ts takes the demo session live: this test makes its own host account and
// session (unique per run) and never touches the demo data.

const TABLET = { width: 768, height: 1024 };
const PHONE = { width: 390, height: 844 };

const PRODUCTS = [
  { name: 'Silk Sleep Mask', category: 'Health', price: '100.00', stock: 20 },
  { name: 'Camellia Night Cream 50ml', category: 'Skincare', price: '259.00', stock: 50 },
  { name: 'Bamboo Baby Bath Towel', category: 'Baby care', price: '88.80', stock: 30 },
];
const P2 = PRODUCTS[1];
const P2_PRICE = '¥259.00';
const P2_HALF = '¥129.50';
const INVITER = 'Lanlan';

/** A shopper on a phone: a fresh context (own cookies) with a 390x844 touch viewport. */
async function newPhone(browser: Browser, testInfo: TestInfo): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: PHONE,
    deviceScaleFactor: 3,
    isMobile: true,
    hasTouch: true,
    baseURL: testInfo.project.use.baseURL,
  });
  return { context, page: await context.newPage() };
}

/** A real 640x360 PNG drawn in the page's canvas (the server decodes it and wants ≥ 200x200). */
async function canvasPng(page: Page, label: string): Promise<Buffer> {
  const dataUrl = await page.evaluate((text) => {
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 360;
    const ctx = canvas.getContext('2d')!;
    const g = ctx.createLinearGradient(0, 0, 640, 360);
    g.addColorStop(0, '#e8456b');
    g.addColorStop(1, '#f7b733');
    ctx.fillStyle = g;
    ctx.fillRect(0, 0, 640, 360);
    ctx.fillStyle = '#fff';
    ctx.font = 'bold 48px sans-serif';
    ctx.fillText(text, 40, 200);
    return canvas.toDataURL('image/png');
  }, label);
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}

/** A full-page screenshot, kept with the test's results (to look at the layout). */
async function shot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(name);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

/** True when the page has no horizontal scrolling (the studio is laid out for 768 px and up). */
function fitsWidth(page: Page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

test.describe('studio', () => {
  test.use({ viewport: TABLET });

  test('studio: a new host schedules a session, goes live, presents; a shopper buys at 50% off; figures and CSV match', async ({
    page,
    browser,
    playwright,
  }, testInfo) => {
    // The studio is for tablets and desktops: it runs once, under `desktop`, at a 768x1024
    // tablet viewport (the shoppers get 390x844 phone contexts). Running it under the
    // WeChat project too would only repeat it on the same shared server.
    test.skip(testInfo.project.name !== 'desktop', 'the studio is for tablets and desktops');
    test.setTimeout(180_000);

    const now = String(Date.now());
    const stamp = `${now}-${testInfo.project.name}-${testInfo.repeatEachIndex}`;
    const email = `host-${stamp}@studio.test`;
    const hostName = `Host ${now.slice(-6)}`;
    const title = `Studio test ${stamp}`;
    const statusLine = (text: string) => page.getByRole('status').filter({ hasText: text });

    // ---------------------------------------------------------------- host signs up
    await page.goto('/studio');
    await expect(page.getByRole('heading', { level: 1, name: 'Sign in to the studio' })).toBeVisible();
    await page.getByRole('button', { name: 'New host? Create an account' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Create a host account' })).toBeVisible();
    await page.getByLabel('Display name').fill(hostName);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('correct-horse-battery');
    await page.getByRole('button', { name: 'Create account' }).click();

    // The top bar: the host's display name and Sign out.
    await expect(page.getByText(hostName, { exact: true })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
    await expect(page.getByText('No sessions yet')).toBeVisible();

    // ---------------------------------------------------------------- new session
    await page.getByRole('button', { name: 'New session' }).click();
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Description').fill('Night care and baby bath picks, explained live.');
    // Starts tomorrow by default; the invite discount defaults to 50% off with 1 friend.
    const startField = page.getByLabel("Starts at (in the session's time zone)");
    await expect(startField).toHaveValue(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
    // Sessions are in Beijing time unless the host picks another zone: the same wall-clock
    // time, read in the zone chosen.
    await expect(page.getByRole('combobox', { name: /^Time zone/ })).toHaveValue('Asia/Shanghai');
    const wallClock = await startField.inputValue();
    await page.getByRole('combobox', { name: /^Time zone/ }).selectOption('Europe/Rome');
    const policy = page.getByRole('group', { name: 'Invite discount' });
    await expect(policy.getByLabel('Percent off')).toHaveValue('50');
    // New sessions require verified phone numbers by default (tested in verified-discount);
    // this flow is about the studio, so the host turns it off.
    const verified = policy.getByRole('checkbox', { name: /^Verified phone required/ });
    await expect(verified).toBeChecked();
    await verified.uncheck();
    await expect(policy.getByLabel('Friends needed to unlock')).toHaveValue('1');
    await page.getByRole('button', { name: 'Create session' }).click();

    await expect(page).toHaveURL(/\/studio\/s\/\d+$/);
    const sessionId = Number(new URL(page.url()).pathname.match(/(\d+)$/)![1]);
    await expect(page.getByRole('heading', { level: 1, name: title })).toBeVisible();
    await expect(page.getByRole('link', { name: 'Shopper view' })).toHaveAttribute('href', `/s/${sessionId}`);
    // Kept in its zone: the same wall-clock time in Rome, named.
    const detailsForm = page.getByRole('region', { name: 'Session details' });
    await expect(detailsForm.getByRole('combobox', { name: /^Time zone/ })).toHaveValue('Europe/Rome');
    await expect(detailsForm.getByLabel("Starts at (in the session's time zone)")).toHaveValue(wallClock);
    await expect(page.locator('.studio-head .session-time')).toContainText(/\(UTC\+0[12]:00 Europe\/Rome\)/);

    // ---------------------------------------------------------------- cover upload
    const details = page.getByRole('region', { name: 'Session details' });
    const cover = details.getByRole('img', { name: 'Session cover' });
    const coverBefore = await cover.getAttribute('src');
    await details.getByLabel('Upload cover').setInputFiles({
      name: 'cover.png',
      mimeType: 'image/png',
      buffer: await canvasPng(page, title),
    });
    // (The file input is also a button named "Upload cover" in the accessibility tree.)
    await details.locator('button', { hasText: 'Upload cover' }).click();
    await expect(cover).toHaveAttribute('src', /^\/media\/[0-9a-f]{24}\.jpg$/);
    await expect(statusLine('Image uploaded.')).toBeVisible();
    const coverSrc = (await cover.getAttribute('src'))!;
    expect(coverSrc).not.toBe(coverBefore);
    await expect
      .poll(() => cover.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 10_000 })
      .toBeGreaterThan(0);
    const coverRes = await page.request.get((await cover.getAttribute('src'))!);
    expect(coverRes.status()).toBe(200);
    expect(coverRes.headers()['content-type']).toBe('image/jpeg');

    // ---------------------------------------------------------------- three products
    const productsCard = page.getByRole('region', { name: /^Products \(\d+\)$/ });
    const rows = productsCard.getByRole('listitem');
    await expect(productsCard.getByRole('heading', { name: 'Products (0)' })).toBeVisible();
    for (const [i, p] of PRODUCTS.entries()) {
      await productsCard.getByRole('button', { name: 'Add product' }).click();
      const form = productsCard.getByRole('form', { name: 'New product' });
      await form.getByLabel('Name').fill(p.name);
      await form.getByLabel('Category').fill(p.category);
      await form.getByLabel('Description').fill(`${p.name}, shown on camera.`);
      await form.getByLabel('Price (¥)').fill(p.price);
      await form.getByLabel('Stock').fill(String(p.stock));
      await form.getByRole('button', { name: 'Save product' }).click();
      await expect(productsCard.getByRole('heading', { name: `Products (${i + 1})` })).toBeVisible();
      await expect(form).toHaveCount(0);
      await expect(statusLine('Product added.')).toBeVisible();
    }
    await expect(rows).toHaveCount(3);
    const expectOrder = (names: string[]) => expect(rows.locator('strong')).toHaveText(names);
    await expectOrder(PRODUCTS.map((p) => p.name));
    await expect(rows.nth(1)).toContainText(`${P2.category} · ${P2_PRICE} · stock ${P2.stock}`);
    await expect(productsCard.getByRole('button', { name: `Move ${PRODUCTS[0].name} up` })).toBeDisabled();
    await expect(productsCard.getByRole('button', { name: `Move ${PRODUCTS[2].name} down` })).toBeDisabled();

    // Reorder: product 3 up (to 2nd place) and back down.
    await productsCard.getByRole('button', { name: `Move ${PRODUCTS[2].name} up` }).click();
    await expectOrder([PRODUCTS[0].name, PRODUCTS[2].name, PRODUCTS[1].name]);
    await productsCard.getByRole('button', { name: `Move ${PRODUCTS[2].name} down` }).click();
    await expectOrder(PRODUCTS.map((p) => p.name));

    // A product image, through the edit panel.
    await productsCard.getByRole('button', { name: `Edit ${P2.name}` }).click();
    const p2Row = rows.filter({ has: page.getByText(P2.name, { exact: true }) });
    await expect(p2Row.getByRole('form', { name: 'Edit product' })).toBeVisible();
    await p2Row.getByLabel('Upload image').setInputFiles({
      name: 'cream.png',
      mimeType: 'image/png',
      buffer: await canvasPng(page, 'Cream'),
    });
    await p2Row.locator('button', { hasText: 'Upload image' }).click();
    await expect(p2Row.locator('img').first()).toHaveAttribute('src', /^\/media\/[0-9a-f]{24}\.jpg$/);

    // Two sizes with their own stock (together the product's), one at its own price. (The
    // new image rebuilt the row: its edit panel opens again.)
    await productsCard.getByRole('button', { name: `Edit ${P2.name}` }).click();
    const variantsForm = p2Row.getByRole('form', { name: 'Variants' });
    await variantsForm.getByRole('button', { name: 'Add variant' }).click();
    await variantsForm.getByRole('button', { name: 'Add variant' }).click();
    await variantsForm.getByLabel('Variant 1 name').fill('30ml');
    await variantsForm.getByLabel('Variant 1 stock').fill('10');
    await variantsForm.getByLabel('Variant 1 price').fill('199.00');
    await variantsForm.getByLabel('Variant 2 name').fill('50ml');
    await variantsForm.getByLabel('Variant 2 stock').fill(String(P2.stock - 10));
    await variantsForm.getByRole('button', { name: 'Save variants' }).click();
    await expect(statusLine('Variants saved.')).toBeVisible();
    await expect(rows.nth(1)).toContainText(`stock ${P2.stock}`);

    expect(await fitsWidth(page), 'no horizontal scrolling at 768 px').toBe(true);
    await shot(page, testInfo, 'studio-scheduled-768.png');

    // ---------------------------------------------------------------- shoppers reserve and invite
    const a = await newPhone(browser, testInfo);
    const b = await newPhone(browser, testInfo);

    await a.page.goto(`/s/${sessionId}`);
    await expect(a.page.getByRole('heading', { level: 1, name: title })).toBeVisible();
    await expect(a.page.getByText('Host:')).toContainText(hostName);
    await expect(a.page.getByRole('heading', { name: 'Products (3)' })).toBeVisible();
    const aProducts = a.page.locator('li.product');
    await expect(aProducts.getByRole('heading')).toHaveText(PRODUCTS.map((p) => p.name));
    await expect(aProducts.nth(1).locator('.price')).toHaveText(P2_PRICE);
    const reservation = a.page.getByRole('region', { name: 'Reservation' });
    await reservation.getByRole('button', { name: 'Reserve' }).click();
    await expect(reservation.getByText('✓ Reserved')).toBeVisible();

    const share = a.page.getByRole('region', { name: 'Invite friends, both get 50% off' });
    await share.getByRole('textbox', { name: 'Your name on invites' }).fill(INVITER);
    await share.getByRole('button', { name: 'Save name' }).click();
    await expect(share.getByRole('status')).toHaveText(`Saved. Friends will see "${INVITER}".`);
    const linkInput = share.getByRole('textbox', { name: 'Your invite link' });
    await expect(linkInput).toHaveValue(/\/i\/[A-Za-z0-9_-]{16}$/);
    const inviteCode = (await linkInput.inputValue()).match(/\/i\/([A-Za-z0-9_-]{16})$/)![1];

    await b.page.goto(`/i/${inviteCode}`);
    await expect(b.page.getByText(`${INVITER} invites you`)).toBeVisible();
    await expect(b.page.getByRole('heading', { level: 1, name: title })).toBeVisible();
    await b.page.getByRole('button', { name: `Join ${INVITER}'s invite` }).click();
    await expect(b.page).toHaveURL(new RegExp(`/s/${sessionId}$`));
    await expect(b.page.getByRole('region', { name: 'Reservation' }).getByText('✓ Reserved')).toBeVisible();
    await expect(share.getByText('1 friend joined, discount unlocked')).toBeVisible({ timeout: 15_000 });

    // The studio's figures see the reservations and the invite (they poll every 3 s).
    const dash = page.getByRole('region', { name: 'Live figures' });
    const figure = (key: string) => dash.locator(`[data-figure="${key}"]`).getByRole('definition');
    await expect(figure('reservations')).toHaveText('2', { timeout: 20_000 });
    // Each reserver's share panel makes their invite link: A's and B's.
    await expect(figure('invites')).toHaveText('2');
    await expect(figure('friends')).toHaveText('1');
    await expect(figure('orders')).toHaveText('0');

    // ---------------------------------------------------------------- go live, present product 2
    const ros = page.getByRole('region', { name: 'Run of show' });
    await ros.getByRole('button', { name: 'Go live' }).click();
    await expect(ros.getByText('Explaining now: nothing yet')).toBeVisible();
    await expect(ros.getByRole('button', { name: 'Next product' })).toBeVisible();
    await expect(details.getByText('Details are locked once the session has gone live.')).toBeVisible();
    await productsCard.getByRole('button', { name: `Present ${P2.name}` }).click();
    await expect(ros.locator('.now-presenting')).toHaveText(`Explaining now: ${P2.name}`);
    await expect(statusLine('Presenting now.')).toBeVisible();
    await expect(p2Row.getByText('Explaining now')).toBeVisible();
    await expect(rows.filter({ hasText: 'Explaining now' })).toHaveCount(1);
    await expect(productsCard.getByRole('button', { name: `Delete ${P2.name}` })).toHaveCount(0);

    // ---------------------------------------------------------------- B sees it and buys at 50% off
    await expect(b.page.getByText('Happening now', { exact: false })).toBeVisible({ timeout: 15_000 });
    const bRow = b.page.locator('li.product').filter({ has: b.page.getByRole('heading', { name: P2.name }) });
    await expect(bRow.getByText('Explaining now')).toBeVisible();
    await expect(b.page.locator('li.product').filter({ hasText: 'Explaining now' })).toHaveCount(1);
    await expect(bRow.locator('.badge-discount')).toHaveText('50% off');
    await expect(bRow.locator('.price').first()).toHaveText(P2_HALF);
    await expect(bRow.getByLabel(`was ${P2_PRICE}`)).toHaveText(P2_PRICE);
    await expect(bRow.locator('.variant-hint')).toHaveText('Choose: 30ml · 50ml');
    await bRow.getByRole('button', { name: `Buy ${P2.name}` }).click();
    const sheet = b.page.getByRole('dialog', { name: 'Choose quantity and pay' });
    await expect(sheet.getByLabel('Quantity')).toHaveText('1');
    // A size first: Pay waits for one; the 30ml's own price shows at half, then 50ml.
    const sizes = sheet.getByRole('radiogroup', { name: 'Choose a variant' });
    await expect(sizes.getByRole('radio')).toHaveText(['30ml · ¥199.00', '50ml']);
    await expect(sheet.getByRole('button', { name: /^Pay / })).toBeDisabled();
    await sizes.getByRole('radio', { name: '30ml · ¥199.00' }).click();
    await expect(sheet.getByRole('button', { name: 'Pay ¥99.50' })).toBeVisible();
    await sizes.getByRole('radio', { name: '50ml' }).click();
    await expect(sizes.getByRole('radio', { name: '50ml' })).toHaveAttribute('aria-checked', 'true');
    // Where it ships: the first time typed in, then remembered.
    const deliver = sheet.getByRole('group', { name: 'Deliver to' });
    await deliver.getByLabel('Recipient').fill('王小明');
    await deliver.getByLabel('Mobile number').fill('138 1234 5678');
    await deliver.getByLabel('Province').fill('广东省');
    await deliver.getByLabel('City').fill('深圳市');
    await deliver.getByLabel('District').fill('南山区');
    await deliver.getByLabel('Street address').fill('科技园南区深南大道10000号');
    await deliver.getByRole('button', { name: 'Save address' }).click();
    await expect(deliver.getByLabel('Delivery address')).toContainText('王小明 +86 138****5678');
    await sheet.getByRole('button', { name: `Pay ${P2_HALF}` }).click();
    const paid = b.page.getByRole('status').filter({ hasText: /^Order #\d+ paid: / });
    await expect(paid).toContainText(`paid: ${P2_HALF}`);
    const orderId = Number((await paid.textContent())!.match(/Order #(\d+)/)![1]);

    // ---------------------------------------------------------------- dashboard shows the order
    await expect(figure('orders')).toHaveText('1', { timeout: 20_000 });
    await expect(figure('gmv')).toHaveText(P2_HALF);
    await expect(figure('units')).toHaveText('1');
    await expect(figure('discount')).toHaveText(P2_HALF);
    const sales = dash.getByRole('table');
    await expect(sales.getByRole('row')).toHaveCount(1 + PRODUCTS.length);
    const p2Sales = sales.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(P2.name) }) });
    await expect(p2Sales.getByRole('cell')).toHaveText(['1', P2_HALF, String(P2.stock - 1)]);
    // The product list shows the live stock too, not the stock it had when the page loaded.
    await expect(p2Row).toContainText(`stock ${P2.stock - 1}`);
    for (const other of [PRODUCTS[0], PRODUCTS[2]]) {
      const row = sales.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(other.name) }) });
      await expect(row.getByRole('cell').first()).toHaveText('0');
    }
    expect(await fitsWidth(page), 'no horizontal scrolling at 768 px').toBe(true);
    await shot(page, testInfo, 'studio-live-768.png');
    await page.setViewportSize({ width: 1280, height: 900 });
    await shot(page, testInfo, 'studio-live-1280.png');
    await page.setViewportSize(TABLET);

    // ---------------------------------------------------------------- ship it; the phone sees the parcel
    const ordersPanel = page.getByRole('region', { name: 'Orders' });
    const toShip = ordersPanel.locator(`li[data-order-id="${orderId}"]`);
    await expect(toShip.locator('.badge')).toHaveText('Paid', { timeout: 15_000 });
    await expect(toShip.locator('.ship-to')).toHaveText('王小明 · +8613812345678 · 广东省深圳市南山区科技园南区深南大道10000号');
    await toShip.getByLabel(`Carrier for order ${orderId}`).fill('SF Express');
    await toShip.getByLabel(`Tracking number for order ${orderId}`).fill('sf1234567890');
    await toShip.getByRole('button', { name: 'Ship' }).click();
    await expect(statusLine(`Order #${orderId} shipped`)).toBeVisible();
    await expect(toShip).toHaveCount(0); // no longer "to ship"
    await ordersPanel.getByLabel('Which orders').selectOption('shipped');
    await expect(ordersPanel.locator(`li[data-order-id="${orderId}"]`)).toContainText('SF Express · SF1234567890');
    await b.page.goto('/orders');
    const card = b.page.locator(`li.order[data-order-id="${orderId}"]`);
    await expect(card.locator('.badge')).toHaveText('Shipped');
    await expect(card.locator('.order-line-name')).toHaveText(`${P2.name} (50ml) × 1`);
    await expect(card.locator('.tracking')).toHaveText('SF1234567890');
    await expect(card).toContainText('Shipped by SF Express');
    await expect(card.locator('.order-ship-to')).toContainText('王小明 · +86 138****5678');

    // ---------------------------------------------------------------- end, summary, CSV
    page.once('dialog', (d) => d.accept());
    await ros.getByRole('button', { name: 'End session' }).click();
    await expect(ros.getByText('This session has ended.')).toBeVisible();
    await expect(statusLine('The session has ended.')).toBeVisible();
    await expect(page.getByRole('button', { name: `Edit ${P2.name}` })).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Add product' })).toHaveCount(0);
    await ros.getByRole('link', { name: 'See the summary and export orders' }).click();
    await expect(page).toHaveURL(new RegExp(`/studio/s/${sessionId}/summary$`));
    await expect(page.getByRole('heading', { level: 1, name: `Summary: ${title}` })).toBeVisible();
    await expect(page.locator('[data-figure="gmv"]').getByRole('definition')).toHaveText(P2_HALF);
    const exportLink = page.getByRole('link', { name: 'Export orders (CSV)' });
    await expect(exportLink).toHaveAttribute('href', `/studio/s/${sessionId}/orders.csv`);
    await shot(page, testInfo, 'studio-summary-768.png');

    const csvRes = await page.request.get(`/studio/s/${sessionId}/orders.csv`);
    expect(csvRes.status()).toBe(200);
    expect(csvRes.headers()['content-type']).toContain('text/csv');
    const lines = (await csvRes.text()).split('\r\n').filter((l) => l !== '');
    expect(lines, 'a header and one order line').toHaveLength(2);
    const header = lines[0].split(',');
    const row = Object.fromEntries(lines[1].split(',').map((v, i) => [header[i], v]));
    expect(row).toMatchObject({
      order_id: String(orderId),
      status: 'paid',
      product_name: P2.name,
      variant: '50ml',
      quantity: '1',
      unit_price_cny: '259.00',
      full_amount_cny: '259.00',
      discount_cny: '129.50',
      paid_cny: '129.50',
      discount_rule: 'joined_through_invite',
      invite_code: inviteCode,
    });
    expect(row.created_at_utc).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

    // Only the session's host may export: a shopper is refused (403), a stranger must sign in (401).
    expect((await b.page.request.get(`/studio/s/${sessionId}/orders.csv`)).status()).toBe(403);
    const anonymous = await playwright.request.newContext({ baseURL: testInfo.project.use.baseURL });
    expect((await anonymous.get(`/studio/s/${sessionId}/orders.csv`)).status()).toBe(401);
    await anonymous.dispose();

    // The studio home lists the session: ended, 3 products, with its cover.
    await page.goto('/studio');
    const mine = page.getByRole('region', { name: 'Your sessions' }).getByRole('link', { name: new RegExp(title) });
    await expect(mine).toHaveAttribute('href', `/studio/s/${sessionId}`);
    await expect(mine).toContainText('Ended');
    await expect(mine).toContainText('3 products');
    await expect(mine.locator('img')).toHaveAttribute('src', coverSrc);

    for (const s of [a, b]) await s.context.close();
  });
});
