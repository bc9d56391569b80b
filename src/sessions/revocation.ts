// What each revocation kind means for a token: shared by the exchange (subject tokens) and the introspection endpoint.
import type { RevocationHits } from '../stores/types.js';

/**
 * Returns why a token is revoked, or undefined.
 * - `sid` and `jti`: every token of that session / that token, whenever issued.
 * - `sub` and `client`: tokens issued at or before the revocation (a user who signs in again, or an agent that
 *   exchanges again later, starts afresh).
 */
export function revokedBecause(hits: RevocationHits, iat: number): string | undefined {
  if (hits.jti) return 'token_revoked';
  if (hits.sid) return 'session_revoked';
  if (hits.sub && iat <= hits.sub.revokedAt) return 'subject_revoked';
  if (hits.clients.some((c) => iat <= c.revokedAt)) return 'client_revoked';
  return undefined;
}
