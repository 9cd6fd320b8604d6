import { expect, test, type Page, type Response } from '@playwright/test';

// Sign-in through latchkey's built-in development identity provider
// (LATCHKEY_DEV_IDP=true), as a person would do it in the browser.

let counter = 0;

/** A name and an e-mail address no other test run has used. */
function uniquePerson() {
  const id = `${Date.now()}-${process.pid}-${++counter}`;
  return {
    name: `Test Person ${id}`,
    email: `test.person.${id}@example.com`,
  };
}

/** Waits until the page's path (without query) is `pathname`. */
async function expectPath(page: Page, pathname: string) {
  await expect
    .poll(() => new URL(page.url()).pathname, { message: `expected to be on ${pathname}` })
    .toBe(pathname);
}

// Record when the page's WebAssembly module is instantiated: Leptos hydrates
// right after that (its hydration script may first wait for an idle callback,
// up to 2 s, so network idle alone is not enough). There is no hydration flag
// in the product, so the tests wait for this and for the network to go idle
// before they rely on client-side behaviour.
async function trackWasm(page: Page) {
  await page.addInitScript(() => {
    const w = window as any;
    w.__e2eWasmReady = false;
    const mark = <T,>(p: Promise<T>): Promise<T> =>
      p.then((r) => {
        w.__e2eWasmReady = true;
        return r;
      });
    const wa = WebAssembly as any;
    const streaming = wa.instantiateStreaming?.bind(WebAssembly);
    const instantiate = wa.instantiate.bind(WebAssembly);
    if (streaming) wa.instantiateStreaming = (...args: any[]) => mark(streaming(...args));
    wa.instantiate = (...args: any[]) => mark(instantiate(...args));
  });
}

async function waitForHydration(page: Page) {
  await page.waitForLoadState('load');
  await page.waitForLoadState('networkidle');
  const instantiated = await page
    .waitForFunction(() => (window as any).__e2eWasmReady === true, null, { timeout: 30_000 })
    .then(() => true, () => false);
  if (!instantiated) {
    // Loaded some other way? Fall back to outwaiting the idle-callback backstop.
    console.warn('no WebAssembly instantiation seen on the page; waiting 3 s for hydration instead');
    await page.waitForTimeout(3_000);
  }
  // hydrate() runs in the promise callbacks after instantiation; let them and
  // any resources resolved from the serialized SSR data settle.
  await page.waitForLoadState('networkidle');
  await page.evaluate(
    () => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))),
  );
}

/** From `/`, follow the dev provider's sign-in link to its authorize page. */
async function openDevProvider(page: Page) {
  await page.goto('/');
  const signIn = page.getByRole('link', { name: 'Sign in with Dev provider' });
  await expect(signIn).toBeVisible();
  await signIn.click();
  await expectPath(page, '/dev-idp/authorize');
  expect(new URL(page.url()).search, 'the authorize request carries its parameters').not.toBe('');

  await expect(page.getByRole('textbox', { name: 'Name', exact: true })).toBeVisible();
  await expect(page.getByRole('textbox', { name: 'Email', exact: true })).toBeVisible();
  await expect(page.getByRole('checkbox', { name: 'Email verified' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Continue' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Deny' })).toBeVisible();
}

/** Signs in as `person` through the dev provider; ends on /profile. */
async function signIn(page: Page, person: { name: string; email: string }) {
  await openDevProvider(page);
  await page.getByRole('textbox', { name: 'Name', exact: true }).fill(person.name);
  await page.getByRole('textbox', { name: 'Email', exact: true }).fill(person.email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expectPath(page, '/profile');
  await expect(page.getByRole('heading', { level: 1 })).toContainText(person.name);
}

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
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText(newName);
  expect(await page.evaluate(() => (window as any).__noReload), 'saving must not reload the page').toBe(true);
  await expectPath(page, '/profile');

  // The new name was stored on the server.
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toContainText(newName);

  // Sign out: a plain form POST that lands on the home page.
  await page
    .getByRole('button', { name: 'Sign out' })
    .or(page.getByRole('link', { name: 'Sign out' }))
    .click();
  await expectPath(page, '/');
  await expect(page.getByRole('link', { name: 'Sign in with Dev provider' })).toBeVisible();

  // The profile is no longer reachable.
  await page.goto('/profile');
  await expectPath(page, '/');
  await expect(page.getByRole('link', { name: 'Sign in with Dev provider' })).toBeVisible();
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
