import { expect, expectPath, signIn, test, uniquePerson } from './helpers';

// Signing out of the provider too: latchkey ends its session, the development provider's
// end-session endpoint signs the person out there and sends the browser back home.

test('sign out of the provider too: the browser lands back on the signed-out home page', async ({ page }) => {
  await signIn(page, uniquePerson());
  await expectPath(page, '/profile');

  await page.getByRole('button', { name: 'Sign out of Dev provider too' }).click();

  await expectPath(page, '/');
  await expect(page.getByRole('status')).toHaveText('You are signed out of latchkey and of Dev provider.');
  await expect(page.getByRole('link', { name: 'Sign in with Dev provider', exact: true })).toBeVisible();
  await page.goto('/profile');
  await expectPath(page, '/');
});
