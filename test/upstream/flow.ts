// Shared by the upstream login tests: the service started with the test upstream provider, and a browser that follows
// an authorization request to its end (redirects, the upstream provider, oidc-provider's logout confirmation form).
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from '../helpers/browser.js';
import { exchangeFor, postForm } from '../helpers/http.js';
import { CRM, REDIRECT, startService, type TestService } from '../helpers/service.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream_idp.js';
import { upstreamKeys } from '../../src/stores/redis/upstream_login.js';
import { sidPrefixFor } from '../../src/token_types/context.js';

export type Svc = TestService & { keysDir: string };

/**
 * The service with the upstream login (back-channel logout on), and the demo login only with `demo`; `extra` is merged
 * into its config. `DTS_TEST_LOG=1` shows the service's log on stderr.
 */
export async function startWithUpstream(idp: UpstreamIdp, extra: Record<string, unknown> = {}, { demo = false } = {}): Promise<Svc> {
  const secretFile = join(tmpdir(), `dts-upstream-${randomBytes(6).toString('hex')}`);
  writeFileSync(secretFile, idp.clientSecret, { mode: 0o600 });
  return startService({
    ...(process.env.DTS_TEST_LOG ? { logger: pino({ level: 'info' }, pino.destination(2)) } : {}),
    extra: () => ({
      upstreamLogin: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: { file: secretFile }, scopes: ['openid', 'profile'], backchannelLogout: true },
      ...(demo ? {} : { demoLogin: { enabled: false, users: [] } }),
      ...extra,
    }),
  });
}

export interface FlowEnd {
  /** The user's opaque access token, when the flow reached our redirect URI with a code. */
  accessToken?: string;
  /** The query of our redirect URI, when it came back without a code (an error response). */
  error?: URLSearchParams;
  /** Every response on the way: `<status> <path>`. */
  trail: string[];
}

/** An authorization code + PKCE request as `agent` with `extra` parameters, followed to the end in `browser`. */
export async function authorize(svc: Svc, browser: Browser, extra: Record<string, string> = {}): Promise<FlowEnd> {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${svc.url}/auth`);
  auth.search = new URLSearchParams({
    client_id: 'agent', response_type: 'code', redirect_uri: REDIRECT, scope: 'openid crm.lookup_customer', state: 'client-state',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', ...extra,
  }).toString();
  let next = auth.href;
  let init: RequestInit = {};
  const trail: string[] = [];
  for (let hops = 0; hops < 20; hops++) {
    if (next.startsWith(REDIRECT)) {
      const query = new URL(next).searchParams;
      const code = query.get('code');
      if (!code) return { error: query, trail };
      const token = await postForm(`${svc.url}/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: svc.basic('agent') });
      assert.equal(token.status, 200, JSON.stringify(token.body));
      return { accessToken: token.body.access_token as string, trail };
    }
    const res = await browser.fetch(next, init);
    init = {};
    trail.push(`${res.status} ${new URL(next).pathname}`);
    const location = res.headers.get('location');
    if (location) {
      await res.body?.cancel();
      next = new URL(location, next).href;
      continue;
    }
    // oidc-provider's auto-submitted forms (the logout confirmation when another account logs in): submit them.
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    assert.ok(action, `flow stopped: ${res.status} ${next} ${html.slice(0, 300)}`);
    const fields = new URLSearchParams();
    for (const m of html.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields.set(m[1]!, m[2]!);
    next = new URL(action.replace(/&amp;/g, '&'), next).href;
    init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: fields.toString() };
  }
  throw new Error('too many hops');
}

export const accountOf = (idp: UpstreamIdp, sub: string) => `${sidPrefixFor(idp.issuer)}|${sub}`;

export const accountKey = (svc: Svc, accountId: string) => upstreamKeys.account(svc.prefix, accountId);

/** The stored login sessions of an account (oidc-provider's Session records): uid and expiry. */
export async function sessionsOf(svc: Svc, accountId: string): Promise<Array<{ uid: string; exp: number }>> {
  const found = [];
  for (const key of await svc.redis.keys(`${svc.prefix}oidc:Session:*`)) {
    const payload = JSON.parse((await svc.redis.hget(key, 'payload')) ?? '{}') as { uid?: string; exp?: number; accountId?: string };
    if (payload.accountId === accountId) found.push({ uid: payload.uid!, exp: payload.exp! });
  }
  return found;
}

/** The exchange of the user's token is refused as the existing logout tests assert: its session has ended. */
export async function assertSessionEnded(svc: Svc, accessToken: string): Promise<void> {
  const res = await exchangeFor(svc, 'agent', accessToken, CRM, { scope: 'crm.lookup_customer' });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
}

export async function assertSessionAlive(svc: Svc, accessToken: string): Promise<void> {
  const res = await exchangeFor(svc, 'agent', accessToken, CRM, { scope: 'crm.lookup_customer' });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/**
 * Hooks for one suite: before it, the test upstream provider and the service on it (handed to `use`); after it, both
 * stopped. Options as startWithUpstream's.
 */
export function withUpstream(use: (idp: UpstreamIdp, svc: Svc) => void, extra: Record<string, unknown> = {}, options: { demo?: boolean } = {}): void {
  let idp: UpstreamIdp | undefined;
  let svc: Svc | undefined;
  before(async () => {
    idp = await startUpstreamIdp();
    svc = await startWithUpstream(idp, extra, options);
    use(idp, svc);
  });
  after(async () => {
    await svc?.stop();
    await idp?.stop();
  });
}
