import { test, expect, type Browser, type Page } from './fixtures';
import { appReady, hostWithSession, PHONE } from './helpers';
import * as fs from 'node:fs';
import * as path from 'node:path';

// Chinese first: a phone whose browser prefers Chinese, inside WeChat (390x844, WeChat's user
// agent), goes through the shopper flow in zh-CN: reserve, invite a friend who joins, watch
// the live room, buy at 50% off, see the order. On every page, no text of the English
// catalogue shows (user content such as product names excepted), and the page says zh-CN.
// The texts come from the app's own catalogues (core/locales), so the test follows them.

const LOCALES = path.resolve(__dirname, '../../core/locales');

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

/** Phrases of the English catalogue's `namespaces` (placeholders cut out). */
function englishPhrases(namespaces: string[]): string[] {
  const out = new Set<string>();
  for (const ns of namespaces) {
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
}

/** What a shopper could meet. */
const ENGLISH = englishPhrases(['common', 'shop', 'live', 'errors']);

async function expectNoEnglish(page: Page, userContent: string[], phrases: string[] = ENGLISH) {
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  let text = await page.locator('body').innerText();
  for (const u of userContent) text = text.split(u).join(' ');
  const found = phrases.filter((phrase) => text.includes(phrase));
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

// The studio in Chinese: a host whose browser prefers Chinese signs up, schedules a session,
// adds a product, goes live, presents it and ends the session, on a tablet; on every screen
// the studio's texts are Chinese (no phrase of the English catalogue shows) and the page
// says zh-CN. Hosts in this field are Chinese KOLs: the studio is Chinese first too.
test('zh-CN: the studio in Chinese, from sign-up to the end of a session, no English text', async ({ browser }, testInfo) => {
  test.skip(testInfo.project.name !== 'desktop', 'the studio is for tablets and desktops');
  test.setTimeout(120_000);
  const studioEnglish = englishPhrases(['common', 'studio', 'errors']);
  const context = await browser.newContext({
    viewport: { width: 768, height: 1024 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    baseURL: testInfo.project.use.baseURL,
    storageState: { cookies: [], origins: [] },
  });
  const page = await context.newPage();
  const stamp = `${Date.now()}-${testInfo.repeatEachIndex}`;
  const hostName = `主播${stamp.slice(-6)}`;
  const title = `中文直播间 ${stamp}`;
  const product = { name: '玫瑰保湿爽肤水', category: '护肤', price: '88.00', stock: '50' };
  const user = [hostName, title, product.name, product.category, `host-${stamp}@studio.test`];
  const s = (key: string, args: Record<string, string | number> = {}) => zh('studio', key, args);
  const status = (key: string) => page.getByRole('status').filter({ hasText: s(key) });

  await page.goto('/studio');
  await expect(page.getByRole('heading', { level: 1, name: s('auth_sign_in_title') })).toBeVisible();
  await expectNoEnglish(page, user, studioEnglish);
  await page.getByRole('button', { name: s('auth_new_host') }).click();
  await expect(page.getByRole('heading', { level: 1, name: s('auth_create_title') })).toBeVisible();
  await page.getByLabel(s('auth_display_name')).fill(hostName);
  await page.getByLabel(s('auth_email')).fill(`host-${stamp}@studio.test`);
  await page.getByLabel(s('auth_password')).fill('correct-horse-battery');
  await page.getByRole('button', { name: s('auth_create_account') }).click();
  await expect(page.getByRole('button', { name: s('bar_sign_out') })).toBeVisible();
  await expectNoEnglish(page, user, studioEnglish);

  // A new session, in Beijing time by default.
  await page.getByRole('button', { name: s('new_open') }).click();
  await page.getByLabel(s('form_title'), { exact: true }).fill(title);
  // What the host typed is theirs, in any language.
  user.push('晚间护肤好物，直播讲解。');
  await page.getByLabel(s('form_description'), { exact: true }).fill(user.at(-1)!);
  await expectNoEnglish(page, user, studioEnglish);
  await page.getByRole('button', { name: s('new_create') }).click();
  await expect(page).toHaveURL(/\/studio\/s\/\d+$/);
  await expect(page.getByRole('heading', { level: 1, name: title })).toBeVisible();
  // Its start, in the session's zone, written the Chinese way.
  await expect(page.locator('.studio-head .session-time')).toContainText(/^\d{4}年\d{1,2}月\d{1,2}日 周. \d\d:\d\d \(UTC\+08:00 Asia\/Shanghai\)$/);
  await expectNoEnglish(page, user, studioEnglish);

  // A product.
  const productsCard = page.getByRole('region', { name: s('products_title', { n: 0 }) });
  await productsCard.getByRole('button', { name: s('products_add') }).click();
  const form = productsCard.getByRole('form', { name: s('products_new') });
  await form.getByLabel(s('products_name'), { exact: true }).fill(product.name);
  await form.getByLabel(s('products_category'), { exact: true }).fill(product.category);
  user.push('清爽补水。');
  await form.getByLabel(s('products_description'), { exact: true }).fill(user.at(-1)!);
  await form.getByLabel(s('products_price'), { exact: true }).fill(product.price);
  await form.getByLabel(s('products_stock'), { exact: true }).fill(product.stock);
  await form.getByRole('button', { name: s('products_save') }).click();
  const withOne = page.getByRole('region', { name: s('products_title', { n: 1 }) });
  await expect(withOne.getByRole('listitem')).toHaveCount(1);
  await expect(withOne.getByRole('listitem')).toContainText('¥88.00');
  await expectNoEnglish(page, user, studioEnglish);

  // Live: present the product, the figures, then the end.
  const ros = page.getByRole('region', { name: s('run_title') });
  await ros.getByRole('button', { name: s('run_go_live') }).click();
  await expect(status('run_live_done')).toBeVisible();
  await withOne.getByRole('button', { name: s('products_present_name', { name: product.name }) }).click();
  await expect(status('products_presenting')).toBeVisible();
  await expect(page.getByRole('region', { name: s('dashboard_title') })).toBeVisible();
  await expectNoEnglish(page, user, studioEnglish);
  page.once('dialog', (d) => {
    expect(d.message()).toBe(s('run_end_confirm'));
    void d.accept();
  });
  await ros.getByRole('button', { name: s('run_end') }).click();
  await expect(status('run_ended_done')).toBeVisible();
  await ros.getByRole('link', { name: s('run_see_summary') }).click();
  await expect(page).toHaveURL(/\/summary$/);
  await expectNoEnglish(page, user, studioEnglish);
  await context.close();
});
