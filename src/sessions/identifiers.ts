// The bounds every revocable identifier (sub, sid, jti, client id) meets: one rule for the exchange and the admin API, so
// whatever the exchange accepts can be revoked.

/** Longest identifier, in Unicode code points (as JSON Schema's `maxLength` counts). */
export const MAX_IDENTIFIER_LENGTH = 512;

/**
 * 1 to MAX_IDENTIFIER_LENGTH code points, none of them a control character (Cc: C0, DEL, C1), an unpaired surrogate (Cs:
 * not representable in UTF-8, so it could never be matched again) or a line/paragraph separator (Zl, Zp). Anything else
 * is allowed: external IdPs' subjects may hold `|`, `@`, `/`, spaces and any script.
 */
export const IDENTIFIER_PATTERN = new RegExp(`^[^\\p{Cc}\\p{Cs}\\p{Zl}\\p{Zp}]{1,${MAX_IDENTIFIER_LENGTH}}$`, 'u');

/** True when `value` is a string the admin API can name, so a revocation can reach it. */
export function isIdentifier(value: unknown): value is string {
  // The UTF-16 length bounds the regex's work before it runs (a code point is at most two code units).
  return typeof value === 'string' && value.length <= 2 * MAX_IDENTIFIER_LENGTH && IDENTIFIER_PATTERN.test(value);
}
