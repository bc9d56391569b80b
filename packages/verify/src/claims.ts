// The delegation token's claim rules, shared by the issuer (which imports them from this package) and every verifier:
// claims shape, the `act` chain and its depth cap, the `ancestors` claim, and which actors a revocation reaches.
// Types only: jose is ESM, so CommonJS consumers' node16 type resolution needs the explicit resolution mode.
import type { JWTPayload } from 'jose' with { 'resolution-mode': 'import' };
import { VerifyError } from './errors.js';
import { isIdentifier } from './identifiers.js';
import type { ResolvedDetails } from './authorization_details.js';
import type { McpToolDetails } from './constraints.js';
import type { Actor, VerifiedToken } from './types.js';
import { deepFreeze } from './freeze.js';

/**
 * The longest `act` chain (and `ancestors` list) a delegation token may carry. The issuer's `exchange.maxActDepth`
 * (default 4) may not exceed it, so the issuer never mints a token this SDK refuses.
 *
 * @example
 * ```ts
 * import { MAX_ACT_DEPTH } from 'delegation-token-verify'
 *
 * if (token.actors.length === MAX_ACT_DEPTH) log.warn('delegation chain at its cap')
 * ```
 */
export const MAX_ACT_DEPTH = 10;

/**
 * The claims every delegation token carries: RFC 9068 §2.2's required claims, `sid` (revocation by session) and
 * `act` (RFC 8693 §4.1: it is a delegation token because someone acts for the user).
 *
 * @example
 * ```ts
 * import { REQUIRED_CLAIMS } from 'delegation-token-verify'
 *
 * await jwtVerify(token, keys, { requiredClaims: [...REQUIRED_CLAIMS] })
 * ```
 */
export const REQUIRED_CLAIMS: readonly string[] = Object.freeze(['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'sid', 'act']);

// RFC 8693 §4.1: exp, nbf and aud inside act "are not meaningful ... and are therefore not used"; our issuer never
// puts them there, so their presence means someone else minted or altered the chain.
const FORBIDDEN_IN_ACT = ['exp', 'nbf', 'aud'] as const;

// Our issuer's `ancestors` entries: base64url(SHA-256), 43 characters.
const DIGEST = /^[\w-]{43}$/;

/**
 * The claims of a delegation token, shaped. Everything in it has passed the shape rules; signature, `iss`, `aud`,
 * `exp` and `nbf` are the caller's (jose's) job.
 */
export interface DelegationClaims {
  sub: string;
  clientId: string;
  sid: string;
  jti: string;
  /** Epoch seconds. */
  exp: number;
  /** Epoch seconds. */
  iat: number;
  scopes: string[];
  /** The `act` chain flattened, current actor first; never empty. */
  actors: Actor[];
  /** The `ancestors` claim, root first; empty when absent. */
  ancestors: string[];
}

/**
 * Check the shape of a delegation token's claims (already signature-verified) and return them typed. Throws a
 * `VerifyError`: `ERR_ACT_INVALID` for a missing or malformed `act` chain, `ERR_CLAIM_INVALID` for anything else.
 *
 * @example
 * ```ts
 * import { parseDelegationClaims } from 'delegation-token-verify'
 *
 * const { payload } = await jwtVerify(token, keys, options)
 * const { sub, actors } = parseDelegationClaims(payload)
 * ```
 */
export function parseDelegationClaims(claims: JWTPayload): DelegationClaims {
  const sub = requireIdentifier(claims, 'sub');
  const clientId = requireIdentifier(claims, 'client_id');
  const sid = requireIdentifier(claims, 'sid');
  const jti = requireIdentifier(claims, 'jti');
  const exp = requireNumber(claims, 'exp');
  const iat = requireNumber(claims, 'iat');
  // RFC 8693 §4.1: a delegation token names its actor; one without `act` is some other token.
  const actors = parseActChain(claims.act);
  return { sub, clientId, sid, jti, exp, iat, scopes: parseScope(claims.scope), actors, ancestors: parseAncestors(claims.ancestors) };
}

/**
 * Flatten a nested `act` claim into a list, current actor first. Throws `ERR_ACT_INVALID` for anything that is not a
 * chain of 1 to MAX_ACT_DEPTH objects, each with an identifier `sub`, an optional non-empty string `iss`, and no
 * `exp`, `nbf` or `aud`. Other members (RFC 8693 leaves them open) are ignored.
 *
 * @example
 * ```ts
 * import { parseActChain } from 'delegation-token-verify'
 *
 * parseActChain({ sub: 'crm-server', act: { sub: 'agent' } }) // [{ sub: 'crm-server' }, { sub: 'agent' }]
 * ```
 */
export function parseActChain(act: unknown): Actor[] {
  const actors: Actor[] = [];
  let node: unknown = act;
  do {
    if (actors.length === MAX_ACT_DEPTH) throw actInvalid(`act chain deeper than ${MAX_ACT_DEPTH}`);
    if (typeof node !== 'object' || node === null || Array.isArray(node)) throw actInvalid('act is not an object');
    const entry = node as Record<string, unknown>;
    // RFC 8693 §4.1: the act claim value is a JSON object whose members identify the actor (sub, optionally iss).
    if (!isIdentifier(entry.sub)) throw actInvalid('act.sub is not an identifier');
    if (entry.iss !== undefined && (typeof entry.iss !== 'string' || entry.iss === '')) throw actInvalid('act.iss is not a string');
    for (const name of FORBIDDEN_IN_ACT) {
      if (Object.hasOwn(entry, name)) throw actInvalid(`act contains ${name}`);
    }
    actors.push(entry.iss === undefined ? { sub: entry.sub } : { sub: entry.sub, iss: entry.iss });
    node = entry.act;
  } while (node !== undefined);
  return actors;
}

/**
 * The client ids whose revocation revokes a token with this `act` chain: every actor in it, current and prior,
 * whatever its `iss` (a revocation names a client id; matching a foreign actor of the same name errs on the closed side).
 *
 * @example
 * ```ts
 * import { revokableActors } from 'delegation-token-verify'
 *
 * const clients = [token.clientId, ...revokableActors(token.actors)]
 * ```
 */
export function revokableActors(actors: readonly Actor[]): string[] {
  return actors.map((actor) => actor.sub);
}

/**
 * Our issuer's `ancestors` claim: at most MAX_ACT_DEPTH base64url SHA-256 digests, root first; absent means none.
 * Throws `ERR_CLAIM_INVALID` otherwise.
 *
 * @example
 * ```ts
 * import { parseAncestors } from 'delegation-token-verify'
 *
 * const digests = parseAncestors(payload.ancestors) // [] when absent
 * ```
 */
export function parseAncestors(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_ACT_DEPTH || !value.every((d) => typeof d === 'string' && DIGEST.test(d))) {
    throw new VerifyError('ERR_CLAIM_INVALID', { detail: 'ancestors is not a list of digests' });
  }
  return value as string[];
}

/**
 * Build the VerifiedToken from claims whose signature (jose) and `iss`, `aud`, `exp`, `nbf` (`validateClaimsSet`) passed.
 * `nowSeconds` and `tolerance` drive the `iat` sanity check; `resolveDetails` checks the `authorization_details`
 * claim and selects the `mcp_tool` entries for this verifier's audience (see `OwnToolDetailsCache`).
 */
export function toVerifiedToken(
  claims: JWTPayload,
  nowSeconds: number,
  tolerance: number,
  resolveDetails: (claim: unknown) => ResolvedDetails,
): VerifiedToken {
  const { sub, clientId, sid, jti, exp, iat, scopes, actors, ancestors } = parseDelegationClaims(claims);
  // RFC 7519 §4.1.6 only defines iat; a token "issued" beyond the leeway in the future is a broken or forged clock [P].
  if (iat > nowSeconds + tolerance) throw new VerifyError('ERR_NOT_YET_VALID', { detail: 'iat in the future' });
  const jkt = boundKey(claims.cnf);
  let authorizationDetails: readonly McpToolDetails[] = NO_DETAILS;
  if (claims.authorization_details !== undefined) {
    const { claim, own } = resolveDetails(claims.authorization_details);
    // The same value, already frozen (deepFreeze below then skips it), shared with other tokens that carry its text.
    claims.authorization_details = claim;
    authorizationDetails = own;
  }
  return deepFreeze({ sub, clientId, scopes, sid, jti, exp, iat, actors, ancestors, authorizationDetails, ...(jkt ? { jkt } : {}), claims });
}

const NO_DETAILS: readonly McpToolDetails[] = Object.freeze([]);

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/** RFC 9449 §6.1 `cnf.jkt`, or undefined for a bearer token. A `cnf` we cannot check (mTLS's `x5t#S256`, a malformed
 * `jkt`, extra members) is refused whichever way the token is presented: dropping it would make it a bearer token. */
function boundKey(cnf: unknown): string | undefined {
  if (cnf === undefined) return undefined;
  const jkt = (cnf as { jkt?: unknown } | null)?.jkt;
  // RFC 7800 §3.1 / RFC 9449 §6.1: `cnf` is an object; `jkt` the base64url SHA-256 JWK thumbprint.
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf) || Object.keys(cnf).length !== 1 || typeof jkt !== 'string' || !THUMBPRINT.test(jkt)) {
    throw new VerifyError('ERR_TOKEN_BOUND', { detail: 'unsupported cnf' });
  }
  return jkt;
}

/** RFC 8693 §4.2: `scope` is one JSON string of space-separated values. Absent means no scopes. */
function parseScope(scope: unknown): string[] {
  if (scope === undefined) return [];
  if (typeof scope !== 'string') throw new VerifyError('ERR_CLAIM_INVALID', { detail: 'scope is not a string' });
  return [...new Set(scope.split(' ').filter(Boolean))];
}

function requireIdentifier(claims: JWTPayload, name: string): string {
  const value = claims[name];
  if (!isIdentifier(value)) throw new VerifyError('ERR_CLAIM_INVALID', { detail: `${name} is not an identifier` });
  return value;
}

function requireNumber(claims: JWTPayload, name: string): number {
  const value = claims[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new VerifyError('ERR_CLAIM_INVALID', { detail: `${name} is not a number` });
  return value;
}

function actInvalid(detail: string): VerifyError {
  return new VerifyError('ERR_ACT_INVALID', { detail });
}

