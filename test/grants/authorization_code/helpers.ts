// The authorization code flow of an MCP client (public, PKCE, RFC 8707 `resource` at /auth and /token), driven like a
// browser through the development login, and a service configured with such clients.
import { createHash, randomBytes } from 'node:crypto';
import { Browser } from '../../helpers/browser.js';
import { postForm, type FormResponse } from '../../helpers/http.js';
import { BILLING, CRM, REDIRECT, startService, testConfig, type TestService } from '../../helpers/service.js';
import type { ConfigInput } from '../../../src/config/schema.js';

/** A public client with refresh (the MCP client), and one whose policy names no tool server. */
export const MCP = 'mcp-client';
export const MCP_NO_POLICY = 'mcp-no-policy';

export function codeFlowConfig(port: number, extra: Partial<ConfigInput> = {}): Partial<ConfigInput> {
  const base = testConfig(port, '', '');
  return {
    clients: [
      ...(base.clients ?? []),
      { client_id: MCP, token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT] },
      { client_id: MCP_NO_POLICY, token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT] },
    ],
    agents: [
      ...(base.agents ?? []),
      {
        clientId: MCP,
        toolServers: [
          { resource: CRM, scopes: ['crm.lookup_customer', 'billing.refund_lookup'] },
          { resource: BILLING, scopes: ['billing.refund_lookup'], groups: ['finance'] },
        ],
      },
    ],
    ...extra,
  };
}

export const startCodeFlowService = (extra: Partial<ConfigInput> = {}) => startService({ extra: (port) => codeFlowConfig(port, extra) });

export interface CodeFlowOptions {
  clientId?: string;
  username?: string;
  scope?: string;
  /** Sent at /auth (several: each as its own `resource`, RFC 8707 §2); `tokenResource` (default: the same) at /token. */
  resource?: string | string[];
  tokenResource?: string | null;
  browser?: Browser;
  /** The token endpoint's path as the client spells it (default `/token`). */
  tokenPath?: string;
}

export type AuthResult = { redirect: URL; browser: Browser; verifier: string };

/** /auth → dev login → consent → the redirect to the client (with `code` or `error`). */
export async function authorize(svc: TestService, o: CodeFlowOptions = {}): Promise<AuthResult> {
  const browser = o.browser ?? new Browser(svc);
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${svc.url}/auth`);
  auth.search = new URLSearchParams({
    client_id: o.clientId ?? MCP, response_type: 'code', redirect_uri: REDIRECT, scope: o.scope ?? 'openid offline_access crm.lookup_customer',
    state: 'st', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', prompt: 'consent',
  }).toString();
  for (const resource of [o.resource ?? []].flat()) auth.searchParams.append('resource', resource);
  let next: string | null = auth.href;
  for (let hops = 0; hops < 12 && next; hops++) {
    if (next.startsWith(REDIRECT)) return { redirect: new URL(next), browser, verifier };
    const url = new URL(next, svc.url);
    const res = await browser.fetch(url);
    await res.text();
    if (res.status === 200 && url.pathname.startsWith('/interaction/')) {
      const post = await browser.fetch(`${url.href}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: o.username ?? 'alice' }) });
      next = post.headers.get('location');
      continue;
    }
    next = res.headers.get('location');
  }
  throw new Error('the authorization flow did not reach the redirect URI');
}

/** The whole flow: authorize, then redeem the code at /token (public client: no authentication). */
export async function codeFlow(svc: TestService, o: CodeFlowOptions = {}): Promise<FormResponse & { browser: Browser }> {
  const { redirect, browser, verifier } = await authorize(svc, o);
  const code = redirect.searchParams.get('code');
  if (!code) throw new Error(`no code: ${redirect.href}`);
  const resource = o.tokenResource === null ? undefined : (o.tokenResource ?? [o.resource ?? []].flat()[0]);
  const res = await postForm(`${svc.url}${o.tokenPath ?? '/token'}`, { grant_type: 'authorization_code', client_id: o.clientId ?? MCP, code, redirect_uri: REDIRECT, code_verifier: verifier, resource });
  return { ...res, browser };
}

/** A confidential client's login with `offline_access`: the code redeemed with its Basic credentials; the user's access
 * token, refresh token and grant id, and the redeeming form (to present the code again). */
export async function confidentialLogin(svc: TestService, o: { clientId?: string; username?: string; scope: string }) {
  const clientId = o.clientId ?? 'agent';
  const auth = await authorize(svc, { clientId, username: o.username ?? 'bob', scope: o.scope });
  const form = { grant_type: 'authorization_code', code: auth.redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: auth.verifier };
  const tokens = await postForm(`${svc.url}/token`, form, { authorization: svc.basic(clientId) });
  const user = tokens.body.access_token;
  const refreshToken = tokens.body.refresh_token;
  if (tokens.status !== 200 || typeof user !== 'string' || typeof refreshToken !== 'string') throw new Error(`code redemption: ${tokens.status} ${JSON.stringify(tokens.body)}`);
  const grantId = (await svc.service.provider.AccessToken.find(user))?.grantId;
  if (!grantId) throw new Error('no grant for the access token');
  return { auth, form, user, refreshToken, grantId };
}

export function refresh(svc: TestService, refreshToken: string, clientId = MCP, resource: string | undefined = CRM) {
  return postForm(`${svc.url}/token`, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken, resource });
}
