// The bounds every revocable identifier (sub, sid, jti, client id, actor) meets: what a token may carry is what a
// revocation can name, on the issuer and in this SDK alike.

/** Longest identifier, in Unicode code points (as JSON Schema's `maxLength` counts). */
export const MAX_IDENTIFIER_LENGTH = 512;

/**
 * 1 to MAX_IDENTIFIER_LENGTH code points, none of them a control character (Cc: C0, DEL, C1), an unpaired surrogate (Cs:
 * not representable in UTF-8, so it could never be matched again) or a line/paragraph separator (Zl, Zp). Anything else
 * is allowed: external IdPs' subjects may hold `|`, `@`, `/`, spaces and any script.
 */
export const IDENTIFIER_PATTERN = new RegExp(`^[^\\p{Cc}\\p{Cs}\\p{Zl}\\p{Zp}]{1,${MAX_IDENTIFIER_LENGTH}}$`, 'u');

/**
 * True when `value` is a string a revocation can name (1 to 512 code points, no control characters, unpaired
 * surrogates or line/paragraph separators). A delegation token's `sub`, `sid`, `jti`, `client_id` and every `act`
 * `sub` must be one.
 *
 * @example
 * ```ts
 * import { isIdentifier } from 'delegation-token-verify'
 *
 * isIdentifier('auth0|user-1') // true
 * isIdentifier('a\u0000b') // false
 * ```
 */
export function isIdentifier(value: unknown): value is string {
  // The UTF-16 length bounds the regex's work before it runs (a code point is at most two code units).
  return typeof value === 'string' && value.length <= 2 * MAX_IDENTIFIER_LENGTH && IDENTIFIER_PATTERN.test(value);
}
