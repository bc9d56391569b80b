// Talking to the STS with openid-client: discovery, the RFC 8693 exchange, and the admin API call that revokes a session.
import * as oidc from 'openid-client';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/** The STS as seen by one confidential client (client_secret_basic). `http:` is allowed: the examples run locally. */
export function discoverSts(issuer: string, { clientId, clientSecret }: ClientCredentials): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), clientId, clientSecret, oidc.ClientSecretBasic(clientSecret), {
    execute: [oidc.allowInsecureRequests],
  });
}

export interface ExchangeRequest {
  subjectToken: string;
  /** RFC 8707 resource indicator: the tool server the new token is for. */
  resource: string;
  scope: string;
}

/**
 * RFC 8693 §2.1: trades a token this client holds for one naming `resource` as audience and this client as actor. With
 * a DPoP handle (RFC 9449 §5) the request carries a proof of its key and the new token is bound to that key; a bound
 * subject token needs one (the holder's key, or a tool server's own key for the token it received).
 */
export function exchangeToken(sts: oidc.Configuration, request: ExchangeRequest, dpop?: oidc.DPoPHandle): Promise<oidc.TokenEndpointResponse> {
  return oidc.genericGrantRequest(sts, TOKEN_EXCHANGE, {
    subject_token: request.subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    resource: request.resource,
    scope: request.scope,
  }, dpop ? { DPoP: dpop } : undefined);
}

export interface AdminAnswer {
  status: number;
  body: unknown;
}

/** `POST /admin/sessions/{sid}/revoke` with a client_credentials token carrying the `admin` scope. */
export async function revokeSession(issuer: string, admin: ClientCredentials, sid: string, reason: string): Promise<AdminAnswer> {
  const sts = await discoverSts(issuer, admin);
  const { access_token } = await oidc.clientCredentialsGrant(sts, { scope: 'admin' });
  const response = await fetch(`${issuer}/admin/sessions/${encodeURIComponent(sid)}/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text for the report.
  }
  return { status: response.status, body };
}
