import { type Response } from '@playwright/test';
import { expect, expectPath, openDevProvider, signIn, test, trackWasm, uniquePerson, waitForHydration } from './helpers';

// Sign-in through latchkey's built-in development identity provider, as a person would do it.

test('sign in with the dev provider, rename without a reload, sign out', async ({ page }) => {
  await trackWasm(page);
  const person = uniquePerson();

  await signIn(page, person);

  // Client-side: the form is handled by the hydrated app, not by a reload.
  await waitForHydration(page);
  await page.evaluate(() => {
    (window as any).__noReload = true;
  });
  const newName = `Renamed Person ${Date.now()}`;
  await page.getByRole('textbox', { name: 'Display name' }).fill(newName);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText(newName);
  expect(await page.evaluate(() => (window as any).__noReload), 'saving must not reload the page').toBe(true);
  await expectPath(page, '/profile');

  // The new name was stored on the server.
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toContainText(newName);

  // Sign out: a plain form POST that lands on the home page.
  await page
    .getByRole('button', { name: 'Sign out', exact: true })
    .or(page.getByRole('link', { name: 'Sign out', exact: true }))
    .click();
  await expectPath(page, '/');
  await expect(page.getByRole('link', { name: 'Sign in with Dev provider', exact: true })).toBeVisible();

  // The profile is no longer reachable.
  await page.goto('/profile');
  await expectPath(page, '/');
  await expect(page.getByRole('link', { name: 'Sign in with Dev provider', exact: true })).toBeVisible();
});

test('denying at the dev provider shows an error and signs nobody in', async ({ page }) => {
  await openDevProvider(page);

  // The final (non-redirect) document response after "Deny".
  const finalDocument = page.waitForResponse(
    (r: Response) =>
      r.request().isNavigationRequest() &&
      r.request().frame() === page.mainFrame() &&
      (r.status() < 300 || r.status() >= 400),
  );
  await page.getByRole('button', { name: 'Deny' }).click();
  const response = await finalDocument;
  expect(response.status(), `status of ${response.url()}`).toBeGreaterThanOrEqual(400);
  expect(response.status(), `status of ${response.url()}`).toBeLessThan(500);

  await expect(page.locator('body')).toContainText(/cancel|denied/i);
  await expect(
    page.getByRole('link', { name: 'Try again' }).or(page.getByRole('button', { name: 'Try again' })),
  ).toBeVisible();

  // No session was made.
  const me = await page.request.get('/api/me');
  expect(me.status()).toBe(401);
  await page.goto('/profile');
  await expectPath(page, '/');
});

test('/api/me answers 401 without a session and the user with one', async ({ page }) => {
  const before = await page.request.get('/api/me');
  expect(before.status()).toBe(401);

  const person = uniquePerson();
  await signIn(page, person);

  // page.request shares the browser context's cookies.
  const after = await page.request.get('/api/me');
  expect(after.status()).toBe(200);
  const body = await after.json();
  expect(body?.user?.name).toBe(person.name);
});

test('every page names a fresh script nonce in its Content-Security-Policy, and its scripts carry it', async ({
  page,
}) => {
  const nonces: string[] = [];
  for (const path of ['/', '/', '/no-such-page']) {
    const response = await page.request.get(path);
    const policy = response.headers()['content-security-policy'] ?? '';
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("object-src 'none'");
    expect(policy).toContain("base-uri 'none'");
    expect(policy).not.toContain("'unsafe-inline'");
    expect(policy).not.toContain("'unsafe-eval'");
    const nonce = /script-src 'nonce-([A-Za-z0-9_-]+)'/.exec(policy)?.[1];
    expect(nonce, `a nonce in ${policy}`).toBeTruthy();
    expect(await response.text()).toContain(`nonce="${nonce}"`);
    nonces.push(nonce!);
  }
  expect(new Set(nonces).size, 'a new nonce for every response').toBe(nonces.length);
});
