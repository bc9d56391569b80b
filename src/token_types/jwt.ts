// JWT verification for incoming subject and actor tokens, with every jose error mapped to a reason in one place.
import { jwtVerify, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { decodeJsonSegment } from '../../packages/verify/src/json_strict.js';
import { isIdentifier } from '../sessions/identifiers.js';
import { TokenType } from './urns.js';
import { DependencyUnavailable, TokenRejected } from './types.js';

/** Token kinds that are never accepted as subject or actor tokens (RFC 8725 §3.12: validation rules must be exclusive). */
const FOREIGN_TYPES = new Set(['dpop+jwt', 'secevent+jwt', 'txntoken+jwt', 'statuslist+jwt', 'logout+jwt', 'token-introspection+jwt']);

/**
 * RFC 8725 §3.11 explicit typing: the JOSE `typ` values (normalized; `undefined` = no `typ`) a subject token may carry
 * for each declared subject_token_type. An allow-list, so a JWT of any other kind (at+jwt as an ID token, dpop+jwt, a
 * SET, a transaction token, an unknown `x+jwt`) never passes as one we understand (RFC 8725 §3.12). README has the table.
 */
export const AT_JWT: ReadonlySet<string | undefined> = new Set(['at+jwt']);
export const SUBJECT_TYP: ReadonlyMap<string, ReadonlySet<string | undefined>> = new Map([
  // RFC 9068 §4: a JWT access token "MUST" be typed at+jwt (ours and external ones alike).
  [TokenType.accessToken, AT_JWT],
  // OpenID Connect ID tokens carry no `typ` or `JWT`; an access token is not an ID token.
  [TokenType.idToken, new Set([undefined, 'jwt'])],
  // A plain JWT: an at+jwt is only accepted declared as an access token, so one token has one set of rules.
  [TokenType.jwt, new Set([undefined, 'jwt'])],
]);

/** RFC 7515 §4.1.9: `typ` is case-insensitive and the `application/` prefix may be omitted. */
export function normalizeTyp(typ: unknown): string | undefined {
  if (typeof typ !== 'string') return undefined;
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

export function looksLikeJws(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);
}

/**
 * Reads `iss` and `typ` without verifying, only to choose which verifier applies; never trusted beyond that.
 * Every JWT passes here before jose sees it, so this is where header and payload JSON are held to the strict rules.
 */
export interface Peeked {
  iss?: string;
  typ?: string;
}

export function peek(token: string, which: 'subject_token' | 'actor_token'): Peeked {
  const parts = token.split('.');
  // RFC 7515 §4 / RFC 7519 §4: member names must be unique (JSON.parse, and so jose, would keep the last one) [P, JW-07];
  // RFC 8725 §3.7: UTF-8 only.
  const header = parts.length === 3 ? decodeJsonSegment(parts[0]!) : undefined;
  const payload = header ? decodeJsonSegment(parts[1]!) : undefined;
  if (!header || !payload) throw new TokenRejected('malformed_jwt', which);
  return { iss: typeof payload.iss === 'string' ? payload.iss : undefined, typ: normalizeTyp(header.typ) };
}

/** Maps a jose error to our reason; a JWKS that cannot be fetched means "unavailable", not "invalid". */
export function joseReason(err: unknown): string {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `claim_${(err as joseErrors.JWTClaimValidationFailed).claim}_invalid`;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad_signature';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'alg_not_allowed';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'unknown_key';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'malformed_jwt';
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return 'jwks_unavailable';
    default:
      return 'invalid_jwt';
  }
}

export interface JwtCheck {
  issuer: string;
  audience: string | string[];
  algorithms: string[];
  clockTolerance: number;
  /** The accepted `typ` values (normalized, see SUBJECT_TYP), or undefined to accept any type not in FOREIGN_TYPES. */
  typ?: ReadonlySet<string | undefined>;
  requiredClaims: string[];
}

/**
 * Verifies signature, `iss`, `aud`, `exp`/`nbf`/`iat`, `typ`, required claims and `sub`; throws TokenRejected or
 * DependencyUnavailable.
 */
export async function verifyJwt(
  token: string,
  keys: JWTVerifyGetKey,
  check: JwtCheck,
  which: 'subject_token' | 'actor_token',
  /** The caller's own `peek` of this token, so it is decoded (and scanned) once. */
  peeked: Peeked = peek(token, which),
): Promise<JWTPayload> {
  const { typ } = peeked;
  // RFC 9068 §4 / RFC 8725 §3.11: explicit typing keeps access tokens, ID tokens and other JWTs apart.
  if (check.typ !== undefined ? !check.typ.has(typ) : typ !== undefined && FOREIGN_TYPES.has(typ)) {
    throw new TokenRejected('wrong_typ', which);
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: check.issuer,
      audience: check.audience,
      algorithms: check.algorithms,
      clockTolerance: check.clockTolerance,
      requiredClaims: check.requiredClaims,
    }));
  } catch (err) {
    const reason = joseReason(err);
    if (reason === 'jwks_unavailable' || (err instanceof Error && /fetch|ECONNREFUSED|network/i.test(err.message) && !('code' in err))) {
      throw new DependencyUnavailable(`${which}: signing keys unavailable`);
    }
    throw new TokenRejected(reason, which);
  }
  // RFC 7519 §4.1.6: `iat` is when the token was issued; one from beyond the leeway in the future would escape every
  // `sub`/`client` revocation (cutoff compared with `iat`), so it is refused as the verify SDK does.
  if (typeof payload.iat === 'number' && payload.iat > Math.floor(Date.now() / 1000) + check.clockTolerance) {
    throw new TokenRejected('iat_in_future', which);
  }
  // RFC 7519 §4.1.2: `sub` is a StringOrURI; here also a revocable identifier (sessions/identifiers.ts).
  if ((check.requiredClaims.includes('sub') || payload.sub !== undefined) && !isIdentifier(payload.sub)) {
    throw new TokenRejected('malformed_sub', which);
  }
  return payload;
}
