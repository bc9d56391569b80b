// A JWT from a trusted external identity provider (ID token, JWT access token or plain JWT), verified against its JWKS.
import type { SubjectContext } from './types.js';
import { TokenRejected } from './types.js';
import type { TrustedIssuer, ValidationContext } from './context.js';
import { verifyJwt, type Peeked } from './jwt.js';
import { parseMayAct } from './act.js';
import { TokenType } from '../grants/token_exchange/params.js';

export async function validateExternalJwt(
  token: string,
  trusted: TrustedIssuer,
  tokenType: string,
  { deps }: ValidationContext,
  peeked?: Peeked,
): Promise<SubjectContext> {
  const { config } = trusted;
  if (!(config.tokenTypes as string[]).includes(tokenType)) throw new TokenRejected('type_not_accepted_from_issuer');
  const payload = await verifyJwt(
    token,
    trusted.keys,
    {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      clockTolerance: deps.clockTolerance,
      // RFC 9068 §4: a JWT access token must say so; an ID token must not claim to be one.
      typ: tokenType === TokenType.accessToken ? 'at+jwt' : undefined,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
    },
    'subject_token',
    peeked,
  );
  const sessionId = payload[config.sessionClaim];
  if (typeof sessionId !== 'string' || sessionId === '') throw new TokenRejected('no_session_claim');
  const mayAct = parseMayAct(payload.may_act);
  if (mayAct === null) throw new TokenRejected('malformed_may_act');
  const allowed = new Set(config.allowedScopes);
  // A token that states its scopes narrows the issuer-wide allowance further.
  const scopes =
    typeof payload.scope === 'string' ? new Set(payload.scope.split(' ').filter((s) => allowed.has(s))) : allowed;
  const groupsClaim = payload[config.groupsClaim];
  const sid = `${trusted.sidPrefix}.${sessionId}`;
  const revocations = await deps.store.readRevocations({
    sid,
    sub: payload.sub!,
    ...(typeof payload.jti === 'string' ? { jti: payload.jti } : {}),
    clientIds: [],
  });
  return {
    kind: 'external',
    sub: payload.sub!,
    sid,
    scopes,
    iat: payload.iat!,
    exp: payload.exp!,
    authTime: typeof payload.auth_time === 'number' ? payload.auth_time : undefined,
    acr: typeof payload.acr === 'string' ? payload.acr : undefined,
    groups: Array.isArray(groupsClaim) ? groupsClaim.filter((g): g is string => typeof g === 'string') : [],
    ...(mayAct ? { mayAct } : {}),
    revocations,
  };
}
