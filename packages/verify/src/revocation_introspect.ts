// Revocation by asking the issuer (RFC 7662 token introspection), with a short answer cache.
import { VerifyError } from './errors.js';
import { basicAuthorization, fetchRetryingClosedSocket, issuerEndpoint, ISSUER_TIMEOUT_MS } from './issuer_http.js';
import { ExpiringLru } from './lru.js';
import type { RevocationCheck } from './revocation.js';
import type { FetchLike, IssuerClientCredentials, VerifiedToken } from './types.js';

export interface IntrospectOptions extends IssuerClientCredentials {
  cacheSeconds?: number;
}

const MAX_CACHED_ANSWERS = 10_000;

export class IntrospectionRevocation implements RevocationCheck {
  readonly #fetch: FetchLike;
  readonly #authorization: string;
  readonly #url: string;
  readonly #cacheMs: number;
  readonly #now: () => number;
  // Holds the pending or settled answer, so concurrent requests with one token make one call.
  readonly #answers = new ExpiringLru<Promise<boolean>>(MAX_CACHED_ANSWERS);

  constructor(options: IntrospectOptions, issuer: string, now: () => number = Date.now) {
    this.#now = now;
    const cacheSeconds = options.cacheSeconds ?? 5;
    if (!(cacheSeconds >= 0)) throw new TypeError('revocation.cacheSeconds must be >= 0');
    if (!options.clientId || !options.clientSecret) throw new TypeError('introspection needs clientId and clientSecret');
    this.#cacheMs = cacheSeconds * 1000;
    this.#fetch = options.fetch ?? fetch;
    this.#authorization = basicAuthorization(options.clientId, options.clientSecret);
    this.#url = issuerEndpoint(issuer, 'token/introspection/delegation');
  }

  async check(token: string, verified: VerifiedToken): Promise<void> {
    const nowMs = this.#now();
    const expMs = verified.exp * 1000;
    let answer = this.#answers.get(token, nowMs);
    if (!answer) {
      answer = this.#introspect(token);
      // Until it settles, share the pending call; failures are never cached. Its deadline bounds it, not `exp`: a token
      // inside the verifier's clockTolerance is already past `exp`, and its callers must share one call all the same.
      this.#answers.set(token, answer, nowMs + ISSUER_TIMEOUT_MS);
      answer.then(
        (active) => {
          // Not capped at `exp`: a token within clockTolerance past it is still checked here, and the verifier refuses
          // one past `exp` + clockTolerance before asking, so a longer-lived answer is never wrongly used.
          const cachedUntil = this.#now() + this.#cacheMs;
          // An inactive token never becomes active again: remember that until it expires anyway.
          const until = active ? cachedUntil : Math.max(expMs, cachedUntil);
          this.#answers.set(token, Promise.resolve(active), until);
        },
        () => this.#answers.delete(token),
      );
    }
    if (await answer) return;
    // RFC 7662 §2.2: "active" false means revoked, expired or otherwise invalid; the issuer gives no reason. Past
    // `exp` (accepted here only within clockTolerance), expiry alone explains it: say expired, not revoked.
    if (this.#now() >= expMs) throw new VerifyError('ERR_EXPIRED', { detail: 'introspection: active=false after exp' });
    throw new VerifyError('ERR_REVOKED', { detail: 'introspection: active=false' });
  }

  async ready(): Promise<void> {}

  /** Each token is asked about (or its answer reused for `cacheSeconds`): nothing here can go stale. */
  health(): { mode: 'introspect'; fresh: true } {
    return { mode: 'introspect', fresh: true };
  }

  close(): void {
    this.#answers.clear();
  }

  async #introspect(token: string): Promise<boolean> {
    let response: Response;
    try {
      // RFC 7662 §2.1: POST, form-encoded `token`, and the caller MUST authenticate. One deadline covers a repeat.
      response = await fetchRetryingClosedSocket(this.#fetch, this.#url, {
        method: 'POST',
        headers: {
          authorization: this.#authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(ISSUER_TIMEOUT_MS),
      });
    } catch (cause) {
      throw unavailable('introspection request failed', cause);
    }
    // Anything but a 200 (our credentials refused, issuer down) says nothing about the token: fail closed with 503.
    if (response.status !== 200) {
      await response.body?.cancel();
      throw unavailable(`introspection answered ${response.status}`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (cause) {
      throw unavailable('introspection answer is not JSON', cause);
    }
    const active = (body as { active?: unknown } | null)?.active;
    if (typeof active !== 'boolean') throw unavailable('introspection answer has no boolean "active"');
    return active;
  }
}

function unavailable(detail: string, cause?: unknown): VerifyError {
  return new VerifyError('ERR_REVOCATION_UNAVAILABLE', { detail, cause });
}
