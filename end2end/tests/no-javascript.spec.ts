import {
  continueAtDevProvider,
  expect,
  expectPath,
  identityRow,
  linkDevProvider2,
  openDevProvider,
  signIn,
  test,
  uniquePerson,
} from './helpers';

// With JavaScript off, every page is whole when it arrives and every change is a plain form
// post, answered with a redirect back to its page that says what happened.
test.use({ javaScriptEnabled: false });

test('without JavaScript: sign in, rename, link, unlink, sign out another browser, sign out', async ({
  page,
  browser,
}) => {
  const person = uniquePerson();
  const work = { name: person.name, email: person.email.replace('@example.com', '@work.example.org') };
  await signIn(page, person);

  const newName = `Renamed Without Script ${Date.now()}`;
  await page.getByRole('textbox', { name: 'Display name' }).fill(newName);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expectPath(page, '/profile');
  await expect(page.getByRole('heading', { level: 1 })).toContainText(newName);
  await expect(page.locator('main')).toContainText('Saved.');

  await page.goto('/accounts');
  await linkDevProvider2(page, work);
  await expect(identityRow(page, work.email)).toContainText('Dev provider 2');

  await identityRow(page, work.email).getByRole('button', { name: 'Unlink' }).click();
  await expectPath(page, '/accounts');
  await expect(identityRow(page, work.email)).toHaveCount(0);
  await expect(identityRow(page, person.email)).toBeVisible();

  // The same person in a second browser; the first signs it out.
  const other = await browser.newContext({ javaScriptEnabled: false });
  const otherPage = await other.newPage();
  await openDevProvider(otherPage);
  await continueAtDevProvider(otherPage, person);
  await expectPath(otherPage, '/profile');
  await page.goto('/sessions');
  await page.getByRole('button', { name: 'Sign out this session' }).click();
  await expectPath(page, '/sessions');
  await expect(page.locator('main')).toContainText('Signed out.');
  await otherPage.goto('/profile');
  await expectPath(otherPage, '/');
  await other.close();

  await page.getByRole('button', { name: 'Sign out', exact: true }).first().click();
  await expectPath(page, '/');
  await expect(page.getByRole('link', { name: 'Sign in with Dev provider', exact: true })).toBeVisible();
});
