import config from './playwright.config';
import { defineConfig } from '@playwright/test';

// Benchmarks in the browser (not part of the test suite): ./scripts/bench-video.sh
export default defineConfig({
  ...config,
  testDir: './bench',
  reporter: [['list']],
  projects: [config.projects![0]],
});
