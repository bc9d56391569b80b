// Checks on the raw compact JWS that must hold before any key is looked up or any signature is computed.
import { VerifyError } from './errors.js';
import { decodeJsonSegment } from './json_strict.js';

/** Our tokens are well under 4 KiB; anything far larger is refused before it costs a JSON parse. */
export const MAX_TOKEN_LENGTH = 16_384;

const ACCESS_TOKEN_TYP = 'application/at+jwt';

/**
 * Parse and vet the header and payload of a compact JWS. The payload is only parsed here (for the duplicate
 * name check); nothing in it is trusted until jose has verified the signature.
 */
export function precheck(token: unknown, algorithms: ReadonlySet<string>): void {
  if (typeof token !== 'string' || token.length === 0) throw new VerifyError('ERR_TOKEN_MISSING');
  if (token.length > MAX_TOKEN_LENGTH) throw malformed('token too long');
  const parts = token.split('.');
  // RFC 7515 §7.1: compact serialization is exactly three parts (five would be a JWE, which we never accept).
  if (parts.length !== 3) throw malformed(`expected 3 JWS segments, got ${parts.length}`);
  const [h = '', p = ''] = parts;
  const header = decodeJsonSegment(h);
  if (!header) throw malformed('header is not a UTF-8 JSON object with unique member names');
  if (!decodeJsonSegment(p)) throw malformed('payload is not a UTF-8 JSON object with unique member names');

  // RFC 8725 §3.1: accept only an allow-listed algorithm (this is also what refuses "none" and HS256 key confusion).
  if (typeof header.alg !== 'string' || !algorithms.has(header.alg)) {
    throw new VerifyError('ERR_ALGORITHM', { detail: `alg ${JSON.stringify(header.alg)} not allowed` });
  }
  // RFC 9068 §4: the resource server MUST verify that the typ header value is "at+jwt" or "application/at+jwt".
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== ACCESS_TOKEN_TYP) {
    throw new VerifyError('ERR_TOKEN_TYPE', { detail: `typ ${JSON.stringify(header.typ)}` });
  }
  // RFC 7515 §4.1.11: an unknown critical extension makes the JWS invalid; our profile defines none, so any crit fails.
  if (Object.hasOwn(header, 'crit')) throw malformed('crit header present');
  // RFC 8725 §3.10: kid selects a key from the issuer's JWKS by string equality only, never as a path or query.
  if (typeof header.kid !== 'string' || header.kid.length === 0) throw malformed('kid header missing');
}

// RFC 7515 §4.1.9: typ is compared case-insensitively, and "application/" is implied when there is no "/".
function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
}

function malformed(detail: string): VerifyError {
  return new VerifyError('ERR_TOKEN_MALFORMED', { detail });
}
