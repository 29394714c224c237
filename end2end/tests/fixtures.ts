import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';

// Every spec imports `test` from here: it watches every page of every browser context a test
// opens (the default `context` and those made with `browser.newContext()`) and fails the test
// on an uncaught page error (a Wasm panic, a JS exception) and on any console error the test
// did not declare with `allowConsoleErrors(...)`. A test that breaks the browser on purpose
// (no WebAssembly) declares the page error it provokes with `allowPageErrors(...)`.

type Watch = {
  problems: string[];
  allowed: RegExp[];
  allowedPageErrors: RegExp[];
  watchContext: (context: BrowserContext) => void;
};

function watcher(): Watch {
  const w: Watch = {
    problems: [],
    allowed: [],
    allowedPageErrors: [],
    watchContext: (context) => {
      const watchPage = (page: Page) => {
        page.on('pageerror', (err) => {
          if (w.allowedPageErrors.some((re) => re.test(err.message))) return;
          w.problems.push(`uncaught error on ${page.url()}: ${err.message}\n${err.stack ?? ''}`);
        });
        page.on('console', (msg) => {
          if (msg.type() !== 'error') return;
          const text = msg.text();
          if (w.allowed.some((re) => re.test(text))) return;
          w.problems.push(`console error on ${page.url()}: ${text}`);
        });
      };
      context.pages().forEach(watchPage);
      context.on('page', watchPage);
    },
  };
  return w;
}

export const test = base.extend<{
  pageErrors: Watch;
  /** Console errors this test expects (matched against the message text). */
  allowConsoleErrors: (...patterns: RegExp[]) => void;
  /** Uncaught errors this test provokes on purpose (matched against the error message). */
  allowPageErrors: (...patterns: RegExp[]) => void;
}>({
  pageErrors: [
    async ({ browser }, use) => {
      const w = watcher();
      const newContext = browser.newContext;
      browser.newContext = async function (this: typeof browser, ...args: Parameters<typeof newContext>) {
        const context = await newContext.apply(this, args);
        w.watchContext(context);
        return context;
      };
      try {
        await use(w);
      } finally {
        browser.newContext = newContext;
      }
      expect(w.problems, 'uncaught page errors or unexpected console errors').toEqual([]);
    },
    { auto: true },
  ],
  context: async ({ context, pageErrors }, use) => {
    pageErrors.watchContext(context);
    await use(context);
  },
  allowConsoleErrors: async ({ pageErrors }, use) => {
    await use((...patterns: RegExp[]) => pageErrors.allowed.push(...patterns));
  },
  allowPageErrors: async ({ pageErrors }, use) => {
    await use((...patterns: RegExp[]) => pageErrors.allowedPageErrors.push(...patterns));
  },
});

export { expect, request } from '@playwright/test';
export type { APIRequestContext, Browser, BrowserContext, Page, TestInfo } from '@playwright/test';
