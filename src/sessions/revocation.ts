// What each revocation kind means for a token: shared by the exchange (subject tokens) and the introspection endpoint.
import { createHash } from 'node:crypto';
import type { RevocationHits } from '../stores/types.js';

/**
 * The digest a derived token carries for each token it descends from (claim `ancestors`), and the value of the
 * `token_digest` marker that revokes them: base64url(SHA-256(token id)). An opaque token's id is its value, so only
 * the digest may leave the service.
 */
export function tokenDigest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/**
 * The id whose digest roots every delegation token of one provider grant (claim `ancestors`), those the authorization
 * code flow issues and those exchanged from the grant's user access token: destroying the grant (RFC 7009 revocation
 * of its refresh token, reuse of a code or a rotated refresh token, logout, a revocation) publishes that digest.
 */
export const grantRoot = (grantId: string) => `grant:${grantId}`;

/** A well-formed `ancestors` entry: an unpadded base64url SHA-256 digest. */
export const DIGEST_PATTERN = /^[\w-]{43}$/;

/**
 * Returns why a token is revoked, or undefined.
 * - `sid` and `jti`: every token of that session / that token, whenever issued.
 * - `token_digest`: every token derived from that token (its digest is in the token's `ancestors`), whenever issued.
 * - `sub` and `client`: tokens issued at or before the revocation (a user who signs in again, or an agent that
 *   exchanges again later, starts afresh).
 */
export function revokedBecause(hits: RevocationHits, iat: number): string | undefined {
  if (hits.jti) return 'token_revoked';
  if (hits.ancestor) return 'ancestor_revoked';
  if (hits.sid) return 'session_revoked';
  if (hits.sub && iat <= hits.sub.revokedAt) return 'subject_revoked';
  if (hits.clients.some((c) => iat <= c.revokedAt)) return 'client_revoked';
  return undefined;
}
