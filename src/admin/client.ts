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

/** RFC 6749 §2.3.1: client_id and client_secret are form-urlencoded before the Basic encoding. */
const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');

export class AdminClient {
  readonly #o: Required<AdminClientOptions>;
  #token: { value: string; until: number } | undefined;

  constructor(options: AdminClientOptions) {
    this.#o = { timeoutMs: 10_000, ...options, url: options.url.replace(/\/+$/, '') };
  }

  revoke(kind: RevokeKind, value: string, reason: string): Promise<RevokeResult> {
    return this.#call('POST', `/admin/${REVOKE_PATH[kind]}/${encodeURIComponent(value)}/revoke`, { body: { reason } });
  }

  sessions(query: Record<string, string | undefined>): Promise<Page<Record<string, unknown>>> {
    return this.#call('GET', '/admin/sessions', { query });
  }

  session(sid: string): Promise<Record<string, unknown>> {
    return this.#call('GET', `/admin/sessions/${encodeURIComponent(sid)}`);
  }

  audit(query: Record<string, string | undefined>): Promise<Page<Record<string, unknown>>> {
    return this.#call('GET', '/admin/audit', { query });
  }

  consents(query: Record<string, string | undefined>): Promise<{ items: Array<Record<string, unknown>> }> {
    return this.#call('GET', '/admin/consents', { query });
  }

  revokeConsent(body: { sub: string; client_id: string; resource: string; reason: string }): Promise<Record<string, unknown>> {
    return this.#call('POST', '/admin/consents/revoke', { body });
  }

  onboardedClients(query: Record<string, string | undefined>): Promise<{ items: Array<Record<string, unknown>> }> {
    return this.#call('GET', '/admin/clients', { query });
  }

  deleteClient(clientId: string, reason: string): Promise<Record<string, unknown>> {
    return this.#call('POST', `/admin/clients/${encodeURIComponent(clientId)}/delete`, { body: { reason } });
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

  async #call<T>(method: 'GET' | 'POST', path: string, o: { query?: Record<string, string | undefined>; body?: unknown } = {}): Promise<T> {
    const token = await this.#accessToken();
    const query = new URLSearchParams(Object.entries(o.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')).toString();
    return (await this.#fetch(`${path}${query ? `?${query}` : ''}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    })) as T;
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
    const text = await res.text().catch(() => '');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      throw new AdminApiError('invalid_response', `HTTP ${res.status} with a body that is not JSON`, res.status);
    }
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (!res.ok) {
      const error = typeof b.error === 'string' ? b.error : `http_${res.status}`;
      const description = typeof b.error_description === 'string' ? b.error_description : `HTTP ${res.status}`;
      throw new AdminApiError(error, description, res.status);
    }
    return b;
  }
}
