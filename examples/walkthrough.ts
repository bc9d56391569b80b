// The newcomer's walkthrough against a running service (npm start): log a demo user in, exchange the user's token for
// a CRM delegation token as the demo agent, decode it, and verify it against the service's JWKS.
// Run: npm run walkthrough   (env: ISSUER, DEMO_AGENT_SECRET or keys/secrets/demo-agent, DEMO_USER)
// `npm run -s walkthrough -- --print-token` logs the user in and prints only the user's access token, for the curl
// exchange in README: USER_TOKEN=$(npm run -s walkthrough -- --print-token)
import { existsSync, readFileSync } from 'node:fs';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { devLogin } from '../tools/dev_login.js';

const issuer = process.env.ISSUER ?? 'http://localhost:3000';
const printTokenOnly = process.argv.includes('--print-token');

/** One line on stderr and exit 1: a newcomer needs the cause, not a stack trace. */
function fail(message: string): never {
  process.stderr.write(`walkthrough: ${message}\n`);
  process.exit(1);
}
function onFailure(err: unknown): never {
  // fetch wraps the socket error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }), possibly nested once more.
  let e: unknown = err;
  for (let i = 0; i < 3 && e; i++) {
    const code = (e as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ECONNRESET') fail(`cannot reach the service at ${issuer} (${code}); start it first with npm start`);
    e = (e as { cause?: unknown }).cause;
  }
  fail(`${err instanceof Error ? err.message : String(err)}`.replace(/\s+/g, ' '));
}
process.on('unhandledRejection', onFailure);
process.on('uncaughtException', onFailure);

const secretFile = 'keys/secrets/demo-agent';
if (!process.env.DEMO_AGENT_SECRET && !existsSync(secretFile)) {
  fail(`no demo agent secret: ${secretFile} is missing (npm start generates it on first start) and DEMO_AGENT_SECRET is unset`);
}
const secret = process.env.DEMO_AGENT_SECRET ?? readFileSync(secretFile, 'utf8').trim();
const username = process.env.DEMO_USER ?? 'bob';
const redirectUri = 'http://127.0.0.1:8976/callback';
const crm = 'http://localhost:4001/mcp';
const step = (n: number, text: string) => {
  if (!printTokenOnly) console.log(`\n== ${n}. ${text}`);
};

const config = await oidc.discovery(new URL(issuer), 'demo-agent', secret, oidc.ClientSecretBasic(secret), {
  execute: [oidc.allowInsecureRequests],
});

step(1, `log ${username} in (authorization code + PKCE, development login page)`);
const verifier = oidc.randomPKCECodeVerifier();
const state = oidc.randomState();
const authUrl = oidc.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid crm.lookup_customer crm.export_customers billing.refund_lookup',
  code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
});
const callback = await devLogin(authUrl, redirectUri, username);
const user = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
if (printTokenOnly) {
  process.stdout.write(`${user.access_token}\n`);
  process.exit(0);
}
console.log(`user access token (opaque): ${user.access_token.slice(0, 8)}…  scope: ${user.scope}`);
console.log('(the whole token, for the curl exchange in README: USER_TOKEN=$(npm run -s walkthrough -- --print-token))');

step(2, 'the agent exchanges it for the CRM tool server, asking only for crm.lookup_customer (RFC 8693)');
const exchanged = await oidc.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:token-exchange', {
  subject_token: user.access_token,
  subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  resource: crm,
  scope: 'crm.lookup_customer',
});
const { access_token: _token, ...response } = exchanged;
console.log(JSON.stringify({ ...response, access_token: `${exchanged.access_token.slice(0, 16)}…` }, null, 2));

step(3, 'decode the delegation token');
console.log(JSON.stringify({ header: decodeProtectedHeader(exchanged.access_token), payload: decodeJwt(exchanged.access_token) }, null, 2));

step(4, `verify it as the CRM tool server would: signature against ${issuer}/jwks, typ at+jwt, exact iss, aud`);
const { payload } = await jwtVerify(exchanged.access_token, createRemoteJWKSet(new URL(`${issuer}/jwks`)), {
  issuer,
  audience: crm,
  typ: 'at+jwt',
});
console.log(`verified: sub=${payload.sub} act=${JSON.stringify(payload.act)} scope="${payload.scope}" sid=${payload.sid} expires in ${payload.exp! - Math.floor(Date.now() / 1000)} s`);
