import { expect, expectPath, signIn, test, uniquePerson } from './helpers';

// An admin (LATCHKEY_ADMINS in playwright.config.ts) finds a person and disables their
// account: the person's open browser is signed out at its next navigation.

test('an admin disables a user, whose open browser is signed out', async ({ page, browser }) => {
  const person = uniquePerson();
  await signIn(page, person);

  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await signIn(admin, { name: 'E2E Admin', email: 'e2e-admin@example.com' });
  await admin.goto(`/admin/users?q=${encodeURIComponent(person.email)}`);
  await admin.getByRole('link', { name: person.name }).click();
  await expect(admin.getByRole('heading', { level: 1, name: person.name })).toBeVisible();
  await admin.getByRole('button', { name: 'Disable this account' }).click();
  await expect(admin.getByRole('status').filter({ hasText: 'The account is disabled' })).toBeVisible();
  await expect(admin.getByRole('button', { name: 'Enable this account' })).toBeVisible();
  await adminContext.close();

  await page.goto('/profile');
  await expectPath(page, '/');
  await expect(page.getByRole('link', { name: 'Sign in with Dev provider', exact: true })).toBeVisible();
});

test('a person who is not an admin gets a 404 under /admin', async ({ page }) => {
  await signIn(page, uniquePerson());
  const answer = await page.goto('/admin/users');
  expect(answer?.status()).toBe(404);
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
});
