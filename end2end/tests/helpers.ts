import { expect, request as pwRequest, type APIRequestContext, type Browser, type BrowserContext, type Page, type TestInfo } from './fixtures';

// Set-up shared by the specs that make their own host and session through the API (the server
// is shared by every spec and both projects, so none of them touches the demo session).

export const PHONE = { width: 390, height: 844 };

/** Waits until the app has taken over from the server's first paint (`/`, `/s/{id}`,
 *  `/i/{code}`): until then the page holds the painted copy and the app's, hidden. */
export async function appReady(page: Page): Promise<void> {
  await expect(page.locator('#first-paint')).toHaveCount(0, { timeout: 15_000 });
}

export type ProductSpec = { name: string; category: string; price: string; stock: number };

export type HostSession = {
  host: APIRequestContext;
  sessionId: number;
  productIds: number[];
  /** Runs a run-of-show action (`go_live`, `end`) or presents a product. */
  goLive: () => Promise<void>;
  present: (productId: number) => Promise<void>;
  end: () => Promise<void>;
};

/** A new host (signed up through the API) with a scheduled session and its products. */
export async function hostWithSession(
  testInfo: TestInfo,
  prefix: string,
  products: ProductSpec[],
  policy: Partial<{ percent_off: number; friends_needed: number; units_per_shopper: number; units_cap: number | null; purchase_limit: number; verified_phone_required: boolean }> = {},
  /** The server (node) the host works through; the project's server by default. */
  baseURL: string = testInfo.project.use.baseURL!,
): Promise<HostSession> {
  const host = await pwRequest.newContext({ baseURL });
  const tag = `${testInfo.project.name}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const signUp = await host.post('/api/host/sign_up', {
    form: { display_name: `${prefix} Tester`, email: `${prefix.toLowerCase().replace(/\W+/g, '-')}-${tag}@example.com`, password: 'a long password' },
  });
  expect(signUp.status(), await signUp.text()).toBe(200);
  const created = await host.post('/api/studio/session/create', {
    data: {
      form: {
        title: `${prefix} ${tag}`,
        description: `End-to-end: ${prefix}`,
        scheduled_start_ms: Date.now() + 3_600_000,
        policy: { percent_off: 50, friends_needed: 1, units_per_shopper: 1, units_cap: null, purchase_limit: 5, ...policy },
      },
    },
  });
  expect(created.status(), await created.text()).toBe(200);
  const sessionId = (await created.json()) as number;
  const productIds: number[] = [];
  for (const p of products) {
    const res = await host.post('/api/studio/product/add', {
      data: { session_id: sessionId, form: { ...p, description: '', reason: null } },
    });
    expect(res.status(), await res.text()).toBe(200);
    productIds.push((await res.json()) as number);
  }
  const ok = async (path: string, form: Record<string, string>) => {
    const res = await host.post(path, { form });
    expect(res.status(), `${path}: ${await res.text()}`).toBe(200);
  };
  return {
    host,
    sessionId,
    productIds,
    goLive: () => ok('/api/studio/go_live', { session_id: String(sessionId) }),
    present: (productId) => ok('/api/studio/present', { product_id: String(productId) }),
    end: () => ok('/api/studio/end', { session_id: String(sessionId) }),
  };
}

/** A phone (390x844, touch, the project's user agent) with its own cookies. */
export async function newPhone(browser: Browser, testInfo: TestInfo, baseURL?: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: PHONE,
    deviceScaleFactor: 3,
    isMobile: true,
    hasTouch: true,
    userAgent: testInfo.project.use.userAgent,
    locale: testInfo.project.use.locale,
    // The project's language choice (mobile-wechat: a Chinese phone set to English).
    storageState: testInfo.project.use.storageState,
    baseURL: baseURL ?? testInfo.project.use.baseURL,
  });
  return { context, page: await context.newPage() };
}
