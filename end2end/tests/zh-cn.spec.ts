import { test, expect, type Browser, type Page } from './fixtures';
import { appReady, hostWithSession, PHONE } from './helpers';
import * as fs from 'node:fs';
import * as path from 'node:path';

// Chinese first: a phone whose browser prefers Chinese, inside WeChat (390x844, WeChat's user
// agent), goes through the shopper flow in zh-CN: reserve, invite a friend who joins, watch
// the live room, buy at 50% off, see the order. On every page, no text of the English
// catalogue shows (user content such as product names excepted), and the page says zh-CN.
// The texts come from the app's own catalogues (app/locales), so the test follows them.

const LOCALES = path.resolve(__dirname, '../../app/locales');

type Catalogue = Record<string, string | Record<string, string>>;

function catalogue(locale: string, namespace: string): Catalogue {
  return JSON.parse(fs.readFileSync(path.join(LOCALES, locale, `${namespace}.json`), 'utf8'));
}

/** A zh-CN text with its placeholders filled. */
function zh(namespace: string, key: string, args: Record<string, string | number> = {}): string {
  const entry = catalogue('zh-CN', namespace)[key];
  expect(entry, `${namespace}.${key} in zh-CN`).toBeTruthy();
  let text = typeof entry === 'string' ? entry : entry.other;
  for (const [k, v] of Object.entries(args)) text = text.split(`{${k}}`).join(String(v));
  return text;
}

/** Phrases of the English catalogue a shopper could meet (placeholders cut out). */
const ENGLISH: string[] = (() => {
  const out = new Set<string>();
  for (const ns of ['common', 'shop', 'live', 'errors']) {
    for (const [key, entry] of Object.entries(catalogue('en', ns))) {
      // The brand is the same in every language.
      if (ns === 'common' && key === 'brand') continue;
      for (const text of typeof entry === 'string' ? [entry] : Object.values(entry)) {
        for (const piece of text.split(/\{[^}]+\}/)) {
          const p = piece.trim();
          // Phrases, not single words: "LIVE" or "Paid" could be part of user content.
          if (p.length >= 10 && p.includes(' ')) out.add(p);
        }
      }
    }
  }
  return [...out];
})();

async function expectNoEnglish(page: Page, userContent: string[]) {
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  let text = await page.locator('body').innerText();
  for (const u of userContent) text = text.split(u).join(' ');
  const found = ENGLISH.filter((phrase) => text.includes(phrase));
  expect(found, `English texts on ${page.url()}`).toEqual([]);
}

/** A phone in WeChat whose browser prefers Chinese, with no language chosen yet. */
async function chinesePhone(browser: Browser, baseURL: string, userAgent: string | undefined) {
  const context = await browser.newContext({
    viewport: PHONE,
    deviceScaleFactor: 3,
    isMobile: true,
    hasTouch: true,
    userAgent,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    baseURL,
    // Not the project's cookie (a Chinese phone set to English): no choice made yet.
    storageState: { cookies: [], origins: [] },
  });
  return { context, page: await context.newPage() };
}

const PRODUCT = 'Rose Hydrating Toner';

test('zh-CN: the shopper flow in Chinese inside WeChat, no English text', async ({ browser }, testInfo) => {
  test.skip(testInfo.project.name !== 'mobile-wechat', 'the WeChat phone project');
  test.setTimeout(90_000);
  const baseURL = testInfo.project.use.baseURL!;
  const ua = testInfo.project.use.userAgent;
  const { sessionId, productIds, goLive, present, host } = await hostWithSession(
    testInfo,
    'ZhCn',
    [{ name: PRODUCT, category: 'Skincare', price: '88.00', stock: 50 }],
    { verified_phone_required: false },
  );
  const session = await (await host.get(`/api/sessions/get?id=${sessionId}`)).json();
  const userContent = [session.title, session.host_name, PRODUCT, session.description];

  // A opens the session: Chinese, with the start named in Beijing time.
  const a = await chinesePhone(browser, baseURL, ua);
  await a.page.goto(`/s/${sessionId}`);
  await expect(a.page.getByRole('heading', { level: 1, name: session.title })).toBeVisible();
  await appReady(a.page);
  await expect(a.page.locator('.session-start .session-time')).toBeVisible();
  await expect(a.page.getByText(zh('shop', 'session_share_locked'))).toBeVisible();
  await expectNoEnglish(a.page, userContent);

  // Reserves; the share panel opens, in Chinese.
  await a.page.getByRole('button', { name: zh('shop', 'session_reserve'), exact: true }).click();
  await expect(a.page.getByRole('region', { name: zh('shop', 'share_title') })).toBeVisible();
  await expect(a.page.getByText(zh('shop', 'share_link'))).toBeVisible();
  await expectNoEnglish(a.page, userContent);

  // A's invite, opened by friend B: the invite page in Chinese; B joins.
  const invite = await a.context.request.post('/api/invites/create', { form: { session_id: String(sessionId) } });
  expect(invite.status(), await invite.text()).toBe(200);
  const { code } = await invite.json();
  const me = await (await a.context.request.post('/api/me')).json();
  const b = await chinesePhone(browser, baseURL, ua);
  await b.page.goto(`/i/${code}`);
  await expect(b.page.getByText(zh('shop', 'invite_from', { name: me.nickname }))).toBeVisible();
  await expectNoEnglish(b.page, [...userContent, me.nickname]);
  await b.page.getByRole('button', { name: zh('shop', 'invite_join', { name: me.nickname }) }).click();
  // B lands on the session: the discount explained in Chinese (a text the server writes).
  await expect(b.page).toHaveURL(new RegExp(`/s/${sessionId}$`));
  await expect(b.page.getByText(zh('server', 'discount_joined', { percent: 50, inviter: me.nickname }))).toBeVisible();
  await expectNoEnglish(b.page, [...userContent, me.nickname]);

  // Live: A's room in Chinese; A buys at 50% off.
  await goLive();
  await present(productIds[0]);
  await a.page.reload();
  const buy = a.page.getByRole('button', { name: zh('live', 'pay_buy_label', { name: PRODUCT }) }).first();
  await expect(buy).toBeVisible({ timeout: 15_000 });
  await expectNoEnglish(a.page, userContent);
  await buy.click();
  const sheet = a.page.getByRole('dialog', { name: zh('live', 'pay_title') });
  await expect(sheet).toBeVisible();
  // For people to look at (CJK fonts installed by setup): the pay sheet over the live room.
  await a.page.screenshot({ path: testInfo.outputPath('zh-CN-pay-sheet.png') });
  await expectNoEnglish(a.page, userContent);
  await sheet.getByRole('button', { name: zh('live', 'pay_pay', { amount: '¥44.00' }) }).click();
  await expect(a.page.getByRole('status').filter({ hasText: '¥44.00' }).first()).toBeVisible();
  await expectNoEnglish(a.page, userContent);

  // My orders, in Chinese.
  await a.page.goto('/orders');
  await expect(a.page.getByRole('heading', { level: 1, name: zh('shop', 'orders_title') })).toBeVisible();
  const order = a.page.locator('li.order').first();
  await expect(order).toContainText(zh('shop', 'orders_status_paid'));
  await expect(order).toContainText(zh('server', 'rule_friends', { percent: 50 }));
  await expectNoEnglish(a.page, userContent);

  // The language switcher: English, kept across pages.
  await a.page.getByRole('combobox', { name: zh('common', 'language') }).selectOption('en');
  await expect(a.page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(a.page.getByRole('heading', { level: 1, name: 'My orders' })).toBeVisible();
  await a.page.goto(`/s/${sessionId}`);
  await expect(a.page.locator('html')).toHaveAttribute('lang', 'en');
  await a.context.close();
  await b.context.close();
  await host.dispose();
});
