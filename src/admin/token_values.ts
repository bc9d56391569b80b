// Whether a value an admin asks to revoke is, or holds, a token: revoked values are published to every tool server and
// kept in the audit trail, so a pasted bearer token (bare, after an auth scheme, quoted, padded) must never become one.

/** Runs of the base64url alphabet and dots: where a compact JWS/JWE can sit inside a longer value. */
const COMPACT_RUNS = /[A-Za-z0-9_.-]+/g;
/** Runs of the alphabet of oidc-provider's opaque values (nanoid: base64url). */
const OPAQUE_RUNS = /[A-Za-z0-9_-]+/g;
/**
 * Shortest run looked up as an opaque token: oidc-provider's are 43 characters (256 bits); 16 (96 bits) is below any
 * bearer secret one would configure, and keeps the lookups of a 512-character value to a few dozen.
 */
export const MIN_OPAQUE_LENGTH = 16;

/**
 * RFC 7515 §4.1.1 (JWS) and RFC 7516 §4.1.1 (JWE): the header is a JSON object and "alg" MUST be present. Asking for
 * that, not for a dotted shape, is what keeps `user.name.x` or an IdP's `x-<hash>.<sid>` revocable.
 */
function isJoseHeader(segment: string): boolean {
  // `{"` and `{ ` encode to `ey`: anything else is not the start of a JSON object.
  if (!segment.startsWith('ey')) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && !Array.isArray(header) && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

/**
 * True when `value` holds a JWS or JWE compact serialization anywhere (RFC 7515 §7.1: header, payload and signature,
 * base64url, joined by dots; a JWE has five parts, its first three are the same shape): `eyJ…`, `Bearer eyJ…`,
 * `"eyJ…"`, `x.eyJ….…` alike. Only a segment that decodes to a JOSE header counts, so dotted identifiers do not.
 *
 * @example
 * holdsCompactToken('DPoP eyJhbGciOiJFUzI1NiJ9.e30.c2ln') // true
 * holdsCompactToken('x-AbCdEfGhIj.idp-session-42') // false
 */
export function holdsCompactToken(value: string): boolean {
  for (const run of value.match(COMPACT_RUNS) ?? []) {
    const segments = run.split('.');
    for (let i = 0; i + 2 < segments.length; i += 1) {
      const segment = segments[i]!;
      // The header may be glued to a prefix (`Bearer_eyJ…`): every `ey` in the segment may start it.
      for (let at = segment.indexOf('ey'); at !== -1; at = segment.indexOf('ey', at + 1)) {
        if (isJoseHeader(segment.slice(at))) return true;
      }
    }
  }
  return false;
}

/**
 * The strings to look up as opaque tokens: the value itself, and every base64url run in it long enough to be one (the
 * token after `Bearer `, inside quotes, after a `.`).
 *
 * @example
 * opaqueCandidates('Bearer JHsWVZtiySvjT0QbPqhNZDJd2smxCaK218nmjzKV4') // ['Bearer JHsW…', 'JHsW…']
 */
export function opaqueCandidates(value: string): string[] {
  const runs = (value.match(OPAQUE_RUNS) ?? []).filter((run) => run.length >= MIN_OPAQUE_LENGTH);
  return [...new Set([value, ...runs])];
}
