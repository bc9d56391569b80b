// createVerifier: the composition of precheck → cache → jose signature → claims → act/claim shape → revocation → scope.
import {
  createRemoteJWKSet,
  customFetch,
  compactVerify,
  errors as joseErrors,
  type CryptoKey,
  type JWTVerifyGetKey,
  type VerifyOptions as JoseVerifyOptions,
} from 'jose';
import { REQUIRED_CLAIMS, toVerifiedToken } from './claims.js';
import { OwnToolDetailsCache } from './authorization_details.js';
import { presenceOrder, validateClaimsSet, type ClaimsSetRules } from './claims_set.js';
import { fromJoseError, VerifyError } from './errors.js';
import { issuerEndpoint } from './issuer_http.js';
import { ExpiringLru } from './lru.js';
import { stats } from './internal_stats.js';
import { precheck, type Prechecked } from './precheck.js';
import { createRevocationCheck } from './revocation.js';
import { createDpopCheck } from './dpop.js';
import { createDpopNonces } from './dpop_nonce.js';
import { MemoryDpopReplayStore } from './dpop_replay.js';
import type { VerifiedToken, Verifier, VerifierOptions, VerifyOptions } from './types.js';

const DEFAULT_ALGORITHMS = ['ES256', 'EdDSA', 'RS256'] as const;
// RFC 8725 §3.1/§3.2: only asymmetric signatures; `none` and MACs (HS*) can never be allowed.
const ASYMMETRIC_ALGORITHMS = new Set([
  'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
]);
const MAX_CLOCK_TOLERANCE = 300;
/** Internal: also the default `algs` of `expressToolAuthorization`'s DPoP challenges. */
export const DEFAULT_DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;

/**
 * Create a verifier for delegation tokens addressed to one tool server.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'delegation-token-verify'
 *
 * const verifier = createVerifier({
 *   issuer: 'https://sts.example',
 *   audience: 'https://tools.example/mcp',
 *   revocation: { mode: 'feed', clientId: 'crm-tools', clientSecret: process.env.STS_SECRET! },
 * })
 * await verifier.ready()
 * const token = await verifier.verify(bearer, { requiredScopes: ['crm.lookup_customer'] })
 * console.log(token.sub, token.actors[0]?.sub)
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const { issuer, audience } = options;
  assertUrl('issuer', issuer);
  assertUrl('audience', audience);
  const algorithms = allowedAlgorithms(options.algorithms);
  const clockTolerance = options.clockTolerance ?? 30;
  if (!(clockTolerance >= 0 && clockTolerance <= MAX_CLOCK_TOLERANCE)) {
    // RFC 7519 §4.1.4: leeway is "usually no more than a few minutes".
    throw new TypeError(`clockTolerance must be between 0 and ${MAX_CLOCK_TOLERANCE} seconds`);
  }
  const { maxTokenAge } = options;
  if (maxTokenAge !== undefined && !(maxTokenAge > 0)) throw new TypeError('maxTokenAge must be > 0 seconds');
  const jwksUri = options.jwksUri ?? issuerEndpoint(issuer, 'jwks');
  assertUrl('jwksUri', jwksUri);

  // RFC 8725 §3.8: keys come only from the issuer's JWKS; jku, x5u and jwk headers are never consulted.
  let jwksFetches = 0;
  const remoteJwks = createRemoteJWKSet(new URL(jwksUri), {
    cooldownDuration: (options.jwks?.cooldownSeconds ?? 30) * 1000,
    cacheMaxAge: (options.jwks?.cacheMaxAgeSeconds ?? 600) * 1000,
    timeoutDuration: options.jwks?.timeoutMs ?? 5000,
    // Counts every key set fetch jose starts (it calls this synchronously when it begins a reload), so the key memo
    // below can tell that the set it was filled from may have been replaced.
    [customFetch]: (url, init) => {
      jwksFetches++;
      return fetch(url, init);
    },
  });
  const keys = new KeyMemo(remoteJwks, () => jwksFetches);
  const getKey: JWTVerifyGetKey = async (header, token) => {
    stats.jwksKeyLookups++;
    const fetchesBefore = jwksFetches;
    const quietBefore = !remoteJwks.reloading;
    let key: CryptoKey;
    try {
      key = await remoteJwks(header, token);
    } catch (err) {
      // A network failure is a plain TypeError from fetch; only jose's own errors say something about the token.
      if (err instanceof joseErrors.JOSEError) throw err;
      throw new VerifyError('ERR_JWKS_UNAVAILABLE', { detail: 'JWKS fetch failed', cause: err });
    }
    // Remember the key only when no fetch was in flight at any point of the lookup: then it came from the key set
    // that is still current, not from one a concurrent reload has just replaced.
    if (quietBefore && !remoteJwks.reloading && jwksFetches === fetchesBefore) keys.remember(header.alg, header.kid, key);
    return key;
  };

  const cache = options.cache === false ? undefined : new ExpiringLru<VerifiedToken>(options.cache?.maxEntries ?? 10_000);
  const ownDetails = new OwnToolDetailsCache(audience);
  const now = options.now ?? Date.now;
  const revocation = createRevocationCheck(options.revocation, issuer, now);
  const dpopAlgorithms = allowedAlgorithms(options.dpop?.algorithms ?? DEFAULT_DPOP_ALGORITHMS);
  const proofWindowSeconds = options.dpop?.proofWindowSeconds ?? 60;
  if (!(proofWindowSeconds > 0 && proofWindowSeconds <= 300)) throw new TypeError('dpop.proofWindowSeconds must be between 1 and 300');
  const nonces = options.dpop?.nonceSecret === undefined ? undefined : createDpopNonces(options.dpop.nonceSecret, now);
  const checkProof = createDpopCheck({
    algorithms: dpopAlgorithms,
    windowSeconds: proofWindowSeconds,
    replay: options.dpop?.replay ?? new MemoryDpopReplayStore(options.dpop?.replayCacheSize, now),
    nonces,
    now,
  });

  // The signature is jose's compactVerify (the precheck already parsed the payload and checked typ and crit); the
  // claims are checked as jose's jwtVerify would, by validateClaimsSet.
  const joseOptions: JoseVerifyOptions = { algorithms: [...algorithms] };
  const claimsRules: ClaimsSetRules = {
    // RFC 9068 §4: the issuer identifier MUST exactly match the iss claim.
    issuer,
    // RFC 9068 §4 / RFC 7519 §4.1.3: reject tokens whose aud does not contain our resource identifier.
    audience,
    // RFC 7519 §4.1.4-5: exp and nbf with bounded leeway.
    clockTolerance,
    maxTokenAge,
    // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat and jti are REQUIRED.
    requiredClaims: REQUIRED_CLAIMS,
  };
  const requiredInOrder = presenceOrder(claimsRules);

  async function verify(token: string | undefined, verifyOptions: VerifyOptions = {}): Promise<VerifiedToken> {
    const nowMs = now();
    let verified = typeof token === 'string' ? cache?.get(token, nowMs) : undefined;
    if (!verified) {
      const pre = untrustedPrecheck(token, algorithms, ownDetails);
      stats.signatureVerifications++;
      try {
        // A key already resolved for this kid and alg from the current key set is handed to jose directly; anything
        // else goes through the remote set (and so through its rate-limited refresh for an unknown kid).
        await compactVerify(token as string, keys.get(pre.alg, pre.kid) ?? getKey, joseOptions);
        // As jwtVerify did: the default clock is read once the signature is checked, an injected one at the call.
        validateClaimsSet(pre.claims, claimsRules, requiredInOrder, options.now === undefined ? Date.now() : nowMs);
      } catch (err) {
        throw fromJoseError(err);
      }
      verified = toVerifiedToken(pre.claims, Math.floor(nowMs / 1000), clockTolerance, (claim) => pre.details ?? ownDetails.resolve(claim, pre.detailsText));
      cache?.set(token as string, verified, cacheUntilMs(verified, maxTokenAge));
    }
    // The binding is per call: the signature may come from the cache, the proof never does.
    if (verifyOptions.dpop) {
      // RFC 9449 §7.1: the DPoP scheme carries a DPoP-bound token.
      if (verified.jkt === undefined) throw new VerifyError('ERR_TOKEN_NOT_BOUND', { detail: 'no cnf.jkt' });
      await checkProof(verifyOptions.dpop, token as string, verified.jkt);
    } else if (verified.jkt !== undefined) {
      // RFC 9449 §7.2: a DPoP-bound token MUST NOT be accepted as a bearer token.
      throw new VerifyError('ERR_TOKEN_BOUND', { detail: 'cnf.jkt present' });
    }
    // Revocation and scope are per call: a cached token can be revoked, and each route needs different scopes.
    // The feed and `none` modes answer synchronously (a throw here rejects verify all the same); introspection awaits.
    const revocationPending = revocation.check(token as string, verified);
    if (revocationPending) await revocationPending;
    const required = verifyOptions.requiredScopes;
    if (required !== undefined && required.length > 0) {
      const missing = required.filter((scope) => !verified.scopes.includes(scope));
      if (missing.length > 0) {
        throw new VerifyError('ERR_INSUFFICIENT_SCOPE', { detail: `missing ${missing.join(' ')}`, requiredScopes: required });
      }
    }
    return verified;
  }

  return {
    issuer,
    audience,
    dpopAlgorithms: [...dpopAlgorithms],
    dpopNonce: () => nonces?.current(),
    verify,
    ready: () => revocation.ready(),
    health() {
      const state = revocation.health();
      return { ready: state.fresh, revocation: state };
    },
    close() {
      revocation.close();
      cache?.clear();
    },
  };
}

/**
 * The CryptoKeys jose resolved from the remote JWKS, by alg and kid, so a known kid skips jose's key set lookup
 * (header merge, candidate filtering, import cache) on every call. Entries only ever come from the remote set, and
 * the memo is emptied whenever the set is due for its periodic refresh or a fetch of it has started since the
 * entries were added: a rotated key set is picked up exactly as jose alone would, and an unknown kid always misses
 * and goes to jose, whose refresh stays rate-limited by the cooldown.
 */
class KeyMemo {
  private readonly byAlg = new Map<string, Map<string, CryptoKey>>();
  /** The fetch count the entries were resolved under. */
  private generation = 0;

  constructor(
    private readonly remote: { readonly fresh: boolean },
    private readonly fetches: () => number,
  ) {}

  get(alg: string, kid: string): CryptoKey | undefined {
    if (!this.current()) return undefined;
    return this.byAlg.get(alg)?.get(kid);
  }

  /** Keep a key jose just resolved; the caller makes sure no key set fetch ran during that lookup. */
  remember(alg: unknown, kid: unknown, key: CryptoKey): void {
    if (typeof alg !== 'string' || typeof kid !== 'string' || !this.current()) return;
    let byKid = this.byAlg.get(alg);
    if (!byKid) this.byAlg.set(alg, (byKid = new Map()));
    byKid.set(kid, key);
  }

  /** Drop the entries when they may no longer reflect the key set jose holds; true when they still do. */
  private current(): boolean {
    const fetches = this.fetches();
    if (fetches === this.generation && this.remote.fresh) return true;
    this.byAlg.clear();
    this.generation = fetches;
    return false;
  }
}

/**
 * `precheck`, where anything thrown that is not a VerifyError (a RangeError from nesting the sender chose, say) also
 * refuses the token as malformed: every refusal is a VerifyError with a stable code, and the raw message stays in
 * `cause`, never in `detail`.
 */
function untrustedPrecheck(token: unknown, algorithms: ReadonlySet<string>, details: OwnToolDetailsCache): Prechecked {
  try {
    return precheck(token, algorithms, details);
  } catch (err) {
    if (err instanceof VerifyError) throw err;
    throw new VerifyError('ERR_TOKEN_MALFORMED', { detail: 'token could not be decoded', cause: err });
  }
}

/** A cached result is reused only while jose would still accept the token without leeway. */
function cacheUntilMs(token: VerifiedToken, maxTokenAge: number | undefined): number {
  const until = maxTokenAge === undefined ? token.exp : Math.min(token.exp, token.iat + maxTokenAge);
  return until * 1000;
}

/** Internal. */
export function allowedAlgorithms(algorithms: readonly string[] = DEFAULT_ALGORITHMS): ReadonlySet<string> {
  if (algorithms.length === 0) throw new TypeError('algorithms must not be empty');
  for (const alg of algorithms) {
    if (!ASYMMETRIC_ALGORITHMS.has(alg)) throw new TypeError(`algorithm ${JSON.stringify(alg)} is not allowed`);
  }
  return new Set(algorithms);
}

function assertUrl(name: string, value: unknown): void {
  if (typeof value !== 'string' || !URL.canParse(value)) throw new TypeError(`${name} must be an absolute URL`);
}
