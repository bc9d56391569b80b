// The provider's own opaque user access token, read with its session and revocation markers in one store round trip.
import type { SubjectContext } from './types.js';
import { TokenRejected } from './types.js';
import type { ValidationContext } from './context.js';
import type { DemoUser } from '../config/schema.js';
import { grantRoot, tokenDigest } from '../sessions/revocation.js';
import { boundKey } from '../dpop/cnf.js';

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' ? v : undefined);

export async function validateUserAccessToken(token: string, { deps, clientId: requester, now, dpopReplay }: ValidationContext): Promise<SubjectContext> {
  // oidc-provider's opaque tokens are 43 base64url characters; anything else cannot be one, so no store read for it.
  if (!/^[\w-]{20,128}$/.test(token)) throw new TokenRejected('unknown_token');
  // One store round trip: the token, its session and the revocation stream's head (the fence that orders the revocation
  // check after every acknowledged revocation), and the DPoP proof's replay claim when there is one; the markers
  // themselves come from this replica's view.
  const digest = tokenDigest(token);
  const { token: stored, session, revocationHead, replayClaimed } = await deps.store.readOpaqueToken(token, digest, dpopReplay);
  if (!stored || stored.kind !== 'AccessToken' || stored.jti !== token) throw new TokenRejected('unknown_token');
  const exp = num(stored.exp);
  if (exp === undefined || exp <= now) throw new TokenRejected('expired');
  // Only tokens issued for this service (the default resource of the login flow) are exchangeable here.
  if (stored.aud !== deps.issuer) throw new TokenRejected('wrong_audience');
  const sub = str(stored.accountId);
  const clientId = str(stored.clientId);
  const sessionUid = str(stored.sessionUid);
  const grantId = str(stored.grantId);
  if (!sub || !clientId || !sessionUid || !grantId) throw new TokenRejected('not_session_bound');
  // The same binding oidc-provider checks for session-bound tokens: the session exists, is the user's, and still holds
  // the grant the token came from (a logout or a revoked grant ends it).
  const authorizations = (session?.authorizations ?? {}) as Record<string, { grantId?: string } | undefined>;
  if (!session || session.accountId !== sub || authorizations[clientId]?.grantId !== grantId) {
    throw new TokenRejected('session_ended');
  }
  const sessionEnd = num(session.exp);
  if (sessionEnd !== undefined && sessionEnd <= now) throw new TokenRejected('session_ended');
  // Its session, its user, the client it was issued to and the one presenting it.
  const revocations = await deps.revocations.read({ sid: sessionUid, sub, clientIds: [clientId, requester] }, revocationHead);
  // A demo user, or else a user who logged in through the upstream provider (their stored account; one read, only for them).
  const demoAccount = deps.accounts.get(sub);
  const upstreamAccount = demoAccount ? undefined : await deps.upstreamAccounts?.(sub);
  const { groups, claims } = ownAccount(demoAccount, upstreamAccount, sub);
  return {
    kind: 'user_token',
    sub,
    sid: sessionUid,
    scopes: new Set((str(stored.scope) ?? '').split(' ').filter(Boolean)),
    // README "Revoking": a user or agent revocation covers every token "issued at or before the cutoff", and "a later
    // login starts afresh". A token the session obtained after the cutoff without a login (single sign-on at /auth, a
    // refresh) is still of a session that logged in before it: the cutoffs compare with the session's login.
    iat: Math.min(num(stored.iat) ?? now, num(session.loginTs) ?? Infinity),
    exp,
    sessionEnd,
    authTime: num(session.loginTs),
    acr: str(session.acr),
    // Our own login's account id: the local user table is the right source here, and only here.
    groups,
    claims,
    issuedTo: clientId,
    holder: { sub: clientId },
    // Root first: its grant (ending the grant publishes that digest, service.ts), then the token itself (RFC 7009
    // revocation of this token writes its digest). The authorization code flow roots its tokens at the same grant digest.
    lineage: [tokenDigest(grantRoot(grantId)), digest],
    revocations,
    // oidc-provider keeps a DPoP-bound token's thumbprint as `jkt` on the record (RFC 9449 §6).
    ...boundKey(stored.jkt === undefined ? undefined : { jkt: stored.jkt }),
    ...(replayClaimed === undefined ? {} : { dpopReplayClaimed: replayClaimed }),
  };
}

/**
 * One of our own users as policy sees them: a demo user, or else an upstream login's stored account. `claims` is what a
 * policy reference `${subject.<name>}` may name: a demo user's configured `claims`, then `sub`, `username`, `name`; an
 * upstream user's claims as of their login, then `sub`. The exchange and the authorization code flow both read it.
 */
export function ownAccount(demo: DemoUser | undefined, upstream: { groups: string[]; claims: Record<string, string> } | undefined, sub: string): { groups: string[]; claims: Record<string, unknown> } {
  return {
    groups: (demo ?? upstream)?.groups ?? [],
    claims: upstream ? { ...upstream.claims, sub } : demo ? { ...demo.claims, sub, username: demo.username, name: demo.name } : { sub },
  };
}
