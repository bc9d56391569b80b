// The newcomer's walkthrough against a running service (npm start): log a demo user in, exchange the user's token for
// a CRM delegation token as the demo agent, decode it, and verify it against the service's JWKS.
// Run: npm run walkthrough   (env: ISSUER, DEMO_AGENT_SECRET or keys/secrets/demo-agent, DEMO_USER)
import { readFileSync } from 'node:fs';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { devLogin } from './lib/dev_login.js';

const issuer = process.env.ISSUER ?? 'http://localhost:3000';
const secret = process.env.DEMO_AGENT_SECRET ?? readFileSync('keys/secrets/demo-agent', 'utf8').trim();
const username = process.env.DEMO_USER ?? 'bob';
const redirectUri = 'http://127.0.0.1:8976/callback';
const crm = 'http://localhost:4001/mcp';
const step = (n: number, text: string) => console.log(`\n== ${n}. ${text}`);

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
console.log(`user access token (opaque): ${user.access_token.slice(0, 8)}…  scope: ${user.scope}`);

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
