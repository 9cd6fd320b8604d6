import { type Page } from '@playwright/test';
import { expect, expectPath, openDevProvider, signIn, test, uniquePerson } from './helpers';

// Every page, checked by axe-core (WCAG 2.1 A and AA, and axe's best practices) in light and
// dark, at desktop and phone width. A violation fails with what axe says and where.

const AXE = require.resolve('axe-core/axe.min.js');

// axe is injected as a script, which the pages' Content-Security-Policy rightly refuses.
test.use({ bypassCSP: true });

const SCHEMES = ['light', 'dark'] as const;
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

async function expectNoViolations(page: Page, what: string) {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (window as any).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n: any) => `${n.target.join(' ')}: ${n.failureSummary}`),
    }));
  });
  // Soft: one run lists every page's violations.
  expect.soft(violations, `${what}: ${JSON.stringify(violations, null, 2)}`).toEqual([]);
}

/** Checks the page now showing in every colour scheme and width. */
async function checkEverywhere(page: Page, what: string) {
  for (const scheme of SCHEMES) {
    for (const viewport of VIEWPORTS) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width: viewport.width, height: viewport.height });
      await expectNoViolations(page, `${what} (${scheme}, ${viewport.name})`);
    }
  }
}

test('every page passes axe, light and dark, desktop and phone', async ({ page }) => {
  await page.goto('/');
  await checkEverywhere(page, 'home, signed out');

  await openDevProvider(page);
  await checkEverywhere(page, 'the development provider');

  await page.goto('/auth/nobody/login');
  await checkEverywhere(page, 'a sign-in error page');

  const person = uniquePerson();
  await signIn(page, person);
  for (const path of ['/profile', '/accounts', '/sessions', '/activity', '/']) {
    await page.goto(path);
    await expectPath(page, path);
    await expect(page.getByRole('heading', { level: 1 }).first()).toBeVisible();
    await checkEverywhere(page, path);
  }

  await page.goto('/no-such-page');
  await checkEverywhere(page, 'not found');
});
