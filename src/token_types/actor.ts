// Actor token validation (RFC 8693 §2.1 actor_token): the actor must be, or be bound to, the authenticated client.
import { TokenType } from './urns.js';
import type { ValidationContext } from './context.js';
import type { ActorContext } from './types.js';
import { TokenRejected } from './types.js';
import { looksLikeJws, peek, SUBJECT_TYP, verifyJwt } from './jwt.js';
import { isIdentifier } from '../sessions/identifiers.js';
import { boundKey } from '../dpop/cnf.js';

/** Looks up the client's own client_credentials token (opaque); returns its client and, for a DPoP-bound one, its key's
 * thumbprint (the record's `jkt`, RFC 9449 §6). */
export type FindClientCredentials = (token: string) => Promise<{ clientId: string; jkt?: string } | undefined>;

/**
 * RFC 9449 §6: a sender-constrained actor token (bound to `jkt`) is its key holder's only, as a bound subject token is:
 * the request's DPoP proof (`proofJkt`, checked already) must be of that key.
 */
function checkActorBinding(jkt: string | undefined, proofJkt: string | undefined): void {
  if (jkt !== undefined && jkt !== proofJkt) throw new TokenRejected(proofJkt === undefined ? 'dpop_required_by_actor' : 'dpop_key_mismatch', 'actor_token');
}

export async function validateActorToken(
  token: string,
  tokenType: string,
  ctx: ValidationContext,
  findClientCredentials: FindClientCredentials,
  /** The thumbprint of the request's DPoP proof key, when it carried a proof. */
  proofJkt?: string,
): Promise<ActorContext> {
  if (tokenType !== TokenType.accessToken && tokenType !== TokenType.jwt) throw new TokenRejected('unsupported_actor_token_type', 'actor_token');
  if (tokenType === TokenType.accessToken && !looksLikeJws(token)) {
    const found = await findClientCredentials(token);
    if (!found) throw new TokenRejected('unknown_actor_token', 'actor_token');
    if (found.clientId !== ctx.clientId) throw new TokenRejected('actor_not_client', 'actor_token');
    checkActorBinding(found.jkt, proofJkt);
    return { sub: ctx.clientId };
  }
  const peeked = peek(token, 'actor_token');
  const { iss } = peeked;
  const trusted = iss === undefined ? undefined : ctx.deps.trustedIssuers.get(iss);
  if (!trusted) throw new TokenRejected('untrusted_actor_issuer', 'actor_token');
  const payload = await verifyJwt(
    token,
    trusted.keys,
    {
      issuer: trusted.config.issuer,
      audience: trusted.config.audience,
      algorithms: trusted.config.algorithms,
      clockTolerance: ctx.deps.clockTolerance,
      // RFC 8725 §3.11: the `typ` must fit the declared actor_token_type, as for a subject token (SPEC: a mistyped
      // actor_token is invalid_request): an at+jwt only as an access token, a plain JWT only as `…:jwt`.
      typ: SUBJECT_TYP.get(tokenType),
      requiredClaims: ['iss', 'sub', 'aud', 'exp'],
      // Never a token that outlives the revocation markers that could reach it (their retention).
      retentionSeconds: ctx.deps.retentionSeconds,
    },
    'actor_token',
    peeked,
  );
  // SPEC profile: the current actor is always the authenticated client, or an identity bound to it.
  const bound = [payload.sub, payload.client_id, payload.azp].includes(ctx.clientId);
  if (!bound) throw new TokenRejected('actor_not_client', 'actor_token');
  // RFC 7800 §3.1: a `cnf` we cannot check refuses the token (dropping it would make a bound token a bearer one).
  checkActorBinding(boundKey(payload.cnf, 'actor_token').jkt, proofJkt);
  // SPEC §1: a revoked actor_token is invalid_request. Admin `revoke-token <jti>` names it by its `jti` (the client's
  // own revocation is checked for every exchange already).
  if (payload.jti !== undefined) {
    if (!isIdentifier(payload.jti)) throw new TokenRejected('malformed_jti', 'actor_token');
    const hits = await ctx.deps.revocations.read({ jti: payload.jti, clientIds: [] });
    if (hits.jti) throw new TokenRejected('token_revoked', 'actor_token');
  }
  return { sub: ctx.clientId };
}
