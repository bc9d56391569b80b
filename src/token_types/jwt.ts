// JWT verification for incoming subject and actor tokens, with every jose error mapped to a reason in one place.
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { decodeJsonSegment, fromJoseError, type VerifyErrorCode } from 'delegation-token-verify';
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

/**
 * The reason (for logs and audit) for each way the verify SDK's fromJoseError classifies a jose error: one mapping of
 * jose's codes, shared with every tool server. A Record, so a new SDK code does not compile until it has a reason.
 */
const JOSE_REASONS: Readonly<Record<VerifyErrorCode, string>> = {
  ERR_TOKEN_MISSING: 'malformed_jwt',
  ERR_TOKEN_MALFORMED: 'malformed_jwt',
  ERR_TOKEN_TYPE: 'wrong_typ',
  ERR_TOKEN_BOUND: 'malformed_jwt',
  // DPoP proof codes come only from a resource server's per-request proof check, never from a jose error.
  ERR_TOKEN_NOT_BOUND: 'malformed_jwt',
  ERR_DPOP_PROOF_MISSING: 'malformed_jwt',
  ERR_DPOP_PROOF_INVALID: 'malformed_jwt',
  ERR_DPOP_KEY_MISMATCH: 'malformed_jwt',
  ERR_DPOP_REPLAYED: 'malformed_jwt',
  ERR_DPOP_NONCE_REQUIRED: 'malformed_jwt',
  ERR_DPOP_REPLAY_UNAVAILABLE: 'malformed_jwt',
  ERR_ISSUER: 'claim_iss_invalid',
  ERR_AUDIENCE: 'claim_aud_invalid',
  ERR_ALGORITHM: 'alg_not_allowed',
  ERR_SIGNATURE: 'bad_signature',
  ERR_KEY_NOT_FOUND: 'unknown_key',
  ERR_EXPIRED: 'expired',
  ERR_NOT_YET_VALID: 'not_yet_valid',
  ERR_CLAIM_MISSING: 'claim_missing',
  ERR_CLAIM_INVALID: 'claim_invalid',
  ERR_ACT_INVALID: 'malformed_act',
  ERR_REVOKED: 'revoked',
  ERR_INSUFFICIENT_SCOPE: 'insufficient_scope',
  ERR_REVOCATION_UNAVAILABLE: 'revocation_unavailable',
  ERR_JWKS_UNAVAILABLE: 'jwks_unavailable',
};

/** Maps a jose error to our reason (through the SDK's fromJoseError); a JWKS that cannot be fetched means "unavailable", not "invalid". */
export function joseReason(err: unknown): string {
  return JOSE_REASONS[fromJoseError(err).code];
}

export interface JwtCheck {
  issuer: string;
  audience: string | string[];
  algorithms: string[];
  clockTolerance: number;
  /** The accepted `typ` values (normalized, see SUBJECT_TYP), or undefined to accept any type not in FOREIGN_TYPES. */
  typ?: ReadonlySet<string | undefined>;
  requiredClaims: string[];
  /**
   * How long a revocation marker is kept (the effective `revocation.retentionSeconds`): a token that could still be
   * accepted after a marker written in its lifetime expired is refused (`lifetime_exceeds_retention`). Absent: no bound.
   */
  retentionSeconds?: number;
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
    const refused = fromJoseError(err);
    // 503 from the SDK's mapping: the keys could not be had, so the token may be fine (fail closed, but retryable).
    if (refused.status === 503 || (err instanceof Error && /fetch|ECONNREFUSED|network/i.test(err.message) && !('code' in err))) {
      throw new DependencyUnavailable(`${which}: signing keys unavailable`);
    }
    throw new TokenRejected(JOSE_REASONS[refused.code], which);
  }
  // RFC 7519 §4.1.6: `iat` is when the token was issued; one from beyond the leeway in the future would escape every
  // `sub`/`client` revocation (cutoff compared with `iat`), so it is refused as the verify SDK does.
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.iat === 'number' && payload.iat > now + check.clockTolerance) {
    throw new TokenRejected('iat_in_future', which);
  }
  // README "Revoking": a revocation is kept `retentionSeconds` and must outlive every token it can affect. A marker
  // written once the token existed (from its `iat`, else from now) expires no earlier than that start + retention; the
  // token is accepted until `exp` + leeway. One accepted past that would be usable again once revoked.
  if (check.retentionSeconds !== undefined && typeof payload.exp === 'number') {
    const start = typeof payload.iat === 'number' ? Math.min(payload.iat, now) : now;
    if (payload.exp + check.clockTolerance > start + check.retentionSeconds) throw new TokenRejected('lifetime_exceeds_retention', which);
  }
  // RFC 7519 §4.1.2: `sub` is a StringOrURI; here also a revocable identifier (sessions/identifiers.ts).
  if ((check.requiredClaims.includes('sub') || payload.sub !== undefined) && !isIdentifier(payload.sub)) {
    throw new TokenRejected('malformed_sub', which);
  }
  return payload;
}
