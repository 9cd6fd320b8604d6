import { type Page } from '@playwright/test';
import { expect, expectPath, test } from './helpers';

// Sign-in through a real third-party OpenID Connect provider: the npm package
// `oidc-provider` (OpenID Certified), run by op/server.mjs on 127.0.0.1:3200 with its
// development login and consent pages. latchkey knows it twice (playwright.config.ts):
// as `op`, a generic OpenID Connect provider, and as `gop`, kind google with its issuer
// pointed at the same server.

// As in playwright.config.ts.
const OP_ORIGIN = `http://127.0.0.1:${process.env.LATCHKEY_E2E_OP_PORT ?? 3200}`;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

let counter = 0;

/**
 * A login no other test run has used, and the claims op/server.mjs issues for it
 * (its `accountClaims`: the subject is the login itself).
 */
function uniqueOpAccount() {
  const login = `e2e-${Date.now()}-${process.pid}-${++counter}`;
  return {
    login,
    sub: login,
    name: `OP Person ${login}`,
    email: `${login}@op.example.com`,
  };
}

const providers = [
  { id: 'op', label: 'Test OP', kind: 'oidc' },
  { id: 'gop', label: 'Google (test)', kind: 'google' },
];

/** Waits until the page's origin and path (without query) match `pattern`. */
async function expectUrl(page: Page, pattern: RegExp) {
  await expect
    .poll(() => {
      const url = new URL(page.url());
      return `${url.origin}${url.pathname}`;
    }, { message: `expected to be on ${pattern}` })
    .toMatch(pattern);
}

for (const provider of providers) {
  test(`sign in through oidc-provider as latchkey provider "${provider.id}" (${provider.kind}), sign out`, async ({
    page,
    baseURL,
  }) => {
    const account = uniqueOpAccount();

    // The authorization responses latchkey receives from the provider.
    const callbacks: URL[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === `/auth/${provider.id}/callback`) callbacks.push(url);
    });

    // latchkey's home page → the provider's sign-in page.
    await page.goto('/');
    const signIn = page.getByRole('link', { name: `Sign in with ${provider.label}`, exact: true });
    await expect(signIn).toBeVisible();
    await signIn.click();
    await expectUrl(page, new RegExp(`^${escape(OP_ORIGIN)}/interaction/[^/]+$`));

    // oidc-provider's login page: any login, any password.
    const login = page.getByPlaceholder('Enter any login');
    await expect(login).toBeVisible();
    await login.fill(account.login);
    await page.getByPlaceholder('and password').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();

    // Its consent page (a fresh account has granted nothing yet), unless it went straight back.
    const consent = page.getByRole('button', { name: 'Continue' });
    const profileHeading = page.getByRole('heading', { level: 1, name: account.name });
    await expect(consent.or(profileHeading)).toBeVisible();
    if (await consent.isVisible()) {
      await expect(page.locator('body')).toContainText('email');
      await expect(page.locator('body')).toContainText('profile');
      await consent.click();
    }

    // Back at latchkey, signed in as the account the provider issued.
    await expectUrl(page, new RegExp(`^${escape(new URL(baseURL!).origin)}/profile$`));
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(account.name);
    await expect(page.locator('body')).toContainText(account.email);

    // The provider's authorization response reached latchkey's callback with code, state and
    // (RFC 9207, advertised by oidc-provider) its issuer.
    expect(callbacks, 'one authorization response').toHaveLength(1);
    expect(callbacks[0].searchParams.get('code')).toBeTruthy();
    expect(callbacks[0].searchParams.get('state')).toBeTruthy();
    expect(callbacks[0].searchParams.get('iss')).toBe(OP_ORIGIN);

    // /api/me: the user, and the provider's account with the subject the provider issued.
    const me = await page.request.get('/api/me');
    expect(me.status()).toBe(200);
    const body = await me.json();
    expect(body.user).toMatchObject({ name: account.name, email: account.email });
    expect(body.accounts).toEqual([
      expect.objectContaining({
        provider: provider.id,
        subject: account.sub,
        email: account.email,
        email_verified: true,
      }),
    ]);

    // Sign out: back home, and the profile is no longer reachable.
    await page.getByRole('button', { name: 'Sign out', exact: true }).first().click();
    await expectPath(page, '/');
    await expect(signIn).toBeVisible();
    await page.goto('/profile');
    await expectPath(page, '/');
    expect((await page.request.get('/api/me')).status()).toBe(401);
  });
}
