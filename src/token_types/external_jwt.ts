// A JWT from a trusted external identity provider (ID token, JWT access token or plain JWT), verified against its JWKS.
import type { JWTPayload } from 'jose';
import { MCP_TOOL_TYPE, parseAuthorizationDetails, type McpToolDetails } from 'delegation-token-verify';
import type { SubjectContext } from './types.js';
import { TokenRejected } from './types.js';
import { accountIdFor, type TrustedIssuer, type ValidationContext } from './context.js';
import { tokenDigest } from '../sessions/revocation.js';
import { boundKey } from '../dpop/cnf.js';
import { SUBJECT_TYP, verifyJwt, type Peeked } from './jwt.js';
import { actClientIds, parseAct, parseMayAct } from './act.js';
import { isIdentifier } from '../sessions/identifiers.js';
import { canonicalToolDetails } from './tool_details.js';

export async function validateExternalJwt(
  token: string,
  trusted: TrustedIssuer,
  tokenType: string,
  { deps, clientId }: ValidationContext,
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
      // RFC 8725 §3.11: the `typ` must fit the declared subject_token_type (RFC 9068 §4: an access token is at+jwt).
      typ: SUBJECT_TYP.get(tokenType),
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
      // Never a token that outlives the revocation markers that could reach it (their retention).
      retentionSeconds: deps.retentionSeconds,
    },
    'subject_token',
    peeked,
  );
  // RFC 7519 §4.1.2: `sub` is "locally unique in the context of the issuer"; here it is namespaced by its issuer as an
  // upstream login's account is (upstream/account.ts), so no trusted issuer can speak for a local or another issuer's user.
  const sub = accountIdFor(config.issuer, payload.sub!);
  const sessionId = payload[config.sessionClaim];
  if (typeof sessionId !== 'string' || sessionId === '') throw new TokenRejected('no_session_claim');
  const sid = `${trusted.sidPrefix}.${sessionId}`;
  // Every identifier accepted here must be one the admin API can revoke (sessions/identifiers.ts).
  if (!isIdentifier(sub)) throw new TokenRejected('malformed_sub');
  if (!isIdentifier(sid)) throw new TokenRejected('malformed_session_claim');
  // RFC 7519 §4.1.7: `jti` is a case-sensitive string; a present one must be revocable.
  if (payload.jti !== undefined && !isIdentifier(payload.jti)) throw new TokenRejected('malformed_jti');
  const named = checkIssuedTo(payload, trusted, clientId);
  const mayAct = parseMayAct(payload.may_act);
  if (mayAct === null) throw new TokenRejected('malformed_may_act');
  // RFC 8693 §4.1: the subject token's own act chain is kept (nested under the new actor, counted toward the depth cap).
  const act = payload.act === undefined ? undefined : parseAct(payload.act);
  if (payload.act !== undefined && !act) throw new TokenRejected('malformed_act');
  const allowed = new Set(config.allowedScopes);
  // RFC 8693 §4.2 / RFC 9068 §2.2.3: a present `scope` is one space-delimited string; anything else is refused, never
  // read as absent (which would mean the issuer-wide allowance: an up-scope).
  if (payload.scope !== undefined && typeof payload.scope !== 'string') throw new TokenRejected('malformed_scope');
  // A token that states its scopes narrows the issuer-wide allowance further.
  const scopes =
    typeof payload.scope === 'string' ? new Set(payload.scope.split(' ').filter((s) => allowed.has(s))) : allowed;
  // RFC 9396 §9.1 / SPEC §11: `mcp_tool` details the subject token carries bound what is granted from it (the narrowest
  // of policy, request and subject), as a delegation token's do on a hop. Entries of other types are the issuer's for
  // its own APIs (§2: each type is defined by the API it is for) and say nothing of our tool servers; a claim that is
  // not an array of typed objects, or an `mcp_tool` entry we cannot read, refuses the token (§5: never ignored, which
  // would make the new token wider than its subject).
  const details = externalToolDetails(payload.authorization_details);
  if (details === null) throw new TokenRejected('malformed_authorization_details');
  const groupsClaim = payload[config.groupsClaim];
  const revocations = await deps.revocations.read({
    sid,
    sub,
    ...(typeof payload.jti === 'string' ? { jti: payload.jti } : {}),
    // Issue 8 item 2: the requesting client, the client(s) the token names as issued to (README "Revoking": every
    // exchange of a user token issued to a client, whoever presents it) and every client in the subject's chain,
    // against the token's `iat` (or its login's `auth_time`, when earlier).
    clientIds: [...new Set([clientId, ...named, ...actClientIds(act)])],
  });
  // OIDC Core §2 `auth_time`: when the user authenticated. README "Revoking": a `sub`/`client` cutoff covers every token
  // of a login at or before it, so a JWT the IdP issues later in the same login (a refresh) is compared with the login,
  // as our own sessions are (user_access_token.ts). One in the future says nothing earlier than `iat`.
  const authTime = typeof payload.auth_time === 'number' && Number.isFinite(payload.auth_time) ? payload.auth_time : undefined;
  return {
    kind: 'external',
    sub,
    sid,
    scopes,
    iat: Math.min(payload.iat!, authTime ?? Infinity),
    exp: payload.exp!,
    authTime,
    acr: typeof payload.acr === 'string' ? payload.acr : undefined,
    groups: Array.isArray(groupsClaim) ? groupsClaim.filter((g): g is string => typeof g === 'string') : [],
    ...(mayAct ? { mayAct } : {}),
    ...(act ? { act } : {}),
    ...(named.length ? { holder: { sub: named[0]!, iss: config.issuer } } : {}),
    // Revoking this token by its jti (admin revoke-token) also revokes what was derived from it.
    lineage: typeof payload.jti === 'string' ? [tokenDigest(payload.jti)] : [],
    revocations,
    // A policy's `${subject.sub}` is the account, as the token's `sub` and a hop's; the token's other claims as they are.
    claims: { ...payload, sub },
    ...(details ? { authorizationDetails: details } : {}),
    ...boundKey(payload.cnf),
  };
}

/**
 * logto #8772 class: when the token names the client it was issued to (`azp`, OIDC Core §2; `client_id`, RFC 9068 §2.2
 * and RFC 8693 §4.3), only the client(s) that maps to may exchange it: the trusted issuer's `clients` entry for it, or
 * by default the same client_id. A token naming both must satisfy both: a contradiction never widens who may use it.
 * Returns the names, `azp` first.
 */
function checkIssuedTo(payload: JWTPayload, { config }: TrustedIssuer, clientId: string): string[] {
  const names: string[] = [];
  for (const named of [payload.azp, payload.client_id]) {
    if (named === undefined) continue;
    if (!isIdentifier(named)) throw new TokenRejected('malformed_azp');
    const mapped = Object.hasOwn(config.clients, named) ? config.clients[named]! : [named];
    if (!mapped.includes(clientId)) throw new TokenRejected('not_issued_to_client');
    if (!names.includes(named)) names.push(named);
  }
  return names;
}

/**
 * The `mcp_tool` entries of an external token's `authorization_details`, their locations canonical (the IdP may spell a
 * tool server's URI as the request's `resource` may: `HTTP://TOOLS.EXAMPLE:80/mcp`); undefined for none, null when
 * unreadable.
 */
function externalToolDetails(claim: unknown): McpToolDetails[] | undefined | null {
  if (claim === undefined) return undefined;
  // RFC 9396 §2: "a JSON array of JSON objects", each with a `type`.
  if (!Array.isArray(claim) || !claim.every((e) => typeof e === 'object' && e !== null && !Array.isArray(e) && typeof (e as { type?: unknown }).type === 'string')) return null;
  const ours = claim.filter((e) => (e as { type: string }).type === MCP_TOOL_TYPE);
  if (ours.length === 0) return undefined;
  const parsed = parseAuthorizationDetails(ours);
  return parsed.ok ? canonicalToolDetails(parsed.details) : null;
}
