// The HTTP calls the scenarios make outside the load generator: login, exchanges, client credentials, admin revoke.
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, type CryptoKey, type JWK } from 'jose';
import { devLogin } from '../tools/dev_login.js';
import { ACCESS_TOKEN, BILLING, CRM, EXCHANGE, REDIRECT, type BenchClientId } from './config.js';
import type { BenchService } from './service_process.js';

export type Form = Record<string, string>;

export const formBody = (fields: Form) => new URLSearchParams(fields).toString();

export async function postForm(svc: BenchService, clientId: BenchClientId, fields: Form): Promise<Record<string, unknown>> {
  const res = await fetch(`${svc.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: svc.basic(clientId) },
    body: formBody(fields),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`POST /token as ${clientId} (${fields.grant_type}): ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Authorization code + PKCE through the dev login page as `bob`: a new provider session and its opaque token. */
export async function loginUser(svc: BenchService): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const auth = new URL(`${svc.url}/auth`);
  auth.search = new URLSearchParams({
    client_id: 'agent', response_type: 'code', redirect_uri: REDIRECT, scope: 'openid crm.lookup_customer crm.export_customers billing.refund_lookup billing.issue_refund',
    code_challenge: challenge, code_challenge_method: 'S256', state: 'bench',
  }).toString();
  const callback = await devLogin(auth, REDIRECT, 'bob');
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`login failed: ${callback.search}`);
  const token = await postForm(svc, 'agent', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
  return token.access_token as string;
}

/** The form of scenario 1: the agent exchanges a user's opaque token for a CRM delegation token. */
export const exchangeForm = (userToken: string): Form => ({
  grant_type: EXCHANGE, subject_token: userToken, subject_token_type: ACCESS_TOKEN, resource: CRM, scope: 'crm.lookup_customer billing.refund_lookup',
});

/** Issue 10's request with details: a refund limit of 3000 cents, narrowing the policy's 5000 (RFC 9396 §6). */
export const REFUND_DETAILS = JSON.stringify([{ type: 'mcp_tool', locations: [BILLING], actions: ['billing.issue_refund'], arguments: { amount: { maximum: 3000 } } }]);

/** Scenario 1 with `authorization_details`: the agent exchanges a user's opaque token for a billing token limited per call. */
export const detailsExchangeForm = (userToken: string): Form => ({
  grant_type: EXCHANGE, subject_token: userToken, subject_token_type: ACCESS_TOKEN, resource: BILLING, scope: 'billing.issue_refund',
  authorization_details: REFUND_DETAILS,
});

/** The form of scenario 2: the CRM server re-exchanges its delegation token for billing (second hop). */
export const hopForm = (crmToken: string): Form => ({
  grant_type: EXCHANGE, subject_token: crmToken, subject_token_type: ACCESS_TOKEN, resource: BILLING, scope: 'billing.refund_lookup',
});

/** The baseline of scenario 1: the provider's own client_credentials grant issuing a JWT for the same tool server. */
export const clientCredentialsForm: Form = { grant_type: 'client_credentials', scope: 'crm.lookup_customer', resource: CRM };

export async function exchangeForCrm(svc: BenchService, userToken: string): Promise<string> {
  return (await postForm(svc, 'agent', exchangeForm(userToken))).access_token as string;
}

/** An opaque admin API token (client_credentials, scope admin, the grant's default resource `${issuer}/admin`). */
export async function adminToken(svc: BenchService): Promise<string> {
  return (await postForm(svc, 'admin-cli', { grant_type: 'client_credentials', scope: 'admin' })).access_token as string;
}

/** `POST /admin/sessions/{sid}/revoke`; undefined when the admin API is not mounted (404). */
export async function adminRevokeSession(svc: BenchService, token: string, sid: string): Promise<boolean> {
  const res = await fetch(`${svc.url}/admin/sessions/${encodeURIComponent(sid)}/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'bench revocation propagation' }),
  });
  const text = await res.text();
  // Revoking a sid never answers 404 (an unknown sid is recorded too): a 404 means the admin API is not mounted.
  if (res.status === 404) return false;
  if (res.status !== 200) throw new Error(`admin revoke ${sid}: ${res.status} ${text}`);
  return true;
}

/** `count` fresh single-use ES256 DPoP proofs for `POST <svc>/token` (RFC 9449 §4.2), signed before a timed run. */
export function tokenEndpointProofs(svc: BenchService, key: { privateKey: CryptoKey; jwk: JWK }, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      new SignJWT({ htm: 'POST', htu: `${svc.url}/token`, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url') })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
        .sign(key.privateKey),
    ),
  );
}

/** Runs `task` over `items` with at most `concurrency` in flight, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
