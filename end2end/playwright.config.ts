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
// real-sale.spec.ts: the app that takes WeChat Pay, and the local WeChat Pay server.
const wechatPort = port + 1;
const simPort = port + 2;
const wechatAppUrl = `http://127.0.0.1:${wechatPort}`;
const simDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wechat-sim-'));

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
        // A Chinese phone whose shopper chose English (the cookie the language switcher sets):
        // the specs read English texts. The zh-CN pages are tested in zh-cn.spec.ts.
        storageState: {
          cookies: [{ name: 'ls_locale', value: 'en', domain: '127.0.0.1', path: '/', expires: -1, httpOnly: false, secure: false, sameSite: 'Lax' }],
          origins: [],
        },
        launchOptions: { executablePath: chromium, args: chromiumArgs },
      },
    },
  ],
  webServer: [
    {
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
        // Three WebRTC seats: webrtc.spec.ts fills them and sees the fourth phone fall back.
        APP_WHEP_MAX_VIEWERS: '3',
      },
    },
    // A real sale (real-sale.spec.ts): the local WeChat Pay server with its own keys, and a
    // second app that takes payment through it (WeChat Pay API v3 and web authorisation).
    {
      command: `${path.join(root, 'target/release/wechat-sim')} --port ${simPort} --dir ${simDir} --notify-url ${wechatAppUrl}/payments/wechat/notify`,
      cwd: root,
      url: `http://127.0.0.1:${simPort}/sns/oauth2/access_token`,
      timeout: 30_000,
      reuseExistingServer: false,
      stdout: 'pipe',
      stderr: 'pipe',
    },
    {
      // Waits for the simulator's keys, then starts.
      command: `sh -c 'while [ ! -f ${simDir}/ready ]; do sleep 0.1; done; exec ${path.join(root, 'target/release/server')}'`,
      cwd: root,
      url: `${wechatAppUrl}/healthz`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        APP_BIND: `127.0.0.1:${wechatPort}`,
        APP_PUBLIC_URL: wechatAppUrl,
        DATABASE_URL: `sqlite://${path.join(dataDir, 'wechat.db')}`,
        APP_DIST_DIR: path.join(root, 'dist'),
        APP_DEMO_DATA: 'true',
        APP_LOG: 'warn',
        APP_RATE_LIMIT_SCALE: '10',
        APP_MEDIA_DIR: path.join(dataDir, 'wechat-media'),
        APP_UPLOAD_DIR: path.join(dataDir, 'wechat-uploads'),
        APP_PAYMENT_PROVIDER: 'wechat',
        APP_WECHATPAY_MCHID: '1900000109',
        APP_WECHATPAY_APPID: 'wx8888888888888888',
        APP_WECHATPAY_SERIAL_NO: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
        APP_WECHATPAY_PRIVATE_KEY_FILE: path.join(simDir, 'merchant.pem'),
        APP_WECHATPAY_PLATFORM_KEY_FILE: path.join(simDir, 'platform.pem'),
        APP_WECHATPAY_PLATFORM_SERIAL: 'PUB_KEY_ID_0114232134912410000000000000',
        APP_WECHATPAY_APIV3_KEY: '0123456789abcdefghijklmnopqrstuv',
        APP_WECHATPAY_NOTIFY_URL: `${wechatAppUrl}/payments/wechat/notify`,
        APP_WECHATPAY_API_BASE: `http://127.0.0.1:${simPort}`,
        APP_WECHAT_APPSECRET: 'test-app-secret-0123456789abcdef',
        APP_WECHAT_OAUTH_URL: `http://127.0.0.1:${simPort}/connect/oauth2/authorize`,
        APP_WECHAT_API_BASE: `http://127.0.0.1:${simPort}`,
      },
    },
  ],
});
