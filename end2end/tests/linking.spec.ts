import { type Page } from '@playwright/test';
import { expect, expectPath, identityRow, linkDevProvider2, signIn, test, uniquePerson } from './helpers';

// One person, two sign-in methods: link a second provider, sign in with either and land in
// the same account, unlink one, and find it all in the security activity log.

async function userId(page: Page): Promise<string> {
  const me = await page.request.get('/api/me');
  expect(me.status()).toBe(200);
  return (await me.json()).user.id;
}

test('link a second provider, sign in with either, unlink it, see it in the activity log', async ({ page }) => {
  const person = uniquePerson();
  const work = { name: person.name, email: person.email.replace('@example.com', '@work.example.org') };

  await signIn(page, person);
  const account = await userId(page);

  // Link "Dev provider 2" from the linked-accounts page.
  await page.getByRole('link', { name: 'Linked accounts' }).first().click();
  await expectPath(page, '/accounts');
  await expect(page.getByRole('heading', { level: 1, name: 'Linked accounts' })).toBeVisible();
  await linkDevProvider2(page, work);
  await expect(identityRow(page, person.email)).toContainText('Dev provider');
  await expect(identityRow(page, work.email)).toContainText('Dev provider 2');

  // Either identity signs in to the same account.
  await page.getByRole('link', { name: 'Profile', exact: true }).click();
  await expectPath(page, '/profile');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expectPath(page, '/');
  await signIn(page, work, 'Dev provider 2', '/dev-idp2');
  expect(await userId(page)).toBe(account);

  // Back to the first identity (unlinking the one a session signed in with ends that session),
  // then unlink the second one (the sign-in just now is recent enough).
  await page.goto('/profile');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expectPath(page, '/');
  await signIn(page, person);
  await page.goto('/accounts');
  await identityRow(page, work.email).getByRole('button', { name: 'Unlink' }).click();
  await expectPath(page, '/accounts');
  await expect(identityRow(page, work.email)).toHaveCount(0);
  await expect(identityRow(page, person.email)).toBeVisible();

  // The activity log tells the story, newest first.
  await page.goto('/activity');
  await expect(page.getByRole('heading', { level: 1, name: 'Security activity' })).toBeVisible();
  await expect(page.locator('main')).toContainText('Unlinked an account');
  await expect(page.locator('main')).toContainText('Linked an account');
  await expect(page.locator('main')).toContainText('Signed in');
});
