import { test, expect } from './fixtures';
import { hostWithSession, newPhone } from './helpers';

// A private rehearsal at 390x844: the host rehearses in the studio (presents a product, says
// something in the chat) while a shopper's phone on the session page keeps seeing "starts in"
// and no live room, before and after a reload. Going live for real switches the shopper to the
// live room with nothing of the rehearsal: no card, no rehearsal chat.

test('rehearsal: invisible to a shopper until the real show', async ({ browser }, testInfo) => {
  test.setTimeout(120_000);
  const { host, sessionId } = await hostWithSession(testInfo, 'Rehearsal', [
    { name: 'Jade Roller', category: 'Beauty', price: '59.00', stock: 30 },
  ]);
  const studio = await browser.newContext({ storageState: await host.storageState(), baseURL: testInfo.project.use.baseURL });
  const desk = await studio.newPage();
  await desk.goto(`/studio/s/${sessionId}`);
  const ros = desk.getByRole('region', { name: 'Run of show' });
  await ros.getByRole('button', { name: 'Rehearse privately' }).click();
  await expect(ros.getByRole('status')).toContainText('only your team sees this room');

  // The shopper opens the session page meanwhile.
  const phone = await newPhone(browser, testInfo);
  await phone.page.goto(`/s/${sessionId}`);
  const box = phone.page.getByRole('region', { name: 'Reservation' });
  await expect(box.getByRole('timer')).toContainText(/Starts in \d/);

  // The team rehearses: a card and a chat line.
  await ros.getByRole('button', { name: 'Next product' }).click();
  await expect(ros).toContainText('Jade Roller');
  const chat = desk.getByRole('region', { name: 'Live chat' });
  await expect(chat.getByText('Connecting…')).toBeHidden();
  await chat.getByRole('textbox', { name: 'Say something as the host' }).fill('Mic check, one two');
  await chat.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(chat.getByText('Mic check, one two')).toBeVisible();

  // The shopper sees none of it, even after a reload.
  await phone.page.waitForTimeout(1500);
  await expect(phone.page.getByRole('region', { name: 'Live room' })).toHaveCount(0);
  await expect(phone.page.getByRole('article', { name: 'Explaining now' })).toHaveCount(0);
  await phone.page.reload();
  await expect(phone.page.getByRole('region', { name: 'Reservation' }).getByRole('timer')).toContainText(/Starts in \d/);
  await expect(phone.page.getByRole('region', { name: 'Live room' })).toHaveCount(0);
  await expect(phone.page.getByText('Mic check, one two')).toHaveCount(0);

  // The real show: the shopper's page switches to the live room, with nothing rehearsed.
  await ros.getByRole('button', { name: 'Go live for real' }).click();
  await expect(phone.page.getByRole('region', { name: 'Live room' })).toBeVisible({ timeout: 20_000 });
  await expect(phone.page.getByText('Reconnecting…')).toBeHidden({ timeout: 15_000 });
  await expect(phone.page.getByRole('article', { name: 'Explaining now' })).toHaveCount(0);
  await expect(phone.page.getByText('Mic check, one two')).toHaveCount(0);
  await studio.close();
});
