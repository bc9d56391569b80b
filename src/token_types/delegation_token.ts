// One of our own delegation tokens presented again, by the tool server it was issued for (multi-hop, RFC 8693 §2.3).
import { parseAuthorizationDetails, parseDelegationClaims, VerifyError, type DelegationClaims } from 'delegation-token-verify';
import type { SubjectContext } from './types.js';
import { TokenRejected } from './types.js';
import type { ValidationContext } from './context.js';
import type { JWTPayload } from 'jose';
import type { Peeked } from './jwt.js';
import { nestActors } from './act.js';
import { revocationQueryFor, verifyOwnToken } from './own_tokens.js';
import { tokenDigest } from '../sessions/revocation.js';
import { boundKey } from '../dpop/cnf.js';
import { canonicalToolDetails } from './tool_details.js';

export async function validateDelegationToken(
  token: string,
  { deps, clientId, now }: ValidationContext,
  { peeked, verified }: { peeked?: Peeked; verified?: JWTPayload } = {},
): Promise<SubjectContext> {
  const payload = verified ?? (await verifyOwnToken(deps.own, token, now, peeked));
  const aud = typeof payload.aud === 'string' ? payload.aud : undefined;
  const tool = aud === undefined ? undefined : deps.own.toolServers.get(aud);
  if (!tool) throw new TokenRejected('unknown_audience');
  // SPEC profile: a delegation token may be exchanged only by the client registered for the tool server in its `aud`.
  if (tool.clientId === undefined || tool.clientId !== clientId) throw new TokenRejected('not_audience_client');
  // The claims shape, `act` chain and `ancestors` rules are the verify SDK's, so a token a tool server accepted is one
  // the issuer accepts back (and the reverse).
  let claims: DelegationClaims;
  try {
    claims = parseDelegationClaims(payload);
  } catch (err) {
    throw new TokenRejected(err instanceof VerifyError && err.code === 'ERR_ACT_INVALID' ? 'malformed_act' : 'malformed_claims');
  }
  // parseDelegationClaims refuses an empty chain, so there is always a current actor.
  const act = nestActors(claims.actors)!;
  const { sid, sub, jti, ancestors } = claims;
  // RFC 9068 §2.2.3.1: `groups` is what the first exchange decided on; a hop never looks the user up again by a bare `sub`
  // (an external `sub` may equal a local one). Absent means none: a token without it passes no group limit.
  const groups: unknown = payload.groups === undefined ? [] : payload.groups;
  if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) throw new TokenRejected('malformed_claims');
  const issuedTo = typeof payload.client_id === 'string' ? payload.client_id : undefined;
  // RFC 9396 §9.1: the details this token carries bound every hop from it; one we cannot read refuses it (§5).
  const details = payload.authorization_details === undefined ? undefined : parseAuthorizationDetails(payload.authorization_details);
  if (details && !details.ok) throw new TokenRejected('malformed_authorization_details');
  // Issued with canonical locations; compared in that form all the same, as an external token's are (tool_details.ts).
  const toolDetails = details?.ok ? canonicalToolDetails(details.details) : undefined;
  if (toolDetails === null) throw new TokenRejected('malformed_authorization_details');
  // Its own revocation, its ancestors' (`token_digest`), its clients' and the presenter's: from this replica's view.
  const revocations = await deps.revocations.read(revocationQueryFor(payload, act, ancestors, clientId));
  return {
    kind: 'delegation',
    sub,
    sid,
    scopes: new Set(claims.scopes),
    iat: claims.iat,
    exp: claims.exp,
    authTime: typeof payload.auth_time === 'number' ? payload.auth_time : undefined,
    acr: typeof payload.acr === 'string' ? payload.acr : undefined,
    groups: groups as string[],
    act,
    issuedTo,
    audience: aud,
    jti,
    lineage: [...ancestors, tokenDigest(jti)],
    revocations,
    claims: payload,
    ...(toolDetails ? { authorizationDetails: toolDetails } : {}),
    ...boundKey(payload.cnf),
  };
}
