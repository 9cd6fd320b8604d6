import { expect, expectPath, signIn, test, uniquePerson } from './helpers';

// A provider ends latchkey's sessions: the development provider sends a real, signed
// back-channel logout token, and the browser is signed out at its next navigation.

test('sign out everywhere from the dev provider: the browser is signed out on its next navigation', async ({
  page,
}) => {
  const person = uniquePerson();
  await signIn(page, person);
  await expectPath(page, '/profile');

  await page.goto('/dev-idp/sign-out');
  await page.getByRole('textbox', { name: 'Email' }).fill(person.email);
  await page.getByRole('button', { name: 'Sign this person out everywhere' }).click();
  await expect(page.getByRole('status')).toContainText('was signed out everywhere');

  await page.goto('/profile');
  await expectPath(page, '/');
  await expect(page.getByRole('link', { name: 'Sign in with Dev provider', exact: true })).toBeVisible();
});
