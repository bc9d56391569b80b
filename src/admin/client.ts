// A small HTTP client of the admin API for the CLI: gets a client_credentials token, then calls /admin.
// It depends on nothing of the server, so the CLI stays a thin, separate program.

export type RevokeKind = 'sid' | 'sub' | 'client' | 'jti';

export interface AdminClientOptions {
  /** The service root (issuer), e.g. `http://localhost:3000`. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Per request. */
  timeoutMs?: number;
}

/** Any failure the CLI reports: an OAuth-style code and a one-line description. */
export class AdminApiError extends Error {
  override name = 'AdminApiError';
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status?: number,
  ) {
    super(`${error} - ${description}`);
  }
}

export interface RevokeResult {
  kind: RevokeKind;
  value: string;
  revokedAt: number;
  expiresAt: number;
  created: boolean;
  endedSessions: string[];
  known?: boolean;
}

export interface Page<T> {
  items: T[];
  next?: string;
}

const REVOKE_PATH: Record<RevokeKind, string> = { sid: 'sessions', sub: 'subjects', client: 'clients', jti: 'tokens' };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The type of each member a command prints (`?`: may be absent). */
type Shape = Record<string, 'string' | 'number' | 'boolean' | 'array' | 'string?' | 'boolean?'>;

/**
 * The members a command prints, checked before it prints them: a proxy's or an older service's 2xx without them is
 * an `invalid_response`, never a half-empty table or a crash.
 */
function expectShape<T>(body: Record<string, unknown>, shape: Shape, what: string): T {
  for (const [key, type] of Object.entries(shape)) {
    const v = body[key];
    const optional = type.endsWith('?');
    if (optional && v === undefined) continue;
    const base = optional ? type.slice(0, -1) : type;
    if (base === 'array' ? !Array.isArray(v) : typeof v !== base) throw new AdminApiError('invalid_response', `the answer is not ${what} (${key})`);
  }
  if (Array.isArray(body.items) && !body.items.every(isObject)) throw new AdminApiError('invalid_response', `the answer is not ${what} (items)`);
  return body as T;
}

const PAGE: Shape = { items: 'array', next: 'string?' };
const REVOKED: Shape = { kind: 'string', value: 'string', revokedAt: 'number', expiresAt: 'number', created: 'boolean', endedSessions: 'array', known: 'boolean?' };

/** RFC 6749 §2.3.1: client_id and client_secret are form-urlencoded before the Basic encoding. */
const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');

export class AdminClient {
  readonly #o: Required<AdminClientOptions>;
  #token: { value: string; until: number } | undefined;

  constructor(options: AdminClientOptions) {
    this.#o = { timeoutMs: 10_000, ...options, url: options.url.replace(/\/+$/, '') };
  }

  async revoke(kind: RevokeKind, value: string, reason: string): Promise<RevokeResult> {
    const body = await this.#call('POST', `/admin/${REVOKE_PATH[kind]}/${encodeURIComponent(value)}/revoke`, { body: { reason } });
    return expectShape(body, REVOKED, 'a revocation');
  }

  async sessions(query: Record<string, string | undefined>): Promise<Page<Record<string, unknown>>> {
    return expectShape(await this.#call('GET', '/admin/sessions', { query }), PAGE, 'a page of sessions');
  }

  async session(sid: string): Promise<Record<string, unknown>> {
    return expectShape(await this.#call('GET', `/admin/sessions/${encodeURIComponent(sid)}`), { sid: 'string', sub: 'string', tree: 'array' }, 'a session');
  }

  async audit(query: Record<string, string | undefined>): Promise<Page<Record<string, unknown>>> {
    return expectShape(await this.#call('GET', '/admin/audit', { query }), PAGE, 'a page of audit events');
  }

  async consents(query: Record<string, string | undefined>): Promise<Page<Record<string, unknown>>> {
    return expectShape(await this.#call('GET', '/admin/consents', { query }), PAGE, 'a page of consents');
  }

  async revokeConsent(body: { sub: string; client_id: string; resource: string; reason: string }): Promise<Record<string, unknown>> {
    const shape: Shape = { sub: 'string', client_id: 'string', resource: 'string', scopes: 'array', revoked: 'boolean', endedGrants: 'number' };
    return expectShape(await this.#call('POST', '/admin/consents/revoke', { body }), shape, 'a consent revocation');
  }

  async onboardedClients(query: Record<string, string | undefined>): Promise<Page<Record<string, unknown>>> {
    return expectShape(await this.#call('GET', '/admin/clients', { query }), PAGE, 'a page of clients');
  }

  async deleteClient(clientId: string, reason: string): Promise<Record<string, unknown>> {
    const shape: Shape = { client_id: 'string', kind: 'string', deleted: 'boolean', revokedConsents: 'number', revokedAt: 'number' };
    return expectShape(await this.#call('POST', `/admin/clients/${encodeURIComponent(clientId)}/delete`, { body: { reason } }), shape, 'a client deletion');
  }

  async #accessToken(): Promise<string> {
    if (this.#token && this.#token.until > Date.now()) return this.#token.value;
    const { clientId, clientSecret } = this.#o;
    const body = await this.#fetch('/token', {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin' }).toString(),
    });
    if (typeof body.access_token !== 'string') throw new AdminApiError('invalid_response', 'the token endpoint returned no access_token');
    const ttl = typeof body.expires_in === 'number' ? body.expires_in : 60;
    this.#token = { value: body.access_token, until: Date.now() + Math.max(0, ttl - 10) * 1000 };
    return body.access_token;
  }

  async #call(method: 'GET' | 'POST', path: string, o: { query?: Record<string, string | undefined>; body?: unknown } = {}): Promise<Record<string, unknown>> {
    const token = await this.#accessToken();
    const query = new URLSearchParams(Object.entries(o.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')).toString();
    return this.#fetch(`${path}${query ? `?${query}` : ''}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
  }

  /** One request; every failure (network, timeout, HTTP error, non-JSON) becomes an AdminApiError. */
  async #fetch(path: string, init: RequestInit): Promise<Record<string, unknown>> {
    let res: Response;
    try {
      res = await fetch(`${this.#o.url}${path}`, { ...init, signal: AbortSignal.timeout(this.#o.timeoutMs) });
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') throw new AdminApiError('timeout', `no answer from ${this.#o.url} within ${this.#o.timeoutMs} ms`);
      throw new AdminApiError('connection_failed', `could not reach ${this.#o.url}`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      // The status came, the body did not (cut connection, stalled stream): never read as an empty success.
      if ((err as Error).name === 'TimeoutError') throw new AdminApiError('timeout', `no complete answer from ${this.#o.url} within ${this.#o.timeoutMs} ms`, res.status);
      throw new AdminApiError('invalid_response', `HTTP ${res.status} with a body that could not be read`, res.status);
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new AdminApiError('invalid_response', `HTTP ${res.status} with a body that is not JSON`, res.status);
    }
    const b = isObject(body) ? body : undefined;
    if (!res.ok) {
      const error = typeof b?.error === 'string' ? b.error : `http_${res.status}`;
      const description = typeof b?.error_description === 'string' ? b.error_description : `HTTP ${res.status}`;
      throw new AdminApiError(error, description, res.status);
    }
    // Every success of the admin API and of the token endpoint is a JSON object.
    if (!b) throw new AdminApiError('invalid_response', `HTTP ${res.status} without a JSON object`, res.status);
    return b;
  }
}
