import { test, expect } from '@playwright/test';
test('diag', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== 'mobile-wechat');
  await page.goto('/');
  await page.getByRole('link', { name: /Xiaoxiaobao/ }).click();
  await page.getByRole('button', { name: 'Reserve' }).click();
  const panel = page.getByRole('region', { name: 'Invite friends, both get 50% off' });
  await expect(panel.getByRole('textbox', { name: 'Your invite link' })).toHaveValue(/\/i\//);
  await page.evaluate(() => {
    (window as any).log = [];
    new MutationObserver((ms) => { for (const m of ms) for (const n of m.removedNodes) if (n instanceof HTMLElement) (window as any).log.push(`${Date.now()} removed ${n.tagName}.${n.className} in ${(m.target as HTMLElement).className}`); })
      .observe(document.body, { childList: true, subtree: true });
  });
  await panel.getByRole('button', { name: 'Create poster' }).click();
  console.log('poster visible now', await panel.locator('figure.poster').isVisible());
  await page.waitForTimeout(9000);
  console.log('poster visible after 9s', await page.locator('figure.poster').isVisible());
  await page.getByRole('textbox', { name: 'Your name on invites' }).fill('Xiaomei');
  await page.getByRole('button', { name: 'Save name' }).click();
  await page.waitForTimeout(1500);
  console.log('status', JSON.stringify(await page.locator('.share-panel .status').textContent()), 'name input', await page.getByRole('textbox', { name: 'Your name on invites' }).inputValue());
  const v = await page.request.get(`/api/sessions/viewer?session_id=${page.url().split('/').pop()}`);
  console.log('server nickname', (await v.json()).me.nickname);
  console.log(await page.evaluate(() => (window as any).log.join('\n')));
});
