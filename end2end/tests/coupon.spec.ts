import { test, expect } from './fixtures';
import { hostWithSession, newPhone } from './helpers';

// A live coupon end to end at 390x844: while live and presenting a product, the host drops a
// ¥15-off coupon from the studio; a phone in the live room sees it, claims it with one tap, and
// buys the product: the pay sheet takes the coupon off, and the confirmation shows what the
// server charged (¥100.00 less ¥15.00: the phone came without an invite, so no 50%). The
// studio then counts the coupon claimed and used, and "My orders" keeps the amount paid.

const P = { name: 'Jade Face Roller', category: 'Beauty tools', price: '100.00', stock: 50 };

test('live coupon: dropped in the studio, claimed with one tap, paid with', async ({ browser }, testInfo) => {
  const { host, sessionId, productIds, goLive, present, end } = await hostWithSession(testInfo, 'Live coupon', [P]);
  await goLive();
  await present(productIds[0]);

  const studio = await browser.newContext({ storageState: await host.storageState(), baseURL: testInfo.project.use.baseURL });
  const desk = await studio.newPage();
  await desk.goto(`/studio/s/${sessionId}`);
  const coupons = desk.getByRole('region', { name: 'Live coupons' });
  await coupons.getByLabel('¥ off, or percent off').fill('15');
  await coupons.getByLabel('Minimum spend (¥)').fill('0');
  await coupons.getByLabel('How many').fill('10');
  await coupons.getByLabel('Valid for (minutes)').fill('10');
  await coupons.getByRole('button', { name: 'Drop coupon' }).click();
  await expect(desk.getByText('Coupon dropped into the room.')).toBeVisible();
  await expect(coupons.getByRole('listitem')).toContainText(['¥15.00 off 0 of 10 claimed, 0 used']);

  const phone = await newPhone(browser, testInfo);
  const page = phone.page;
  await page.goto(`/s/${sessionId}`);
  await expect(page.getByRole('region', { name: 'Live room' })).toBeVisible();

  // One tap claims it.
  const strip = page.getByRole('list', { name: 'Coupons' });
  await strip.getByRole('button', { name: 'Claim the coupon: ¥15.00 off, no minimum spend' }).click();
  await expect(strip.getByRole('status')).toHaveText('Claimed: it applies at checkout');

  // The pay sheet applies it; Pay charges the reduced total.
  const card = page.getByRole('article', { name: 'Explaining now' });
  await card.getByRole('button', { name: `Buy ${P.name}` }).click();
  const sheet = page.getByRole('dialog', { name: 'Choose quantity and pay' });
  await expect(sheet.getByText('Coupon −¥15.00')).toBeVisible();
  await sheet.getByRole('button', { name: 'Pay ¥85.00' }).click();
  const ok = page.getByRole('status').filter({ hasText: /^Order #\d+ paid: / });
  await expect(ok).toContainText('paid: ¥85.00');

  // The coupon is used: the strip says so, the next pay sheet no longer takes it off, and the
  // studio counts it.
  await expect(strip.getByText('Used', { exact: true })).toBeVisible();
  await card.getByRole('button', { name: `Buy ${P.name}` }).click();
  await expect(sheet.getByRole('button', { name: 'Pay ¥100.00' })).toBeVisible();
  await expect(sheet.getByText('Coupon −')).toHaveCount(0);
  await sheet.getByRole('button', { name: 'Close' }).click();
  await expect(sheet).toBeHidden();
  await desk.reload();
  await expect(desk.getByRole('region', { name: 'Live coupons' }).getByRole('listitem')).toContainText(['¥15.00 off 1 of 10 claimed, 1 used']);

  // "My orders" keeps what the server charged.
  await page.goto('/orders');
  const order = page.locator('li.order').filter({ hasText: `${P.name} × 1` });
  await expect(order.locator('.order-paid')).toHaveText('¥85.00');

  await end();
  await phone.context.close();
  await studio.close();
  await host.dispose();
});
