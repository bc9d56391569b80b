// The JWT claims set of a delegation token: parsed once, by the precheck, and its registered claims checked exactly
// as jose's jwtVerify checks them (same order, same jose errors, so `fromJoseError` maps them as before). jose's
// `compactVerify` checks the signature and leaves the payload to us, where `jwtVerify` would parse it a second time.
import { errors, type JWTPayload } from 'jose';
import type { OwnToolDetailsCache, ResolvedDetails } from './authorization_details.js';
import type { MemberSpan } from './json_strict.js';

/** What the claims check needs; the same values the verifier would hand to jose's `jwtVerify`. */
export interface ClaimsSetRules {
  issuer: string;
  audience: string;
  /** Seconds; validated by `createVerifier`. */
  clockTolerance: number;
  maxTokenAge: number | undefined;
  requiredClaims: readonly string[];
}

/** A parsed claims set, with its `authorization_details` already checked when the cache knew its text. */
export interface ParsedClaims {
  claims: JWTPayload;
  /** The cached check of the claim, when its text was known. */
  details: ResolvedDetails | undefined;
  /** The claim's JSON text in the payload, when it is an array or object (the cache key). */
  detailsText: string | undefined;
}

/**
 * Parse payload text into a claims set (RFC 7519 §7.2 step 10: a JSON object), or undefined when it is not one.
 * `span` is where `hasDuplicateMember` found the top-level `authorization_details` value. When the cache already
 * checked that exact text, it is not parsed again: the rest is parsed with `null` in its place and the member is set
 * to the cached value (equal, deep-frozen), in the same position.
 */
export function parseClaimsSet(text: string, span: MemberSpan, cache: OwnToolDetailsCache | undefined): ParsedClaims | undefined {
  const detailsText = span.start !== -1 && span.end !== -1 ? text.slice(span.start, span.end) : undefined;
  const known = detailsText === undefined ? undefined : cache?.lookup(detailsText);
  let claims: unknown;
  try {
    claims = JSON.parse(known ? `${text.slice(0, span.start)}null${text.slice(span.end)}` : text);
  } catch {
    return undefined;
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return undefined;
  if (known) (claims as JWTPayload).authorization_details = known.claim;
  return { claims: claims as JWTPayload, details: known, detailsText };
}

/**
 * The order in which jose looks for required claims (iss, aud, iat when maxTokenAge is set, then the rest last to
 * first), so a token missing several is refused for the same one.
 */
export function presenceOrder(rules: ClaimsSetRules): readonly string[] {
  const check = [...rules.requiredClaims];
  if (rules.maxTokenAge !== undefined) check.push('iat');
  check.push('aud', 'iss');
  return [...new Set(check.reverse())];
}

/**
 * jose 6's claims set validation (lib/jwt_claims_set.js, `validateClaimsSet`, which jose does not export) for our
 * options: required claims, `iss`, `aud`, `nbf`, `exp`, `iat` with `maxTokenAge`. `typ` is the precheck's.
 */
export function validateClaimsSet(claims: JWTPayload, rules: ClaimsSetRules, required: readonly string[], nowMs: number): void {
  for (const claim of required) {
    if (!Object.hasOwn(claims, claim)) throw new errors.JWTClaimValidationFailed(`missing required "${claim}" claim`, claims, claim, 'missing');
  }
  // RFC 9068 §4: the issuer identifier MUST exactly match the iss claim.
  if (claims.iss !== rules.issuer) unexpected(claims, 'iss');
  // RFC 9068 §4 / RFC 7519 §4.1.3: aud must contain our resource identifier.
  const { aud } = claims;
  if (!(typeof aud === 'string' ? aud === rules.audience : Array.isArray(aud) && aud.includes(rules.audience))) unexpected(claims, 'aud');
  const tolerance = rules.clockTolerance;
  const now = Math.floor(nowMs / 1000);
  const iat = numericDate(claims, 'iat', rules.maxTokenAge !== undefined);
  // RFC 7519 §4.1.5: not accepted before nbf, with leeway.
  const nbf = numericDate(claims, 'nbf', false);
  if (nbf !== undefined && nbf > now + tolerance) {
    throw new errors.JWTClaimValidationFailed('"nbf" claim timestamp check failed', claims, 'nbf', 'check_failed');
  }
  // RFC 7519 §4.1.4: not accepted on or after exp, with leeway.
  const exp = numericDate(claims, 'exp', false);
  if (exp !== undefined && exp <= now - tolerance) throw new errors.JWTExpired('"exp" claim timestamp check failed', claims, 'exp', 'check_failed');
  if (rules.maxTokenAge !== undefined) {
    const age = now - iat!;
    if (age - tolerance > rules.maxTokenAge) {
      throw new errors.JWTExpired('"iat" claim timestamp check failed (too far in the past)', claims, 'iat', 'check_failed');
    }
    if (age < -tolerance) {
      throw new errors.JWTClaimValidationFailed('"iat" claim timestamp check failed (it should be in the past)', claims, 'iat', 'check_failed');
    }
  }
}

function numericDate(claims: JWTPayload, claim: 'iat' | 'nbf' | 'exp', required: boolean): number | undefined {
  const value = claims[claim];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'number') throw new errors.JWTClaimValidationFailed(`"${claim}" claim must be a number`, claims, claim, 'invalid');
  return value;
}

function unexpected(claims: JWTPayload, claim: string): never {
  throw new errors.JWTClaimValidationFailed(`unexpected "${claim}" claim value`, claims, claim, 'check_failed');
}
