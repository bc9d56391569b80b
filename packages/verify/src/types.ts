// Public types of the verify SDK. Defaults are documented here, next to the option they belong to.
// Types only: jose is ESM, so CommonJS consumers' node16 type resolution needs the explicit resolution mode.
import type { JWTPayload } from 'jose' with { 'resolution-mode': 'import' };
import type { McpToolDetails } from './constraints.js';
import type { DpopRequest } from './dpop.js';
import type { DpopReplayStore } from './dpop_replay.js';

/**
 * One entry of the RFC 8693 §4.1 `act` chain.
 *
 * @example
 * ```ts
 * const currentActor: Actor | undefined = token.actors[0] // { sub: 'agent-b', iss: 'https://sts.example' }
 * ```
 */
export interface Actor {
  sub: string;
  iss?: string;
}

/**
 * What a successful `verify` returns. Frozen: the same object may be handed to several requests from the cache.
 *
 * @example
 * ```ts
 * const token: VerifiedToken = await verifier.verify(bearer)
 * audit.log({ user: token.sub, agent: token.actors[0]?.sub, session: token.sid, jti: token.jti })
 * ```
 */
export interface VerifiedToken {
  /** The originating user. */
  readonly sub: string;
  /** RFC 8693 §4.3: the client that requested this token. */
  readonly clientId: string;
  /** RFC 8693 §4.2: the granted tool scopes, split on spaces. */
  readonly scopes: readonly string[];
  /** Session id; revoking the session revokes the token. */
  readonly sid: string;
  readonly jti: string;
  /** Epoch seconds. */
  readonly exp: number;
  /** Epoch seconds. */
  readonly iat: number;
  /**
   * The `act` chain flattened, current actor first. RFC 8693 §4.1: only the current actor (index 0) may be used
   * for access control; the rest are informational.
   */
  readonly actors: readonly Actor[];
  /**
   * The `ancestors` claim: base64url(SHA-256) digests of the ids of the tokens this one was derived from, root first,
   * parent last (empty when absent). Revoking any of them (a `token_digest` feed record) revokes this token.
   */
  readonly ancestors: readonly string[];
  /**
   * RFC 9396 §9.1: the `mcp_tool` entries of the `authorization_details` claim whose `locations` is this verifier's
   * audience (empty when none); `decide` enforces them. Entries for other locations and types are not here.
   */
  readonly authorizationDetails: readonly McpToolDetails[];
  /**
   * RFC 9449 §6.1: the thumbprint of the key the token is bound to (`cnf.jkt`), for a DPoP-bound token. Such a token
   * is accepted only with a valid proof of that key (`VerifyOptions.dpop`), never as a bearer token.
   */
  readonly jkt?: string;
  /** The raw, verified JWT claims set. */
  readonly claims: Readonly<JWTPayload>;
}

/**
 * Per-call options of `verify`.
 *
 * @example
 * ```ts
 * await verifier.verify(bearer, { requiredScopes: ['crm.export_customers'] })
 * ```
 */
export interface VerifyOptions {
  /** Scopes that must all be granted, else `ERR_INSUFFICIENT_SCOPE` (403). Checked on every call, cached or not. */
  requiredScopes?: readonly string[];
  /**
   * The token came as `Authorization: DPoP <token>`: the request's `DPoP` header, method and public URL. The token must
   * be DPoP-bound and the proof must pass every RFC 9449 §4.3/§7.1 check, on every call (a cached token is no
   * exception). Without it, a DPoP-bound token is refused (`ERR_TOKEN_BOUND`, RFC 9449 §7.2).
   */
  dpop?: DpopRequest;
}

/**
 * A `fetch` compatible function; inject one for proxies, mTLS or tests.
 *
 * @example
 * ```ts
 * const logged: FetchLike = (url, init) => (log.debug({ url: String(url) }), fetch(url, init))
 * ```
 */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * One revocation as published by the issuer's feed (wire format v2). Times are epoch seconds. `token_digest` (v2):
 * `value` is a digest found in the `ancestors` of every token it revokes.
 *
 * @example
 * ```ts
 * const record: RevocationRecord = { kind: 'sid', value: 'sess-1', revokedAt: 1767225600, expiresAt: 1767225900 }
 * ```
 */
export interface RevocationRecord {
  kind: 'sid' | 'sub' | 'client' | 'jti' | 'token_digest';
  value: string;
  revokedAt: number;
  expiresAt: number;
  reason?: string;
}

/**
 * Client credentials for the issuer's revocation feed or introspection endpoint (HTTP Basic).
 *
 * @example
 * ```ts
 * const credentials: IssuerClientCredentials = { clientId: 'crm-tools', clientSecret: process.env.STS_SECRET! }
 * ```
 */
export interface IssuerClientCredentials {
  clientId: string;
  clientSecret: string;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
}

/**
 * How revocations reach this tool server.
 * - `none`: tokens live until `exp` (at most minutes); accept that or pick another mode.
 * - `feed` (recommended for production): snapshot + server-sent events, checked in memory with no per-request call.
 * - `introspect`: ask the issuer (RFC 7662) for each token, cached for `cacheSeconds`.
 *
 * @example
 * ```ts
 * const revocation: RevocationOptions = { mode: 'feed', clientId: 'crm-tools', clientSecret, maxStalenessSeconds: 30 }
 * ```
 */
export type RevocationOptions =
  | { mode: 'none' }
  | (IssuerClientCredentials & {
      mode: 'feed';
      /** Refuse every token (503) when nothing, not even a heartbeat, arrived for this long. Default 30. */
      maxStalenessSeconds?: number;
    })
  | (IssuerClientCredentials & {
      mode: 'introspect';
      /** How long an `active: true` answer is reused. Default 5. `active: false` is kept until the token's `exp`. */
      cacheSeconds?: number;
    });

/**
 * Options of `createVerifier`.
 *
 * @example
 * ```ts
 * const options: VerifierOptions = { issuer: 'https://sts.example', audience: 'https://tools.example/mcp' }
 * ```
 */
export interface VerifierOptions {
  /** The token service's issuer identifier; `iss` must equal it exactly (RFC 9068 §4). */
  issuer: string;
  /** This tool server's canonical resource URI; `aud` must be it or an array containing it. */
  audience: string;
  /** Where the signing keys are. Default `${issuer}/jwks`. */
  jwksUri?: string;
  /** Allowed `alg` values. Default `['ES256', 'EdDSA', 'RS256']`. `none` and `HS*` are refused at construction. */
  algorithms?: readonly string[];
  /** Leeway in seconds for `exp`, `nbf` and `iat`. Default 30, at most 300. */
  clockTolerance?: number;
  /** Refuse tokens whose `iat` is older than this many seconds, whatever their `exp`. Default: no limit. */
  maxTokenAge?: number;
  /** Default `{ mode: 'none' }`. Production deployments should use `feed`. */
  revocation?: RevocationOptions;
  /** Cache of successful signature/claim checks, by token string, until `exp`. `false` disables it. */
  cache?: false | { /** Default 10_000. */ maxEntries?: number };
  /**
   * The clock, in epoch milliseconds, for the `exp`/`nbf`/`iat` checks, the token and introspection caches, and the
   * revocation feed's staleness. Default `Date.now`; inject one in tests to move time without waiting.
   */
  now?: () => number;
  /** DPoP proof checks (RFC 9449) for tokens presented as `Authorization: DPoP`. */
  dpop?: {
    /** Allowed proof `alg` values (asymmetric only). Default `['ES256', 'EdDSA', 'RS256', 'PS256']`; sent as `algs`. */
    algorithms?: readonly string[];
    /** A proof's `iat` must be within this many seconds of now, either way. Default 60, at most 300. */
    proofWindowSeconds?: number;
    /**
     * Where proof `jti`s are claimed once (RFC 9449 §11.1). Default: in memory, for this process only, holding at most
     * `replayCacheSize` live ids (full: refused with 503). Several replicas behind one name must share one store.
     */
    replay?: DpopReplayStore;
    /** Size of the default in-memory replay cache. Default 100_000 (about 800 proofs per second at a 60 s window). */
    replayCacheSize?: number;
    /**
     * Require resource-server nonces (RFC 9449 §9): a proof without a current one gets 401 `use_dpop_nonce` and a
     * `DPoP-Nonce`. The secret (at least 32 bytes) derives the nonces; replicas sharing it accept each other's.
     * Default: no nonces.
     */
    nonceSecret?: string | Uint8Array;
  };
  /** Remote JWKS behaviour. */
  jwks?: {
    /** Minimum seconds between two refreshes triggered by an unknown `kid`. Default 30. */
    cooldownSeconds?: number;
    /** Refetch the key set after this many seconds even if every `kid` is known. Default 600. */
    cacheMaxAgeSeconds?: number;
    /** HTTP timeout of a key set fetch. Default 5000 ms. */
    timeoutMs?: number;
  };
}

/**
 * A configured verifier. Create one per process and reuse it; call `close()` on shutdown.
 *
 * @example
 * ```ts
 * const verifier: Verifier = createVerifier(options)
 * process.on('SIGTERM', () => verifier.close())
 * ```
 */
export interface Verifier {
  readonly issuer: string;
  readonly audience: string;
  /** The DPoP proof algorithms accepted, for the `algs` challenge attribute (RFC 9449 §7.1). */
  readonly dpopAlgorithms: readonly string[];
  /** The current resource-server DPoP nonce to send as `DPoP-Nonce`, when nonces are required; else undefined. */
  dpopNonce(): string | undefined;
  /** Verify a delegation token; resolves with its claims or rejects with a `VerifyError`. */
  verify(token: string | undefined, options?: VerifyOptions): Promise<VerifiedToken>;
  /** Resolves once revocation data is usable (the feed's first snapshot); immediately for other modes. */
  ready(): Promise<void>;
  /**
   * Whether `verify` could accept a token right now as far as revocation data goes, without verifying one: for a
   * readiness probe that must turn unready when the feed goes stale even while no traffic arrives.
   */
  health(): VerifierHealth;
  /** Stop the revocation feed and drop caches. */
  close(): void;
}

/**
 * What `verifier.health()` reports. `ready` is false exactly when `verify` would refuse every token with
 * `ERR_REVOCATION_UNAVAILABLE` because of the revocation data (no first snapshot, silent longer than
 * `maxStalenessSeconds`, a `reset` not yet followed by a snapshot, or a record this SDK cannot apply). The JWKS is not
 * probed: it is fetched when a token needs it.
 *
 * @example
 * ```ts
 * const health: VerifierHealth = verifier.health()
 * // { ready: true, revocation: { mode: 'feed', fresh: true, ageMs: 812 } }
 * res.statusCode = health.ready ? 200 : 503
 * ```
 */
export interface VerifierHealth {
  ready: boolean;
  revocation: {
    mode: 'none' | 'feed' | 'introspect';
    /**
     * `feed`: the first snapshot arrived, something (event or heartbeat) within `maxStalenessSeconds`, and no `reset` or
     * record this SDK cannot apply since the last snapshot. Other modes: true.
     */
    fresh: boolean;
    /** `feed`: milliseconds since the issuer was last heard from (absent before the first snapshot). */
    ageMs?: number;
  };
}
