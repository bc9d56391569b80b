// Our own delegation tokens coming back to us (multi-hop exchange, introspection): one verifier, built once at start.
import { createLocalJWKSet, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { REQUIRED_CLAIMS, parseAncestors } from 'delegation-token-verify';
import type { ToolServerConfig } from '../config/schema.js';
import type { RevocationQuery } from '../stores/types.js';
import { actClientIds } from './act.js';
import { AT_JWT, verifyJwt, type Peeked } from './jwt.js';
import type { ActClaim } from './types.js';

export interface OwnTokens {
  issuer: string;
  keys: JWTVerifyGetKey;
  algorithms: string[];
  toolServers: Map<string, ToolServerConfig>;
  /**
   * Tool servers re-exchange the token they received for each downstream call, so a verified token is remembered (by
   * its exact text, until its `exp`, bounded) and its signature checked once; callers still check binding and revocation.
   */
  cache: LRUCache<string, JWTPayload>;
}

export function ownTokens(issuer: string, publicJwks: { keys: JWK[] }, toolServers: Map<string, ToolServerConfig>, maxCached = 10_000): OwnTokens {
  return {
    issuer,
    keys: createLocalJWKSet(publicJwks),
    algorithms: [...new Set(publicJwks.keys.map((k) => String(k.alg)))],
    toolServers,
    cache: new LRUCache<string, JWTPayload>({ max: maxCached }),
  };
}

/** A token verified before and not yet expired by the caller's clock (no leeway: we issued it), else undefined. */
export function cachedOwnToken(own: OwnTokens, token: string, nowSeconds: number): JWTPayload | undefined {
  const cached = own.cache.get(token);
  return cached && cached.exp! > nowSeconds ? cached : undefined;
}

/**
 * RFC 9068 §4 applied to our own tokens: signature with our keys, `typ` at+jwt, exact `iss`, `aud` a registered tool
 * server, not expired (no leeway: we issued it), every claim we always set present. Throws TokenRejected.
 */
export async function verifyOwnToken(own: OwnTokens, token: string, nowSeconds: number, peeked?: Peeked): Promise<JWTPayload> {
  const cached = cachedOwnToken(own, token, nowSeconds);
  if (cached) return cached;
  const payload = await verifyJwt(
    token,
    own.keys,
    {
      issuer: own.issuer,
      audience: [...own.toolServers.keys()],
      algorithms: own.algorithms,
      clockTolerance: 0,
      typ: AT_JWT,
      requiredClaims: [...REQUIRED_CLAIMS],
    },
    'subject_token',
    peeked,
  );
  own.cache.set(token, payload);
  return payload;
}

/**
 * The revocation markers that can touch a delegation token: its session, user, id, the client it was issued to, every
 * actor, and (at an exchange) the client presenting it, so a revoked tool server cannot re-exchange what it holds.
 */
export function revocationQueryFor(payload: JWTPayload, act: ActClaim, ancestors: string[], presenter?: string): RevocationQuery {
  const issuedTo = typeof payload.client_id === 'string' ? [payload.client_id] : [];
  return {
    sid: payload.sid as string,
    sub: payload.sub!,
    jti: payload.jti!,
    clientIds: [...new Set([...issuedTo, ...actClientIds(act), ...(presenter ? [presenter] : [])])],
    ancestors,
  };
}

/**
 * The `ancestors` claim of one of our tokens: digests of the tokens it was derived from, root first, parent last
 * (absent on tokens issued before the claim existed). Undefined when malformed or longer than MAX_ACT_DEPTH (the
 * SDK's parseAncestors: one rule for the issuer and the tool servers).
 */
export function ancestorsOf(payload: JWTPayload): string[] | undefined {
  try {
    return parseAncestors(payload.ancestors);
  } catch {
    return undefined;
  }
}
