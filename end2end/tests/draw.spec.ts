import { test, expect } from './fixtures';
import { hostWithSession, newPhone } from './helpers';

// A lucky draw end to end at 390x844: the host starts a draw in the studio while live; three
// phones see the draw card and enter; the host draws now; one winner is drawn and every phone
// sees the same winner announced.

test('lucky draw: three phones enter, one winner is drawn and announced to all', async ({ browser }, testInfo) => {
  const { host, sessionId, goLive, end } = await hostWithSession(testInfo, 'Lucky draw', [
    { name: 'Serum', category: 'Cosmetics', price: '199.00', stock: 100 },
  ]);
  await goLive();

  const studio = await browser.newContext({ storageState: await host.storageState(), baseURL: testInfo.project.use.baseURL });
  const desk = await studio.newPage();
  await desk.goto(`/studio/s/${sessionId}`);
  const draws = desk.getByRole('region', { name: 'Lucky draws' });
  await draws.getByLabel('Prize', { exact: true }).fill('Serum 30 ml');
  await draws.getByLabel('Winners').fill('1');
  await draws.getByLabel('Countdown (seconds)').fill('300');
  await draws.getByRole('button', { name: 'Start the draw' }).click();
  await expect(desk.getByText('Draw started.')).toBeVisible();

  const phones = [await newPhone(browser, testInfo), await newPhone(browser, testInfo), await newPhone(browser, testInfo)];
  for (const v of phones) {
    await v.page.goto(`/s/${sessionId}`);
    await expect(v.page.getByRole('region', { name: 'Live room' })).toBeVisible();
    const card = v.page.getByRole('complementary', { name: 'Lucky draw' });
    await expect(card).toContainText('Serum 30 ml');
    await expect(card.getByRole('timer')).toContainText('Draws in');
    await card.getByRole('button', { name: 'Enter the draw' }).click();
    await expect(card.getByRole('status')).toHaveText("You're in! Good luck.");
  }
  await expect(draws).toContainText('3 entered so far', { timeout: 10_000 });

  await draws.getByRole('button', { name: 'Close and draw now' }).click();
  await expect(desk.getByText('Draw closed: winners drawn.')).toBeVisible();
  await expect(draws).toContainText('Closed: 3 entered');

  // Every phone sees the same single winner, masked.
  const announced: string[] = [];
  for (const v of phones) {
    const winners = v.page.getByRole('complementary', { name: 'Lucky draw' }).getByRole('status');
    await expect(winners).toHaveText(/^Winners: \S+\*\*\*$/);
    announced.push((await winners.textContent()) ?? '');
  }
  expect(new Set(announced).size).toBe(1);

  await end();
  for (const v of phones) await v.context.close();
  await studio.close();
  await host.dispose();
});
