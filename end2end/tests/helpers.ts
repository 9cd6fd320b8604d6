import { test as base, expect, type Page } from '@playwright/test';

// Steps shared by the browser tests: signing in through latchkey's built-in
// development identity providers, as a person would do it.

/**
 * Playwright's `test`, watching every page for Content-Security-Policy violations (the
 * browser reports each as a `securitypolicyviolation` event and a console error): a test
 * whose pages broke the policy fails, so every test proves its pages work under the CSP.
 */
export const test = base.extend<{ cspViolations: string[] }>({
  cspViolations: [
    async ({ page }, use) => {
      const violations: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' && /Content.Security.Policy/i.test(message.text())) {
          violations.push(message.text());
        }
      });
      await page.exposeFunction('__e2eCspViolation', (text: string) => violations.push(text));
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (event) => {
          (window as any).__e2eCspViolation(`${event.violatedDirective} blocked ${event.blockedURI}`);
        });
      });
      await use(violations);
      expect(violations, 'no Content-Security-Policy violation on any page').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

let counter = 0;

/** A name and an e-mail address no other test run has used. */
export function uniquePerson() {
  const id = `${Date.now()}-${process.pid}-${++counter}`;
  return {
    name: `Test Person ${id}`,
    email: `test.person.${id}@example.com`,
  };
}

/** Waits until the page's path (without query) is `pathname`. */
export async function expectPath(page: Page, pathname: string) {
  await expect
    .poll(() => new URL(page.url()).pathname, { message: `expected to be on ${pathname}` })
    .toBe(pathname);
}

// Record when the page's WebAssembly module is instantiated: Leptos hydrates
// right after that (its hydration script may first wait for an idle callback,
// up to 2 s, so network idle alone is not enough). There is no hydration flag
// in the product, so the tests wait for this and for the network to go idle
// before they rely on client-side behaviour.
export async function trackWasm(page: Page) {
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

export async function waitForHydration(page: Page) {
  await page.waitForLoadState('load');
  await page.waitForLoadState('networkidle');
  // No fixed waits: a page that never instantiates its module fails here, with the reason.
  await page.waitForFunction(() => (window as any).__e2eWasmReady === true, null, { timeout: 30_000 });
  // hydrate() runs in the promise callbacks after instantiation; let them and
  // any resources resolved from the serialized SSR data settle.
  await page.waitForLoadState('networkidle');
  await page.evaluate(
    () => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))),
  );
}

/** From `/`, follow the dev provider's sign-in link to its authorize page. */
export async function openDevProvider(page: Page, provider = 'Dev provider', mount = '/dev-idp') {
  await page.goto('/');
  const signIn = page.getByRole('link', { name: `Sign in with ${provider}`, exact: true });
  await expect(signIn).toBeVisible();
  await signIn.click();
  await expectPath(page, `${mount}/authorize`);
  expect(new URL(page.url()).search, 'the authorize request carries its parameters').not.toBe('');

  await expect(page.getByRole('textbox', { name: 'Name', exact: true })).toBeVisible();
  await expect(page.getByRole('textbox', { name: 'Email', exact: true })).toBeVisible();
  await expect(page.getByRole('checkbox', { name: 'Email verified' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Continue' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Deny' })).toBeVisible();
}

/** On a dev provider's authorize page: answers as `person` and continues. */
export async function continueAtDevProvider(page: Page, person: { name: string; email: string }) {
  await page.getByRole('textbox', { name: 'Name', exact: true }).fill(person.name);
  await page.getByRole('textbox', { name: 'Email', exact: true }).fill(person.email);
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** From /accounts: links `person` at "Dev provider 2"; ends back on /accounts. */
export async function linkDevProvider2(page: Page, person: { name: string; email: string }) {
  await page.getByRole('button', { name: 'Link Dev provider 2', exact: true }).click();
  await expectPath(page, '/dev-idp2/authorize');
  await continueAtDevProvider(page, person);
  await expectPath(page, '/accounts');
}

/** The row of the linked-accounts list that shows `email`. */
export function identityRow(page: Page, email: string) {
  return page.getByRole('listitem').filter({ hasText: email });
}

/** Signs in as `person` through the dev provider; ends on /profile. */
export async function signIn(
  page: Page,
  person: { name: string; email: string },
  provider = 'Dev provider',
  mount = '/dev-idp',
) {
  await openDevProvider(page, provider, mount);
  await continueAtDevProvider(page, person);
  await expectPath(page, '/profile');
  await expect(page.getByRole('heading', { level: 1 })).toContainText(person.name);
}
