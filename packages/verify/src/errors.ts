// The one error type of the verify SDK, and the single place where jose errors become ours.
import { errors as joseErrors } from 'jose';

/**
 * Every reason `verify` can refuse a token. A closed union: new codes are a breaking change, so callers may
 * `switch` on it exhaustively.
 *
 * @example
 * ```ts
 * switch (err.code) {
 *   case 'ERR_REVOCATION_UNAVAILABLE':
 *   case 'ERR_JWKS_UNAVAILABLE':
 *     metrics.issuerUnreachable.inc()
 *     break
 *   default:
 *     metrics.tokenRefused.inc({ code: err.code })
 * }
 * ```
 */
export type VerifyErrorCode =
  | 'ERR_TOKEN_MISSING'
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_TYPE'
  | 'ERR_TOKEN_BOUND'
  | 'ERR_TOKEN_NOT_BOUND'
  | 'ERR_DPOP_PROOF_MISSING'
  | 'ERR_DPOP_PROOF_INVALID'
  | 'ERR_DPOP_KEY_MISMATCH'
  | 'ERR_DPOP_REPLAYED'
  | 'ERR_DPOP_NONCE_REQUIRED'
  | 'ERR_DPOP_REPLAY_UNAVAILABLE'
  | 'ERR_ISSUER'
  | 'ERR_AUDIENCE'
  | 'ERR_ALGORITHM'
  | 'ERR_SIGNATURE'
  | 'ERR_KEY_NOT_FOUND'
  | 'ERR_EXPIRED'
  | 'ERR_NOT_YET_VALID'
  | 'ERR_CLAIM_MISSING'
  | 'ERR_CLAIM_INVALID'
  | 'ERR_ACT_INVALID'
  | 'ERR_REVOKED'
  | 'ERR_INSUFFICIENT_SCOPE'
  | 'ERR_REVOCATION_UNAVAILABLE'
  | 'ERR_JWKS_UNAVAILABLE';

/**
 * The RFC 6750 §3.1 error code a resource server sends, or `temporarily_unavailable` when it cannot decide.
 *
 * @example
 * ```ts
 * res.status(err.status).json({ error: err.oauthError, error_description: err.message })
 * ```
 */
export type OAuthErrorCode =
  | 'invalid_token'
  | 'insufficient_scope'
  | 'temporarily_unavailable'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce';

interface Rendering {
  status: 401 | 403 | 503;
  oauthError: OAuthErrorCode;
  /** Fixed public text: safe in a `WWW-Authenticate` quoted-string and says nothing an attacker can use. */
  description: string;
}

const invalid = (description: string): Rendering => ({ status: 401, oauthError: 'invalid_token', description });

// Unavailability is 503, not 401: the token may be fine, so the client should retry rather than re-authorize.
// It still fails closed: the request is refused.
const RENDERING: Record<VerifyErrorCode, Rendering> = {
  ERR_TOKEN_MISSING: invalid('no access token'),
  ERR_TOKEN_MALFORMED: invalid('malformed access token'),
  ERR_TOKEN_TYPE: invalid('not an access token'),
  ERR_TOKEN_BOUND: invalid('sender-constrained token presented as bearer'),
  ERR_TOKEN_NOT_BOUND: invalid('token is not DPoP-bound'),
  // RFC 9449 §7.1: a proof that fails any check is invalid_dpop_proof; a missing nonce is use_dpop_nonce (§9).
  ERR_DPOP_PROOF_MISSING: { status: 401, oauthError: 'invalid_dpop_proof', description: 'DPoP proof missing' },
  ERR_DPOP_PROOF_INVALID: { status: 401, oauthError: 'invalid_dpop_proof', description: 'invalid DPoP proof' },
  ERR_DPOP_KEY_MISMATCH: { status: 401, oauthError: 'invalid_dpop_proof', description: 'DPoP proof key does not match the token' },
  ERR_DPOP_REPLAYED: { status: 401, oauthError: 'invalid_dpop_proof', description: 'DPoP proof replayed' },
  ERR_DPOP_NONCE_REQUIRED: { status: 401, oauthError: 'use_dpop_nonce', description: 'resource server requires nonce in DPoP proof' },
  ERR_DPOP_REPLAY_UNAVAILABLE: { status: 503, oauthError: 'temporarily_unavailable', description: 'DPoP replay check unavailable' },
  ERR_ISSUER: invalid('unexpected issuer'),
  ERR_AUDIENCE: invalid('token not issued for this resource'),
  ERR_ALGORITHM: invalid('algorithm not allowed'),
  ERR_SIGNATURE: invalid('invalid signature'),
  ERR_KEY_NOT_FOUND: invalid('signing key not found'),
  ERR_EXPIRED: invalid('token expired'),
  ERR_NOT_YET_VALID: invalid('token not yet valid'),
  ERR_CLAIM_MISSING: invalid('required claim missing'),
  ERR_CLAIM_INVALID: invalid('invalid claim'),
  ERR_ACT_INVALID: invalid('invalid act claim'),
  ERR_REVOKED: invalid('token revoked'),
  ERR_INSUFFICIENT_SCOPE: { status: 403, oauthError: 'insufficient_scope', description: 'insufficient scope' },
  ERR_REVOCATION_UNAVAILABLE: {
    status: 503,
    oauthError: 'temporarily_unavailable',
    description: 'revocation status unavailable',
  },
  ERR_JWKS_UNAVAILABLE: { status: 503, oauthError: 'temporarily_unavailable', description: 'signing keys unavailable' },
};

/**
 * Why a token was refused. `message` is a short fixed public description (send it to clients as
 * `error_description`); the internal reason is in `detail` and `cause`, for logs only.
 *
 * @example
 * ```ts
 * try {
 *   await verifier.verify(token)
 * } catch (err) {
 *   if (err instanceof VerifyError && err.code === 'ERR_EXPIRED') log.info(err.detail)
 *   throw err
 * }
 * ```
 */
export class VerifyError extends Error {
  override readonly name = 'VerifyError';
  readonly code: VerifyErrorCode;
  /** HTTP status a resource server should answer with: 401, 403 or 503. */
  readonly status: 401 | 403 | 503;
  /** The `error` value for `WWW-Authenticate` and the JSON body. */
  readonly oauthError: OAuthErrorCode;
  /** Internal explanation; never send it to the client. */
  readonly detail: string | undefined;
  /** For `ERR_INSUFFICIENT_SCOPE`: the scopes the request needed (the `scope` challenge attribute). */
  readonly requiredScopes: readonly string[] | undefined;
  /** For `ERR_DPOP_NONCE_REQUIRED`: the nonce to send in the `DPoP-Nonce` response header (RFC 9449 §9). */
  readonly dpopNonce: string | undefined;

  constructor(
    code: VerifyErrorCode,
    options: { detail?: string; cause?: unknown; requiredScopes?: readonly string[]; dpopNonce?: string } = {},
  ) {
    const rendering = RENDERING[code];
    super(rendering.description, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = rendering.status;
    this.oauthError = rendering.oauthError;
    this.detail = options.detail;
    this.requiredScopes = options.requiredScopes;
    this.dpopNonce = options.dpopNonce;
  }
}

/**
 * Translate anything jose (or the JWKS fetch under it) throws into a VerifyError: the one mapping of jose errors, used
 * by this SDK and by the issuer for the tokens it is shown. Every jose error code is named (a new one fails to compile
 * here); anything that is not a jose error becomes `ERR_TOKEN_MALFORMED`, so a surprise never turns into an accepted
 * token. The jose message goes to `detail`, never to `message`.
 *
 * @example
 * ```ts
 * import { fromJoseError } from 'delegation-token-verify'
 *
 * try {
 *   await jwtVerify(token, keys, options)
 * } catch (err) {
 *   const refused = fromJoseError(err)
 *   log.info({ code: refused.code, detail: refused.detail })
 * }
 * ```
 */
export function fromJoseError(err: unknown): VerifyError {
  if (err instanceof VerifyError) return err;
  if (!(err instanceof joseErrors.JOSEError)) {
    return new VerifyError('ERR_TOKEN_MALFORMED', { detail: describe(err), cause: err });
  }
  const detail = err.message;
  const code = err.code as joseErrors.JOSEErrorCode;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new VerifyError('ERR_EXPIRED', { detail, cause: err });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return fromClaimFailure(err as joseErrors.JWTClaimValidationFailed);
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new VerifyError('ERR_ALGORITHM', { detail, cause: err });
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new VerifyError('ERR_SIGNATURE', { detail, cause: err });
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new VerifyError('ERR_KEY_NOT_FOUND', { detail, cause: err });
    // The issuer's key set could not be fetched or parsed: the token may be fine, we cannot tell.
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
    case 'ERR_JWK_INVALID':
    case 'ERR_JOSE_GENERIC':
      return new VerifyError('ERR_JWKS_UNAVAILABLE', { detail, cause: err });
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    // A JWE is never a delegation token (RFC 7515 §7.1: we accept only a three-part JWS).
    case 'ERR_JWE_INVALID':
    case 'ERR_JWE_DECRYPTION_FAILED':
      return new VerifyError('ERR_TOKEN_MALFORMED', { detail, cause: err });
    default: {
      // Compile-time exhaustiveness: a jose release with a new code breaks the build here until it is mapped.
      const unmapped: never = code;
      return new VerifyError('ERR_TOKEN_MALFORMED', { detail: `unmapped jose error ${String(unmapped)}: ${detail}`, cause: err });
    }
  }
}

function fromClaimFailure(err: joseErrors.JWTClaimValidationFailed): VerifyError {
  const { claim, reason, message: detail } = err;
  if (reason === 'missing') return new VerifyError('ERR_CLAIM_MISSING', { detail, cause: err });
  if (claim === 'iss') return new VerifyError('ERR_ISSUER', { detail, cause: err });
  if (claim === 'aud') return new VerifyError('ERR_AUDIENCE', { detail, cause: err });
  if (claim === 'typ') return new VerifyError('ERR_TOKEN_TYPE', { detail, cause: err });
  if ((claim === 'nbf' || claim === 'iat') && reason === 'check_failed') return new VerifyError('ERR_NOT_YET_VALID', { detail, cause: err });
  return new VerifyError('ERR_CLAIM_INVALID', { detail, cause: err });
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
