// Builds the oidc-provider instance from the slices it is given (configuration, adapter); the adapter wrappers that
// keep oidc-provider's own flows fail closed. What is built with what is decided in service.ts, the composition root.
import Provider, { errors, type AdapterConstructor } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import { providerConfiguration, type ProviderDeps } from './configuration.js';
import { ServiceUnavailable } from './errors.js';
import type { GrantEnds } from './grant_end_retry.js';

const METHODS = ['upsert', 'find', 'findByUid', 'findByUserCode', 'consume', 'destroy', 'revokeByGrantId'] as const;

/** The models oidc-provider's own reuse path ends with a grant (its lib/helpers/revoke.js). */
const GRANT_TOKENS: ReadonlySet<string> = new Set(['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

/** A store's refusal of a second consume (stores/errors.ts AlreadyConsumed), matched on its stable code: this module
 * imports nothing of stores/. */
const refusedConsume = (err: unknown): err is Error & { grantId?: string } => err instanceof Error && (err as { code?: unknown }).code === 'ERR_ALREADY_CONSUMED';

interface Adapter {
  upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void>;
  find(id: string): Promise<unknown>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}
type AdapterClass = new (name: string) => Adapter;

export interface FailClosedOptions {
  /** The request a store call is made for: oidc-provider's (its AsyncLocalStorage, `Provider.ctx`) unless a test's. */
  currentRequest?: () => object | undefined;
  /** Told of every grant end that fails for the store (and of every one that goes through), to run it again until it
   * does (grant_end_retry.ts); absent, a failed end is only answered 503. */
  grantEnds?: GrantEnds;
}

/**
 * Store failures inside oidc-provider's own flows answer 503 temporarily_unavailable, never 500 (fail closed); a second
 * use of a one-time grant answers as oidc-provider answers a reuse (oneTimeGrants), never 503.
 */
export function failClosed(Base: AdapterConstructor, options: FailClosedOptions = {}): AdapterConstructor {
  const currentRequest = options.currentRequest ?? (() => (Provider as unknown as { readonly ctx?: object }).ctx);
  const Inner = oneTimeGrants(Base as unknown as AdapterClass, currentRequest, options.grantEnds);
  return class FailClosedAdapter extends (Inner as unknown as new (name: string) => Record<string, (...a: unknown[]) => Promise<unknown>>) {
    constructor(name: string) {
      super(name);
      for (const m of METHODS) {
        const inner = this[m]!.bind(this);
        this[m] = (...args: unknown[]) => inner(...args).catch((err: unknown) => {
          // oidc-provider's own errors are answers (oneTimeGrants' refusals); anything else is the store failing.
          if (err instanceof errors.OIDCProviderError) throw err;
          throw new ServiceUnavailable(`store: ${err instanceof Error ? err.message : String(err)}`);
        });
      }
    }
  } as unknown as AdapterConstructor;
}

/**
 * RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server MUST deny the request and SHOULD revoke (when possible) all tokens previously issued based on that authorization code."
 * RFC 9700 §4.14.2: the same for a rotated refresh token ("the authorization server cannot determine which party submitted the invalid refresh token").
 *
 * oidc-provider reads a code or refresh token, works, then consumes it; it refuses a reuse only when its read already
 * saw `consumed`. Two requests racing past that read both reach consume, where the store's compare-and-set lets one
 * through. The other is refused as a reuse is (400, `invalid_grant`) and ends the grant as a reuse does: the Grant
 * destroyed (destroy hooks run: its delegation tokens' root digest is published), then every token issued under it.
 * The winner may still be saving its tokens meanwhile: after each one it re-reads the grant and, the grant gone, revokes
 * the grant's tokens again and is refused. Either its re-read came before the grant's end, and so did the save, so the
 * revocation that follows the end deletes that token; or it came after, and the winner deletes it: no token of an ended
 * grant survives, in whichever order the two requests run.
 *
 * oidc-provider's own reuse path (lib/helpers/revoke.js: a code or refresh token read consumed, a refresh token
 * revoked, a logout) asks each token model to revoke the grant's tokens and destroys the Grant, all at once: those
 * revocations join the grant's end, whose one revocation after the grant is gone is the one the race above needs.
 *
 * Either way the reuse is refused while the grant's end may fail (the store unavailable): the request answers 503,
 * and the end is handed to `grantEnds`, which runs it again until it goes through. Otherwise the grant, and the tokens
 * the other party already holds, would outlive a reuse that nobody repeats.
 */
function oneTimeGrants(Base: AdapterClass, currentRequest: () => object | undefined, grantEnds?: GrantEnds): AdapterClass {
  /** Requests that consumed a grant's code or refresh token: what they save next is checked against the grant. */
  const consumers = new WeakSet<object>();
  /** Per request, the grants it is ending (a Grant destroy in flight), each with that end. */
  const ending = new WeakMap<object, Map<string, Promise<void>>>();
  // One call: a store's revokeByGrantId deletes every record issued under the grant, whatever its model (stores/types.ts).
  const revokeTokens = (grantId: string) => new Base('AccessToken').revokeByGrantId(grantId);
  /** oidc-provider's own errors are answers; anything else failing a grant's end is the store (as failClosed reads it). */
  const endFailed = (grantId: string, err: unknown) => {
    if (!(err instanceof errors.OIDCProviderError)) grantEnds?.failed(grantId, err);
  };
  return class OneTimeGrantAdapter extends Base {
    readonly #model: string;
    constructor(name: string) {
      super(name);
      this.#model = name;
    }

    override async consume(id: string): Promise<void> {
      try {
        await super.consume(id);
      } catch (err) {
        if (!refusedConsume(err)) throw err;
        if (err.grantId) await new OneTimeGrantAdapter('Grant').destroy(err.grantId);
        // oidc-provider's own refusals of a reuse (lib/helpers/grant_source.js, lib/actions/authorization/respond.js).
        if (this.#model === 'PushedAuthorizationRequest') throw new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used');
        throw new errors.InvalidGrant(`${this.#model} already consumed`);
      }
      const request = currentRequest();
      if (request && GRANT_TOKENS.has(this.#model)) consumers.add(request);
    }

    /** A grant ended takes its tokens with it, after the grant itself (the order the winner's re-read relies on). */
    override async destroy(id: string): Promise<void> {
      if (this.#model !== 'Grant') return super.destroy(id);
      // Taken before anything runs: a failure of this grant's end recorded from here on is not cleared by this one.
      const startedAt = grantEnds?.started(id) ?? 0;
      const end = (async () => {
        await super.destroy(id);
        await revokeTokens(id);
      })();
      const request = currentRequest();
      const ends = request ? (ending.get(request) ?? ending.set(request, new Map()).get(request)!) : undefined;
      ends?.set(id, end);
      try {
        await end;
      } catch (err) {
        // RFC 6749 §4.1.2: "SHOULD revoke (when possible) all tokens previously issued based on that authorization code"; kept and retried until done.
        endFailed(id, err);
        throw err;
      } finally {
        if (ends?.get(id) === end) ends.delete(id);
      }
      grantEnds?.ended(id, startedAt);
    }

    /** A token model's revocation of a grant its request is ending joins that end (one revocation, after the grant). */
    override async revokeByGrantId(grantId: string): Promise<void> {
      const request = currentRequest();
      if (request && GRANT_TOKENS.has(this.#model)) {
        // revoke.js calls every model's revokeByGrantId, then the Grant's destroy, in one synchronous expression: one
        // microtask on, that destroy (if the policy asked for it) has registered its end. Without one, revoke here.
        await undefined;
        const end = ending.get(request)?.get(grantId);
        if (end) return end;
      }
      return super.revokeByGrantId(grantId);
    }

    override async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
      await super.upsert(id, payload, expiresIn);
      const request = currentRequest();
      const grantId = payload.grantId;
      if (!request || !consumers.has(request) || !GRANT_TOKENS.has(this.#model) || typeof grantId !== 'string') return;
      if (await new Base('Grant').find(grantId)) return;
      try {
        await revokeTokens(grantId);
      } catch (err) {
        // RFC 9700 §4.14.2: "it will revoke the active refresh token" (the one just saved too); kept and retried until done.
        endFailed(grantId, err);
        throw err;
      }
      throw new errors.InvalidGrant('grant ended while issuing');
    }
  };
}

/** Runs `hook` before the store destroys a record (oidc-provider destroys an AccessToken only at RFC 7009 revocation);
 * a failing hook fails the destroy (fail closed). */
export function beforeDestroy(Base: AdapterConstructor, hook: (model: string, id: string) => Promise<void>): AdapterConstructor {
  return class HookedAdapter extends (Base as unknown as new (name: string) => { destroy(id: string): Promise<void> }) {
    readonly #model: string;
    constructor(name: string) {
      super(name);
      this.#model = name;
    }
    override async destroy(id: string): Promise<void> {
      await hook(this.#model, id);
      return super.destroy(id);
    }
  } as unknown as AdapterConstructor;
}

export interface ProviderOptions extends ProviderDeps {
  config: ProviderDeps['config'] & Pick<Config, 'proxy' | 'proxyHops'>;
}

export function createProvider(o: ProviderOptions): Provider {
  const provider = new Provider(o.config.issuer, providerConfiguration(o));
  provider.proxy = o.config.proxy;
  // Koa takes the leftmost X-Forwarded-For entry unless told how many hops to trust: a client could pick its own address.
  provider.maxIpsCount = o.config.proxyHops;
  return provider;
}
