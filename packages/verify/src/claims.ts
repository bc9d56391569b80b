// Claim checks jose does not do for us, and the shaping of a verified claims set into a VerifiedToken.
import type { JWTPayload } from 'jose';
import { VerifyError } from './errors.js';
import type { Actor, VerifiedToken } from './types.js';

/** Deeper chains are refused: the issuer caps depth at 4 by default, so 10 leaves room without being unbounded. */
export const MAX_ACT_DEPTH = 10;

/** RFC 9068 §2.2 required claims, plus `sid`, which our revocation semantics need. */
export const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'sid'] as const;

// RFC 8693 §4.1: exp, nbf and aud inside act "are not meaningful ... and are therefore not used"; our issuer never
// puts them there, so their presence means someone else minted or altered the chain.
const FORBIDDEN_IN_ACT = ['exp', 'nbf', 'aud'] as const;

/**
 * Build the VerifiedToken from claims whose signature, `iss`, `aud`, `exp` and `nbf` jose already checked.
 * `nowSeconds` and `tolerance` drive the `iat` sanity check.
 */
export function toVerifiedToken(claims: JWTPayload, nowSeconds: number, tolerance: number): VerifiedToken {
  const sub = requireString(claims, 'sub');
  const clientId = requireString(claims, 'client_id');
  const sid = requireString(claims, 'sid');
  const jti = requireString(claims, 'jti');
  const exp = claims.exp as number;
  const iat = claims.iat as number;
  // RFC 7519 §4.1.6 only defines iat; a token "issued" beyond the leeway in the future is a broken or forged clock [P].
  if (iat > nowSeconds + tolerance) throw new VerifyError('ERR_NOT_YET_VALID', { detail: 'iat in the future' });
  // RFC 9449 §7.2: a DPoP-bound token MUST NOT be accepted as a bearer token; this SDK only does bearer.
  if (claims.cnf !== undefined) throw new VerifyError('ERR_TOKEN_BOUND', { detail: 'cnf claim present' });
  const actors = claims.act === undefined ? [] : parseActChain(claims.act);
  const ancestors = parseAncestors(claims.ancestors);
  return deepFreeze({ sub, clientId, scopes: parseScope(claims.scope), sid, jti, exp, iat, actors, ancestors, claims });
}

/** Our issuer's `ancestors` claim: at most MAX_ACT_DEPTH base64url SHA-256 digests; absent means none. */
function parseAncestors(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_ACT_DEPTH || !value.every((d) => typeof d === 'string' && /^[\w-]{43}$/.test(d))) {
    throw new VerifyError('ERR_CLAIM_INVALID', { detail: 'ancestors is not a list of digests' });
  }
  return value as string[];
}

/** RFC 8693 §4.2: `scope` is one JSON string of space-separated values. Absent means no scopes. */
function parseScope(scope: unknown): string[] {
  if (scope === undefined) return [];
  if (typeof scope !== 'string') throw new VerifyError('ERR_CLAIM_INVALID', { detail: 'scope is not a string' });
  return [...new Set(scope.split(' ').filter(Boolean))];
}

/**
 * Flatten a nested `act` claim into a list, current actor first. Throws ERR_ACT_INVALID for anything that is not
 * a chain of objects with a string `sub`.
 */
export function parseActChain(act: unknown): Actor[] {
  const actors: Actor[] = [];
  let node: unknown = act;
  while (node !== undefined) {
    if (actors.length === MAX_ACT_DEPTH) throw actInvalid(`act chain deeper than ${MAX_ACT_DEPTH}`);
    if (typeof node !== 'object' || node === null || Array.isArray(node)) throw actInvalid('act is not an object');
    const entry = node as Record<string, unknown>;
    // RFC 8693 §4.1: the act claim value is a JSON object whose members identify the actor (sub, optionally iss).
    if (typeof entry.sub !== 'string' || entry.sub.length === 0) throw actInvalid('act.sub missing');
    if (entry.iss !== undefined && typeof entry.iss !== 'string') throw actInvalid('act.iss is not a string');
    for (const name of FORBIDDEN_IN_ACT) {
      if (Object.hasOwn(entry, name)) throw actInvalid(`act contains ${name}`);
    }
    actors.push(entry.iss === undefined ? { sub: entry.sub } : { sub: entry.sub, iss: entry.iss });
    node = entry.act;
  }
  return actors;
}

function requireString(claims: JWTPayload, name: string): string {
  const value = claims[name];
  if (typeof value !== 'string' || value.length === 0) {
    throw new VerifyError('ERR_CLAIM_INVALID', { detail: `${name} is not a non-empty string` });
  }
  return value;
}

function actInvalid(detail: string): VerifyError {
  return new VerifyError('ERR_ACT_INVALID', { detail });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
