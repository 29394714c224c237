import { test, expect } from './fixtures';
import { hostWithSession, newPhone } from './helpers';

// A moderator on a phone, end to end at 390x844: the owner makes a one-time moderator link on
// the team page; the moderator opens it on a phone, creates their account and opens the
// session's moderation page. While the host presents a product, the moderator pins a note
// (a shopper's phone sees it above the chat, and again after a reload) and deletes a
// shopper's message (it disappears from the other phone); a shopper reports a message and the
// moderator finds it in the reports queue.

test('moderator: joins by invite, pins a note, removes a message and sees a report', async ({ browser }, testInfo) => {
  test.setTimeout(120_000);
  const { host, sessionId, productIds, goLive, present, end } = await hostWithSession(testInfo, 'Moderation', [
    { name: 'Silk Scarf', category: 'Accessories', price: '89.00', stock: 40 },
  ]);

  // The owner makes a moderator's link on the team page and reads it from there.
  const studio = await browser.newContext({ storageState: await host.storageState(), baseURL: testInfo.project.use.baseURL });
  const desk = await studio.newPage();
  await desk.goto('/studio/team');
  const invite = desk.getByRole('region', { name: 'Invite a co-worker' });
  await invite.getByRole('combobox', { name: 'Role' }).selectOption({ label: 'Moderator' });
  await invite.getByRole('textbox', { name: 'Who it is for (optional)' }).fill('Chat on phones');
  await invite.getByRole('button', { name: 'Make invite link' }).click();
  await expect(invite.getByRole('status')).toContainText('A one-time link for a Moderator');
  const link = invite.getByRole('textbox', { name: 'Invite link' });
  await expect(link).toHaveValue(/\/studio\/join\/\S+$/);
  const joinPath = new URL(await link.inputValue()).pathname;

  // The moderator joins on a phone.
  const mod = await newPhone(browser, testInfo);
  await mod.page.goto(joinPath);
  await expect(mod.page.getByRole('heading', { name: /^Join .* as Moderator$/ })).toBeVisible();
  const tag = `${testInfo.project.name}-${Date.now()}`;
  await mod.page.getByRole('textbox', { name: 'Display name' }).fill('Mo Moderator');
  await mod.page.getByRole('textbox', { name: 'Email' }).fill(`mod-${tag}@example.com`);
  await mod.page.getByLabel('Password').fill('another long password');
  await mod.page.getByRole('button', { name: 'Create account and join' }).click();
  await expect(mod.page).toHaveURL(/\/studio$/);
  // The owner sees the new member.
  await desk.reload();
  await expect(desk.getByRole('region', { name: 'Members' })).toContainText('Mo Moderator');

  // Live, presenting; two shoppers in the room.
  await goLive();
  await present(productIds[0]);
  await mod.page.goto(`/studio/s/${sessionId}/moderate`);
  await expect(mod.page.getByRole('heading', { name: /^Moderation: / })).toBeVisible();
  const chatPanel = mod.page.getByRole('region', { name: 'Live chat' });
  await expect(chatPanel).toBeVisible();
  await expect(chatPanel.getByText('Connecting…')).toBeHidden();

  const a = await newPhone(browser, testInfo);
  const b = await newPhone(browser, testInfo);
  for (const v of [a, b]) {
    await v.page.goto(`/s/${sessionId}`);
    await expect(v.page.getByRole('region', { name: 'Live room' })).toBeVisible();
    await expect(v.page.getByRole('article', { name: 'Explaining now' })).toContainText('Silk Scarf');
    await expect(v.page.getByText('Reconnecting…')).toBeHidden({ timeout: 15_000 });
  }
  const say = async (text: string) => {
    await a.page.getByRole('textbox', { name: 'Say something' }).fill(text);
    await a.page.getByRole('button', { name: 'Send', exact: true }).click();
    await expect(a.page.getByRole('textbox', { name: 'Say something' })).toHaveValue('');
  };

  // The moderator pins a note: the shopper sees it above the chat, and again after a reload.
  await chatPanel.getByRole('textbox', { name: 'Pin a note above the chat' }).fill('Free shipping on scarves today');
  await chatPanel.getByRole('button', { name: 'Pin', exact: true }).click();
  await expect(mod.page.getByText('Note pinned for everyone.')).toBeVisible();
  const pin = b.page.getByRole('note', { name: 'Pinned note' });
  await expect(pin).toContainText('Free shipping on scarves today');
  await b.page.reload();
  await expect(b.page.getByRole('region', { name: 'Live room' })).toBeVisible();
  await expect(b.page.getByRole('note', { name: 'Pinned note' })).toContainText('Free shipping on scarves today');

  // The moderator deletes a shopper's message: it leaves the other phone's chat.
  const chatB = b.page.getByRole('list', { name: 'Chat' });
  await say('cheap followers at spam.example');
  await say('is the scarf pure silk?');
  await expect(chatB).toContainText('cheap followers at spam.example');
  await expect(chatB).toContainText('is the scarf pure silk?');
  const spamLine = chatPanel.getByRole('listitem').filter({ hasText: 'cheap followers at spam.example' });
  await spamLine.getByRole('button', { name: /^Delete message from / }).click();
  await expect(mod.page.getByText('Message deleted.')).toBeVisible();
  await expect(chatB).not.toContainText('cheap followers at spam.example');
  await expect(chatB).toContainText('is the scarf pure silk?');
  await expect(chatPanel).not.toContainText('cheap followers at spam.example');

  // A shopper reports a message; the moderator sees it queued.
  await say('DM me for a better price');
  const line = chatB.getByRole('button', { name: /: tap to report$/ }).filter({ hasText: 'DM me for a better price' });
  await line.click();
  const report = b.page.getByRole('group', { name: /^Report .*'s message\?$/ });
  await report.getByRole('button', { name: 'Scam' }).click();
  await expect(report.getByRole('status')).toHaveText('Thanks: a moderator will look at it.');
  const reports = mod.page.getByRole('region', { name: 'Reported messages' });
  const reported = reports.getByRole('listitem').filter({ hasText: 'DM me for a better price' });
  await expect(reported).toContainText('reported by 1 (Scam)', { timeout: 10_000 });

  await end();
  for (const c of [a, b, mod]) await c.context.close();
  await studio.close();
  await host.dispose();
});
