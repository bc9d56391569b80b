// Who an upstream login is here: the account id namespaced by the upstream issuer, and the groups the policy reads.
import type { UpstreamAccount } from '../stores/types.js';
import { accountIdFor, sidPrefixFor } from '../token_types/context.js';
import { isIdentifier } from '../sessions/identifiers.js';
import { StoreUnavailable } from '../stores/errors.js';
import { ServiceUnavailable } from '../provider/errors.js';

/** Fail closed in the upstream routes: a store outage is 503 `temporarily_unavailable`, never a 500 or a half-done login. */
export async function storeOutageAs503(next: () => Promise<unknown>): Promise<void> {
  try {
    await next();
  } catch (err) {
    throw err instanceof StoreUnavailable ? new ServiceUnavailable(err.message) : err;
  }
}

// `x-<issuer hash>|<sub>`: the one namespacing a trusted issuer's JWT gets too (token_types/external_jwt.ts).
export { accountIdFor };

/** The namespaced upstream session id our session links are indexed by. */
export const upstreamSessionKey = (issuer: string, sid: string) => `${sidPrefixFor(issuer)}.${sid}`;

const DISPLAY_CLAIMS = ['name', 'email', 'preferred_username'] as const;

/**
 * The account from validated ID token claims (and userinfo, when the ID token lacks the groups claim). Groups: the
 * configured claim's string members, as for a trusted issuer's JWT (token_types/external_jwt.ts); anything else, none.
 * Undefined when the ids are out of the identifier bounds the admin API can revoke.
 */
export function accountFrom(issuer: string, claims: Record<string, unknown>, groupsClaim: string, userinfo?: Record<string, unknown>): UpstreamAccount | undefined {
  const sub = claims.sub;
  // OpenID Connect Core §2: `sub` is a string; ours must stay within the identifier bounds (sessions/identifiers.ts).
  if (typeof sub !== 'string' || !isIdentifier(accountIdFor(issuer, sub))) return undefined;
  const raw = claims[groupsClaim] ?? userinfo?.[groupsClaim];
  const groups = Array.isArray(raw) ? [...new Set(raw.filter((g): g is string => typeof g === 'string'))] : [];
  const display: Record<string, string> = {};
  for (const name of DISPLAY_CLAIMS) {
    const value = claims[name] ?? userinfo?.[name];
    if (typeof value === 'string') display[name] = value;
  }
  return { id: accountIdFor(issuer, sub), issuer, sub, groups, claims: display };
}
