// What a client onboarded by Client ID Metadata Document or Dynamic Client Registration may be: a public or
// private_key_jwt client using authorization code + refresh only (never token exchange, client_credentials or admin).

export const ONBOARDED_GRANT_TYPES: ReadonlySet<string> = new Set(['authorization_code', 'refresh_token']);
export const ONBOARDED_AUTH_METHODS: ReadonlySet<string> = new Set(['none', 'private_key_jwt']);

/** The metadata the rules read (snake_case, as registered or fetched). */
export interface OnboardedMetadata {
  grant_types?: unknown;
  response_types?: unknown;
  token_endpoint_auth_method?: unknown;
  application_type?: unknown;
}

/** Why the metadata is refused (for the log and audit), or undefined when it fits the rules. */
export function refusalOf(m: OnboardedMetadata): string | undefined {
  const grants = m.grant_types ?? ['authorization_code'];
  if (!Array.isArray(grants) || grants.some((g) => typeof g !== 'string' || !ONBOARDED_GRANT_TYPES.has(g))) return 'grant_type_not_allowed';
  const responses = m.response_types ?? ['code'];
  if (!Array.isArray(responses) || responses.some((r) => r !== 'code')) return 'response_type_not_allowed';
  const method = m.token_endpoint_auth_method;
  if (method !== undefined && (typeof method !== 'string' || !ONBOARDED_AUTH_METHODS.has(method))) return 'auth_method_not_allowed';
  if (m.application_type !== undefined && m.application_type !== 'web' && m.application_type !== 'native') return 'application_type_invalid';
  return undefined;
}

/**
 * RFC 7591 §2: the server "MAY reject or replace any of the client's requested metadata values". Members an onboarded
 * client never keeps, dropped rather than failing the client:
 * - `scope` names tool scopes, which are granted at consent and by policy, not by client metadata;
 * - `post_logout_redirect_uris`: anyone can register a client or host a document, so a logout redirect to one would make
 *   `/session/end` an open redirector (RFC 9700 §4.11.2), with no click when the browser has no session.
 */
export const DROPPED_MEMBERS: readonly string[] = ['scope', 'post_logout_redirect_uris'];

/** Removes DROPPED_MEMBERS from `metadata` in place; whether one was there. */
export function dropMembers(metadata: Record<string, unknown>): boolean {
  let dropped = false;
  for (const member of DROPPED_MEMBERS) {
    if (Object.hasOwn(metadata, member)) {
      delete metadata[member];
      dropped = true;
    }
  }
  return dropped;
}
