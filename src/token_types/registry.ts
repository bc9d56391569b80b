// Subject token validators keyed by RFC 8693 §3 token type URI. Adding a subject token type is adding one entry.
import { TokenType } from './urns.js';
import type { ValidationContext } from './context.js';
import type { SubjectContext } from './types.js';
import { TokenRejected } from './types.js';
import { looksLikeJws, peek } from './jwt.js';
import { validateUserAccessToken } from './user_access_token.js';
import { validateDelegationToken } from './delegation_token.js';
import { cachedOwnToken } from './own_tokens.js';
import { validateExternalJwt } from './external_jwt.js';

export type SubjectValidator = (token: string, ctx: ValidationContext) => Promise<SubjectContext>;

/** A JWT is routed by its (unverified) `iss` to the one verifier for that issuer; the verifier then checks everything. */
function byIssuer(tokenType: string, ownTokensAccepted: boolean): SubjectValidator {
  return (token, ctx) => {
    if (ownTokensAccepted) {
      const verified = cachedOwnToken(ctx.deps.own, token, ctx.now);
      if (verified) return validateDelegationToken(token, ctx, { verified });
    }
    const peeked = peek(token, 'subject_token');
    const { iss } = peeked;
    if (iss !== undefined && iss === ctx.deps.issuer) {
      if (!ownTokensAccepted) throw new TokenRejected('own_token_wrong_type');
      return validateDelegationToken(token, ctx, { peeked });
    }
    const trusted = iss === undefined ? undefined : ctx.deps.trustedIssuers.get(iss);
    if (!trusted) throw new TokenRejected('untrusted_issuer');
    return validateExternalJwt(token, trusted, tokenType, ctx, peeked);
  };
}

const accessTokenJwt = byIssuer(TokenType.accessToken, true);

export const subjectTokenValidators: ReadonlyMap<string, SubjectValidator> = new Map<string, SubjectValidator>([
  // Opaque: the provider's own user token. JWT: one of our delegation tokens, or an external IdP's JWT access token.
  [TokenType.accessToken, (token, ctx) => (looksLikeJws(token) ? accessTokenJwt(token, ctx) : validateUserAccessToken(token, ctx))],
  // RFC 8725 §3.12: our delegation tokens are at+jwt access tokens, accepted only when declared as access_token.
  [TokenType.jwt, byIssuer(TokenType.jwt, false)],
  [TokenType.idToken, byIssuer(TokenType.idToken, false)],
]);
