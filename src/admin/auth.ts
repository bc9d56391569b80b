// Bearer authentication of admin calls: an opaque client_credentials token this service issued for `${issuer}/admin`.
import type Provider from 'oidc-provider';
import type { Context } from 'koa';
import { AdminError } from './errors.js';

export const ADMIN_SCOPE = 'admin';

export interface AdminCaller {
  clientId: string;
  scopes: string[];
}

export interface AdminAuthDeps {
  provider: Pick<Provider, 'ClientCredentials'>;
  /** `${issuer}/admin`: the audience of admin tokens, also the realm of the challenges. */
  adminResource: string;
  /** Clients in the configuration: a token of a client since removed is refused. */
  clients: ReadonlySet<string>;
}

/** RFC 6750 §2.1: `b64token` after the `Bearer` scheme. Longer than any token we issue is refused without a lookup. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{1,512}=*) *$/i;

const challenge = (realm: string, attrs: Record<string, string> = {}) =>
  ['Bearer realm="' + realm + '"', ...Object.entries(attrs).map(([k, v]) => `${k}="${v}"`)].join(', ');

/**
 * Returns the caller, or throws:
 * - 401 with a bare `WWW-Authenticate: Bearer` challenge when no bearer credentials came (RFC 6750 §3.1: "If the
 *   request lacks any authentication information ... SHOULD NOT include an error code");
 * - 401 `invalid_token` for a malformed, unknown, expired, foreign-audience or sender-constrained token;
 * - 403 `insufficient_scope` for a valid token without the `admin` scope (RFC 6750 §3.1).
 * A store failure surfaces as the provider's 503 (fail closed).
 */
export async function authenticateAdmin(deps: AdminAuthDeps, ctx: Context): Promise<AdminCaller> {
  const header = ctx.get('authorization');
  // Another scheme (e.g. Basic) carries no bearer credentials: answer as if nothing came, naming the scheme we want.
  if (!header || !/^bearer(\s|$)/i.test(header)) {
    throw new AdminError(401, 'invalid_token', 'a bearer access token is required', ['no_token'], {
      'WWW-Authenticate': challenge(deps.adminResource),
    });
  }
  const invalid = (reason: string) =>
    new AdminError(401, 'invalid_token', 'the access token is invalid or expired', ['invalid_token', reason], {
      'WWW-Authenticate': challenge(deps.adminResource, { error: 'invalid_token', error_description: 'the access token is invalid or expired' }),
    });

  const value = BEARER.exec(header)?.[1];
  if (!value) throw invalid('malformed_token');
  const token = await deps.provider.ClientCredentials.find(value);
  if (!token || token.isExpired) throw invalid('unknown_or_expired_token');
  // No DPoP or mTLS on this API: a sender-constrained token cannot be checked here, so it is not accepted as a bearer one.
  if (token.isSenderConstrained()) throw invalid('sender_constrained_token');
  const aud = (token as unknown as { aud?: string | string[] }).aud;
  if (!(Array.isArray(aud) ? aud.length === 1 && aud[0] === deps.adminResource : aud === deps.adminResource)) throw invalid('wrong_audience');
  const clientId = token.clientId;
  if (!clientId || !deps.clients.has(clientId)) throw invalid('unknown_client');

  const scopes = [...token.scopes].filter(Boolean);
  if (!scopes.includes(ADMIN_SCOPE)) {
    const e = new AdminError(403, 'insufficient_scope', 'the access token lacks the admin scope', ['insufficient_scope'], {
      'WWW-Authenticate': challenge(deps.adminResource, { error: 'insufficient_scope', scope: ADMIN_SCOPE }),
    });
    e.clientId = clientId;
    throw e;
  }
  return { clientId, scopes };
}
