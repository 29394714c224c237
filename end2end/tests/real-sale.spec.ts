import { createHash } from 'node:crypto';
import { test, expect } from './fixtures';
import { hostWithSession, newPhone } from './helpers';

// A real sale, the way it happens inside WeChat: the second app of the run takes WeChat Pay
// (API v3) through the local WeChat Pay server (`wechat-sim`: its own keys, real signatures
// and encryption; playwright.config.ts starts both). The phone passes WeChat's silent
// authorisation for its openid, pays in WeChat's own pay sheet (the page's WeixinJSBridge is
// a stand-in that hands the signed parameters to the simulator, as the WeChat app would),
// the order turns paid only when WeChat Pay's signed notification arrives; the host ships
// it; the phone sees the parcel; the host refunds it and the ledger is reversed.
const port = Number(process.env.E2E_PORT ?? 3107);
const WECHAT_APP = `http://127.0.0.1:${port + 1}`;
const SIM = `http://127.0.0.1:${port + 2}`;
// The simulator's official account and its JS-SDK ticket (wechat-sim/src/lib.rs).
const APPID = 'wx8888888888888888';
const JSAPI_TICKET = 'sim-jsapi-ticket-5d41402abc4b2a76b9719d911017c592';

const BALM = { name: 'Rose Lip Balm', category: 'Beauty', price: '80.00', stock: 5 };

test('real sale: a phone in WeChat pays with WeChat Pay, the host ships, the shopper sees the parcel, a refund reverses the ledger', async ({ browser }, testInfo) => {
  test.skip(testInfo.project.name !== 'mobile-wechat', 'a phone inside WeChat');
  test.setTimeout(120_000);
  const s = await hostWithSession(testInfo, 'Real sale', [BALM], { verified_phone_required: false }, WECHAT_APP);
  await s.goLive();
  await s.present(s.productIds[0]);

  const phone = await newPhone(browser, testInfo, WECHAT_APP);
  // WeChat's in-app bridge is native (outside the page and its Content Security Policy):
  // the test process plays the WeChat app. It checks the JS-SDK's signature of the page
  // (sha1 over the official account's ticket, as WeChat does), hands a payment's signed
  // parameters to the simulator (which checks the merchant's paySign, charges and notifies
  // the merchant), and answers the address picker with a WeChat address.
  const bridgeCalls: string[] = [];
  await phone.context.exposeBinding('__wechatApp', async ({ page: from }, name: string, params: Record<string, string>) => {
    bridgeCalls.push(name);
    if (name === 'preVerifyJSAPI') {
      const url = from.url().split('#')[0];
      const text = `jsapi_ticket=${JSAPI_TICKET}&noncestr=${params.verifyNonceStr}&timestamp=${params.verifyTimestamp}&url=${url}`;
      const ok = createHash('sha1').update(text).digest('hex') === params.verifySignature && params.verifyAppId === APPID;
      return { err_msg: ok ? 'config:ok' : 'config:invalid signature' };
    }
    if (name === 'editAddress') {
      return {
        err_msg: 'edit_address:ok', userName: '李小红', telNumber: '13987654321', addressPostalCode: '310012',
        proviceFirstStageName: '浙江省', addressCitySecondStageName: '杭州市', addressCountiesThirdStageName: '西湖区',
        addressDetailInfo: '文三路90号', nationalCode: '330106',
      };
    }
    if (name === 'getBrandWCPayRequest') {
      const res = await fetch(`${SIM}/test/bridge_pay`, { method: 'POST', body: JSON.stringify(params) });
      return res.json();
    }
    return { err_msg: `${name}:fail` };
  });
  await phone.context.addInitScript(() => {
    const app = (window as any).__wechatApp;
    (window as any).WeixinJSBridge = {
      invoke(name: string, params: unknown, done: (res: { err_msg: string }) => void) {
        app(name, params).then(done, () => done({ err_msg: `${name}:fail` }));
      },
      on() {},
    };
  });
  const page = phone.page;
  await page.goto(`/s/${s.sessionId}`);
  // Away to WeChat's authorisation and straight back, openid known.
  await expect(page).toHaveURL(/wxauth=/, { timeout: 15_000 });
  const row = page.locator('li.product').filter({ has: page.getByRole('heading', { name: BALM.name }) });
  await row.getByRole('button', { name: `Buy ${BALM.name}` }).click();
  const sheet = page.getByRole('dialog', { name: 'Choose quantity and pay' });
  const deliver = sheet.getByRole('group', { name: 'Deliver to' });
  // The JS-SDK is configured for this page (WeChat checked the signature): WeChat's own
  // address picker fills the form.
  await deliver.getByRole('button', { name: 'Use a WeChat address' }).click();
  await expect(deliver.getByLabel('Recipient')).toHaveValue('李小红');
  await expect(deliver.getByLabel('District')).toHaveValue('西湖区');
  await expect(deliver.getByLabel('Street address')).toHaveValue('文三路90号');
  expect(bridgeCalls).toContain('preVerifyJSAPI');
  await deliver.getByRole('button', { name: 'Save address' }).click();
  await expect(deliver.getByLabel('Delivery address')).toContainText('李小红');
  await sheet.getByRole('button', { name: 'Pay ¥80.00' }).click();

  // Placed, awaiting WeChat Pay: WeChat's own pay sheet inside WeChat.
  const confirmation = page.getByRole('status').filter({ hasText: /^Order #\d+/ }).first();
  await expect(confirmation).toContainText('awaiting payment');
  const orderId = Number((await confirmation.textContent())!.match(/Order #(\d+)/)![1]);
  await page.getByRole('button', { name: 'Pay with WeChat Pay' }).click();
  // Paid once WeChat Pay's notification came (the page asks every 2 s).
  await expect(page.getByRole('status').filter({ hasText: `Order #${orderId} paid: ¥80.00` })).toBeVisible({ timeout: 20_000 });

  // The host ships it.
  const ship = await s.host.post('/api/studio/orders/ship', {
    form: { order_id: String(orderId), carrier: 'SF Express', tracking_no: 'SF7777000011' },
  });
  expect(ship.status(), await ship.text()).toBe(200);
  await page.goto('/orders');
  const card = page.locator(`li.order[data-order-id="${orderId}"]`);
  await expect(card.locator('.badge')).toHaveText('Shipped');
  await expect(card.locator('.tracking')).toHaveText('SF7777000011');
  await expect(card.locator('.order-ship-to')).toContainText('李小红');

  // The host refunds it through WeChat Pay; the refund's notification settles it. The unit
  // was shipped, so it does not go back on sale; the sale leaves the figures.
  const stockOf = async () => {
    const res = await page.request.get(`/api/sessions/get?id=${s.sessionId}`);
    return (await res.json()).products[0].stock as number;
  };
  expect(await stockOf()).toBe(BALM.stock - 1);
  const refund = await s.host.post('/api/studio/orders/refund', { form: { order_id: String(orderId), reason: 'Arrived damaged' } });
  expect(refund.status(), await refund.text()).toBe(200);
  await expect
    .poll(async () => {
      const res = await s.host.get(`/api/studio/dashboard?session_id=${s.sessionId}`);
      const d = await res.json();
      return [d.orders, d.refunds, d.refunded];
    }, { timeout: 15_000 })
    .toEqual([0, 1, 8000]);
  await page.reload();
  await expect(card.locator('.badge')).toHaveText('Refunded');
  expect(await stockOf(), 'a shipped unit is not stock again').toBe(BALM.stock - 1);
  await phone.context.close();
  await s.host.dispose();
});
