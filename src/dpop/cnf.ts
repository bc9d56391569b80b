// The key a subject token is bound to (RFC 9449 §6.1 `cnf.jkt`), read from its claims or its stored record.
import { TokenRejected } from '../token_types/types.js';

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/**
 * `{ jkt }` for a DPoP-bound token, `{}` for an unbound one. A `cnf` this service cannot verify (another confirmation
 * method such as mTLS's `x5t#S256`, or a malformed `jkt`) is refused: dropping a binding we cannot check would turn a
 * sender-constrained token into a bearer one.
 *
 * @example
 * const { jkt } = boundKey(payload.cnf);
 */
export function boundKey(cnf: unknown, which: 'subject_token' | 'actor_token' = 'subject_token'): { jkt?: string } {
  if (cnf === undefined) return {};
  // RFC 7800 §3.1 / RFC 9449 §6.1: `cnf` is an object; `jkt` the base64url SHA-256 JWK thumbprint (43 characters).
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) throw new TokenRejected('unsupported_cnf', which);
  const members = Object.keys(cnf);
  const jkt = (cnf as { jkt?: unknown }).jkt;
  if (members.length !== 1 || typeof jkt !== 'string' || !THUMBPRINT.test(jkt)) throw new TokenRejected('unsupported_cnf', which);
  return { jkt };
}
