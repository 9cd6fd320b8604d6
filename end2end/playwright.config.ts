import { defineConfig, devices } from '@playwright/test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Browser tests for latchkey. They run against the server binary that
// `cargo leptos build` already built (`bash .ci/test` does both); nothing is
// compiled here. Debian's Chromium is used: Playwright's own browser
// downloads cannot be fetched on our machines.

// LATCHKEY_E2E_PORT / LATCHKEY_E2E_OP_PORT move the two servers, e.g. for a second run
// beside one already going on the same machine.
const PORT = Number(process.env.LATCHKEY_E2E_PORT ?? 3100);
const BASE_URL = `http://127.0.0.1:${PORT}`;

// The third-party OpenID Connect provider (op/server.mjs, npm `oidc-provider`) and its two
// clients: latchkey's providers `op` (kind oidc) and `gop` (kind google, issuer overridden).
const OP_PORT = Number(process.env.LATCHKEY_E2E_OP_PORT ?? 3200);
const OP_ISSUER = `http://127.0.0.1:${OP_PORT}`;
const OP_CLIENTS = {
  op: { client_id: 'latchkey-e2e-op', client_secret: 'e2e-op-secret-not-for-production' },
  gop: { client_id: 'latchkey-e2e-gop', client_secret: 'e2e-gop-secret-not-for-production' },
};

// The repository root (this file lives in <root>/end2end).
const ROOT = path.resolve(__dirname, '..');

// The already-built server binary; `.ci/test` points this at
// ${CARGO_TARGET_DIR:-target}/debug/latchkey.
const SERVER_BIN = path.resolve(__dirname, process.env.LATCHKEY_BIN ?? '../target/debug/latchkey');

// `cargo leptos build` always writes the site to <root>/target/site, even when
// CARGO_TARGET_DIR points elsewhere.
const SITE_ROOT = path.resolve(__dirname, '../target/site');

// A fresh, empty data directory for every run, removed when the run ends
// (set LATCHKEY_E2E_KEEP_DATA=1 to keep it). Playwright evaluates this file
// again in each worker process; the environment variable makes them all agree
// on the directory the main process created (workers inherit its env).
if (!process.env.LATCHKEY_E2E_DATA_DIR) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-e2e-'));
  process.env.LATCHKEY_E2E_DATA_DIR = dir;
  if (!process.env.LATCHKEY_E2E_KEEP_DATA) {
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
}
const DATA_DIR = process.env.LATCHKEY_E2E_DATA_DIR;

const CHROMIUM = process.env.LATCHKEY_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  // Debug builds on 2 cores are slow to serve the first (large) wasm bundle.
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: 'list',
  use: {
    baseURL: BASE_URL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    video: 'off',
    navigationTimeout: 30_000,
    actionTimeout: 15_000,
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: {
          executablePath: CHROMIUM,
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            '--disable-quic',
          ],
        },
      },
    },
  ],
  webServer: [
    // The third-party OpenID Connect provider (npm `oidc-provider`); started first, so that
    // it answers before latchkey starts.
    {
      command: 'exec node op/server.mjs',
      cwd: __dirname,
      url: `${OP_ISSUER}/.well-known/openid-configuration`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: 'pipe',
      stderr: 'pipe',
      gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
      env: {
        E2E_OP_HOST: '127.0.0.1',
        E2E_OP_PORT: String(OP_PORT),
        E2E_OP_CLIENTS: JSON.stringify(
          Object.entries(OP_CLIENTS).map(([id, client]) => ({
            ...client,
            redirect_uris: [`${BASE_URL}/auth/${id}/callback`],
          })),
        ),
      },
    },
    {
      // `command` goes through a shell: quote the path, and exec so that the
      // shutdown signal reaches the server itself.
      command: `exec '${SERVER_BIN.replace(/'/g, `'\\''`)}'`,
      cwd: ROOT,
      url: `${BASE_URL}/`,
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: 'pipe',
      stderr: 'pipe',
      gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
      env: {
        LEPTOS_SITE_ADDR: `127.0.0.1:${PORT}`,
        LEPTOS_SITE_ROOT: SITE_ROOT,
        LEPTOS_SITE_PKG_DIR: 'pkg',
        LEPTOS_OUTPUT_NAME: 'latchkey',
        LATCHKEY_PUBLIC_URL: BASE_URL,
        // Two independent development providers ("Dev provider", "Dev provider 2") for linking.
        LATCHKEY_DEV_IDP: '2',
        LATCHKEY_DATA_DIR: DATA_DIR,
        // The admin of admin.spec.ts.
        LATCHKEY_ADMINS: 'e2e-admin@example.com',
        RUST_LOG: 'info',
        // Two providers backed by the real OpenID Connect provider above (op/server.mjs):
        // one configured as a generic OpenID Connect provider, one as Google pointed at it.
        LATCHKEY_PROVIDER_OP_KIND: 'oidc',
        LATCHKEY_PROVIDER_OP_ISSUER: OP_ISSUER,
        LATCHKEY_PROVIDER_OP_CLIENT_ID: OP_CLIENTS.op.client_id,
        LATCHKEY_PROVIDER_OP_CLIENT_SECRET: OP_CLIENTS.op.client_secret,
        LATCHKEY_PROVIDER_OP_NAME: 'Test OP',
        LATCHKEY_PROVIDER_GOP_KIND: 'google',
        LATCHKEY_PROVIDER_GOP_ISSUER: OP_ISSUER,
        LATCHKEY_PROVIDER_GOP_CLIENT_ID: OP_CLIENTS.gop.client_id,
        LATCHKEY_PROVIDER_GOP_CLIENT_SECRET: OP_CLIENTS.gop.client_secret,
        LATCHKEY_PROVIDER_GOP_NAME: 'Google (test)',
      },
    },
  ],
});
