import { defineConfig, devices } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The release server, started once for the run on its own port with a fresh SQLite database
// and the demo data. Build it first (scripts/test.sh does): target/release/server and dist/.
const port = Number(process.env.E2E_PORT ?? 3107);
const root = path.resolve(__dirname, '..');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-e2e-'));
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// Flags that keep headless Chromium from stalling on a closed network (see shared TOOLCHAIN notes).
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // The studio's camera and microphone in tests: Chromium's synthetic devices, no prompt.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

// An Android WeChat webview's user agent: the app must work inside WeChat's in-app browser.
const wechatUA =
  'Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 ' +
  '(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 ' +
  'MMWEBSDK/20231202 MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 Weixin ' +
  'NetType/WIFI Language/zh_CN ABI/arm64';

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: path.join(dataDir, 'results'),
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    launchOptions: { executablePath: chromium, args: chromiumArgs },
  },
  projects: [
    { name: 'desktop', use: { ...devices['Desktop Chrome'], launchOptions: { executablePath: chromium, args: chromiumArgs } } },
    {
      name: 'mobile-wechat',
      use: {
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 3,
        isMobile: true,
        hasTouch: true,
        userAgent: wechatUA,
        locale: 'zh-CN',
        launchOptions: { executablePath: chromium, args: chromiumArgs },
      },
    },
  ],
  webServer: {
    command: path.join(root, 'target/release/server'),
    cwd: root,
    url: `http://127.0.0.1:${port}/healthz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      APP_BIND: `127.0.0.1:${port}`,
      DATABASE_URL: `sqlite://${path.join(dataDir, 'e2e.db')}`,
      APP_DIST_DIR: path.join(root, 'dist'),
      APP_DEMO_DATA: 'true',
      APP_LOG: 'warn',
      // Every browser in the suite comes from 127.0.0.1: per-IP limits sized for one person
      // would refuse the suite's many shoppers (the limits themselves are tested in Rust).
      APP_RATE_LIMIT_SCALE: '10',
      APP_MEDIA_DIR: path.join(dataDir, 'media'),
      APP_UPLOAD_DIR: path.join(dataDir, 'uploads'),
    },
  },
});
