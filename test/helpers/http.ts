// HTTP helpers for tests: form posts to the token endpoint, and the user login flow driven like a browser.
import { createHash, randomBytes } from 'node:crypto';
import { devLogin } from '../../tools/dev_login.js';
import { AT, EXCHANGE, REDIRECT, type TestService } from './service.js';

export interface FormResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs a form; `fields` values that are arrays repeat the parameter. */
export async function postForm(url: string, fields: Record<string, string | string[] | undefined>, headers: Record<string, string> = {}): Promise<FormResponse> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
  }
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers }, body });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** A token exchange request authenticated with HTTP Basic as `clientId`. */
export function exchange(svc: TestService, clientId: string, fields: Record<string, string | string[] | undefined>) {
  return postForm(`${svc.url}/token`, { grant_type: EXCHANGE, ...fields }, { authorization: svc.basic(clientId) });
}

/** The common case: exchange a subject access token for one resource. */
export function exchangeFor(svc: TestService, clientId: string, subjectToken: string, resource: string, extra: Record<string, string | string[] | undefined> = {}) {
  return exchange(svc, clientId, { subject_token: subjectToken, subject_token_type: AT, resource, ...extra });
}

export interface LoginResult {
  accessToken: string;
  idToken?: string;
  scope: string;
  expiresIn: number;
}

/** Drives authorization code + PKCE through the dev login page over HTTP, as a browser would. */
export async function loginUser(
  svc: TestService,
  { clientId = 'agent', username = 'alice', scope = 'openid crm.lookup_customer crm.export_customers billing.refund_lookup' } = {},
): Promise<LoginResult> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const auth = new URL(`${svc.url}/auth`);
  auth.search = new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, scope, code_challenge: challenge, code_challenge_method: 'S256', state: 'st' }).toString();
  const callback = await devLogin(auth, REDIRECT, username);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`login failed: ${callback.search}`);
  const token = await postForm(`${svc.url}/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: svc.basic(clientId) });
  if (token.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(token.body)}`);
  return {
    accessToken: token.body.access_token as string,
    ...(typeof token.body.id_token === 'string' ? { idToken: token.body.id_token } : {}),
    scope: token.body.scope as string,
    expiresIn: token.body.expires_in as number,
  };
}

/**
 * Revokes a session through the admin API of the service at `url`, as `admin-cli` (its HTTP Basic header): a
 * client_credentials token with the `admin` scope, then POST /admin/sessions/{sid}/revoke. Resolves to the status.
 */
export async function revokeSessionViaAdmin(url: string, adminBasic: string, sid: string, reason: string): Promise<number> {
  const admin = await postForm(`${url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: adminBasic });
  if (admin.status !== 200) throw new Error(`admin token: ${admin.status} ${JSON.stringify(admin.body)}`);
  const res = await fetch(`${url}/admin/sessions/${encodeURIComponent(sid)}/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin.body.access_token as string}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason }),
  });
  await res.arrayBuffer();
  return res.status;
}
