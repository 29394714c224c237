import { test, expect } from './fixtures';
import { hostWithSession, newPhone } from './helpers';

// Chat rules end to end at 390x844: the host sets a blocked word and a word held for review in
// the studio while live; a phone is refused the blocked word (however it is spaced), is told
// its held message waits for a moderator, and the other phone sees it only once the host lets
// it through.

test('chat rules: a blocked word is refused, a held message reaches the room only when the host allows it', async ({ browser, allowConsoleErrors }, testInfo) => {
  allowConsoleErrors(/status of 400/); // the refused message is answered 400, as it should
  const { host, sessionId, goLive, end } = await hostWithSession(testInfo, 'Chat rules', [
    { name: 'Peach Lip Balm', category: 'Cosmetics', price: '39.00', stock: 100 },
  ]);
  await goLive();

  const studio = await browser.newContext({ storageState: await host.storageState(), baseURL: testInfo.project.use.baseURL });
  const desk = await studio.newPage();
  await desk.goto(`/studio/s/${sessionId}`);
  const rules = desk.getByRole('region', { name: 'Chat rules' });
  await rules.getByLabel('Blocked words (refused), one per line').fill('加微信');
  await rules.getByLabel('Held for review, one per line').fill('cheap');
  await rules.getByRole('button', { name: 'Save chat rules' }).click();
  await expect(desk.getByText('Chat rules saved.')).toBeVisible();

  const a = await newPhone(browser, testInfo);
  const b = await newPhone(browser, testInfo);
  for (const v of [a, b]) {
    await v.page.goto(`/s/${sessionId}`);
    await expect(v.page.getByRole('region', { name: 'Live room' })).toBeVisible();
    await expect(v.page.getByText('Reconnecting…')).toBeHidden({ timeout: 15_000 });
  }
  const say = async (text: string) => {
    await a.page.getByRole('textbox', { name: 'Say something' }).fill(text);
    await a.page.getByRole('button', { name: 'Send', exact: true }).click();
  };

  // The blocked word, spaced out: refused with a reason; nobody sees it.
  await say('加 微 信 送红包');
  await expect(a.page.getByRole('alert').filter({ hasText: 'does not allow' })).toBeVisible();

  // The held word: the sender is told; the other phone does not see it yet.
  await say('so CHEAP, is it real?');
  await expect(a.page.getByRole('status').filter({ hasText: 'Waiting for a moderator' })).toBeVisible();
  await say('hello everyone');
  const chatB = b.page.getByRole('list', { name: 'Chat' });
  await expect(chatB).toContainText('hello everyone');
  await expect(chatB).not.toContainText('CHEAP');
  await expect(chatB).not.toContainText('送红包');

  // The host lets it through from the studio: it reaches the room.
  const held = desk.getByRole('region', { name: 'Held for review' });
  await expect(held).toContainText('so CHEAP, is it real?', { timeout: 10_000 });
  await held.getByRole('button', { name: 'Allow' }).click();
  await expect(desk.getByText('Message allowed.')).toBeVisible();
  await expect(chatB).toContainText('so CHEAP, is it real?');
  await expect(held).toContainText('Nothing waiting.');

  await end();
  await a.context.close();
  await b.context.close();
  await studio.close();
  await host.dispose();
});
