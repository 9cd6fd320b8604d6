// A real, third-party OpenID Connect provider for the browser tests: the npm package
// `oidc-provider` (OpenID Certified), with its development-only login and consent pages.
//
// Configured entirely from the environment (playwright.config.ts sets it):
//   E2E_OP_HOST, E2E_OP_PORT  where to listen (default 127.0.0.1:3200); the issuer is
//                             http://HOST:PORT, with no trailing slash
//   E2E_OP_CLIENTS            JSON array of {client_id, client_secret, redirect_uris}
//
// Accounts: any login typed on the login page (any password) is an account whose
// subject is that login, with the claims that `accountClaims` below derives from it;
// tests/third-party.spec.ts derives the same.
//
// Plain http on loopback, in memory, a signing key made at start: for tests only.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const HOST = process.env.E2E_OP_HOST ?? '127.0.0.1';
const PORT = Number(process.env.E2E_OP_PORT ?? 3200);
const ISSUER = `http://${HOST}:${PORT}`;

const clients = JSON.parse(process.env.E2E_OP_CLIENTS ?? '[]');
if (!Array.isArray(clients) || clients.length === 0) {
  console.error('E2E_OP_CLIENTS must be a JSON array of {client_id, client_secret, redirect_uris}');
  process.exit(2);
}

/** The claims of the account whose login (and subject) is `login`. */
function accountClaims(login) {
  return {
    sub: login,
    name: `OP Person ${login}`,
    email: `${login}@op.example.com`,
    email_verified: true,
  };
}

// A fresh ES256 signing key for this run.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: randomUUID() };

const configuration = {
  clients: clients.map(({ client_id, client_secret, redirect_uris }) => ({
    client_id,
    client_secret,
    redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  // Which claims each scope releases (to userinfo; the ID token carries them only when
  // asked for by the `claims` parameter, as oidc-provider conforms to Core 5.4).
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  pkce: { required: () => true },
  // Short, fixed lifetimes (seconds): a test run is short.
  ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
  features: {
    devInteractions: { enabled: true },
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return accountClaims(id);
      },
    };
  },
};

const provider = new Provider(ISSUER, configuration);

provider.on('server_error', (ctx, err) => console.error('[op] server_error', err));
for (const event of ['authorization.error', 'grant.error', 'userinfo.error', 'introspection.error']) {
  provider.on(event, (ctx, err) => console.error(`[op] ${event}: ${err.name}: ${err.message}`, err.error_description ?? ''));
}
provider.on('grant.success', (ctx) => console.log(`[op] token issued to ${ctx.oidc.client?.clientId}`));

const server = provider.listen(PORT, HOST, () => {
  console.log(`[op] oidc-provider listening; issuer ${ISSUER}; clients ${clients.map((c) => c.client_id).join(', ')}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
