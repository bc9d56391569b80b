// Admin API test helpers: a service with extra users and a revocation-only client, admin tokens, JSON calls.
import { decodeJwt } from 'jose';
import { postForm } from '../helpers/http.js';
import { startService, testConfig, type TestService } from '../helpers/service.js';

/** Demo users beyond alice and bob, so each test can own a subject (subject revocation is per user). */
export const EXTRA_USERS = ['carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj'] as const;

/** A client_credentials client holding only `revocation` (a tool server's feed client): valid tokens, but not admin. */
export const READER = 'feed-reader';

export async function startAdminService(options: { cluster?: boolean } = {}): Promise<TestService & { keysDir: string }> {
  return startService({
    ...(options.cluster ? { cluster: true } : {}),
    extra: (port) => {
      const base = testConfig(port, '', '');
      return {
        demoLogin: {
          enabled: true,
          users: [
            ...(base.demoLogin?.users ?? []),
            // Odd ones in `finance` so they may be delegated to billing; the rest in `support`.
            ...EXTRA_USERS.map((u, i) => ({ sub: `user-${u}`, username: u, name: u, groups: [i % 2 ? 'finance' : 'support'] })),
          ],
        },
        // The harness only resolves the secrets of its own clients: the reader borrows agent2's.
        clients: [...(base.clients ?? []), { client_id: READER, client_secret: { env: 'TEST_SECRET_AGENT2' }, grant_types: ['client_credentials'], scope: 'revocation' }],
      };
    },
  });
}

export function basicFor(svc: TestService, clientId: string): string {
  const secret = clientId === READER ? svc.secrets.agent2! : svc.secrets[clientId]!;
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** A client_credentials token for the admin resource (the default resource of that grant). */
export async function adminToken(svc: TestService, clientId = 'admin-cli', scope = clientId === READER ? 'revocation' : 'admin'): Promise<string> {
  const res = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', scope }, { authorization: basicFor(svc, clientId) });
  if (res.status !== 200) throw new Error(`client_credentials failed: ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

export interface CallOptions {
  token?: string;
  /** Serialized as JSON with `content-type: application/json` unless `raw` is given. */
  json?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

/** Calls the admin API; `path` is sent as written (percent-encoding included). */
export async function call(svc: TestService, method: string, path: string, o: CallOptions = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) };
  let body: string | undefined;
  if (o.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(o.json);
  } else if (o.raw !== undefined) body = o.raw;
  const res = await fetch(`${svc.url}${path}`, { method, headers: { ...headers, ...o.headers }, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export const sidOf = (jwt: string) => decodeJwt(jwt).sid as string;
export const jtiOf = (jwt: string) => decodeJwt(jwt).jti as string;

/** The session registry is written after the response: wait until the admin API shows the session. */
export async function waitForSession(svc: TestService, token: string, sid: string, tokens = 1): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const res = await call(svc, 'GET', `/admin/sessions/${encodeURIComponent(sid)}`, { token });
    if (res.status === 200 && (res.body.tokensIssued as number) >= tokens) return res.body;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`session ${sid} was not recorded`);
}

/** RFC 7662 introspection of a delegation token, as the tool server it was issued for. */
export function introspectDelegation(svc: TestService, token: string, asClient = 'crm-server') {
  return postForm(`${svc.url}/token/introspection/delegation`, { token }, { authorization: basicFor(svc, asClient) });
}

/** oidc-provider's own introspection (opaque tokens), as the client the token was issued to. */
export function introspectOpaque(svc: TestService, token: string, asClient = 'agent') {
  return postForm(`${svc.url}/token/introspection`, { token }, { authorization: basicFor(svc, asClient) });
}
