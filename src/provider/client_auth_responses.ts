// Responses of the client-authenticated endpoints as RFC 6749 wants them where oidc-provider answers otherwise.
import type { Middleware } from 'koa';

/** oidc-provider's description when a request carries no client authentication at all (lib/shared/client_auth.js). */
export const NO_CLIENT_AUTHENTICATION = 'no client authentication mechanism provided';
/** oidc-provider's description when a client uses a grant type it is not registered for (lib/actions/token.js). */
export const GRANT_TYPE_NOT_ALLOWED = 'requested grant type is not allowed for this client';
const CLIENT_AUTHENTICATED_ROUTES = new Set(['token', 'introspection', 'revocation']);

interface RouteContext {
  oidc?: { route?: string };
}

/**
 * - RFC 6749 §5.1: token responses carry `Pragma: no-cache` besides `Cache-Control: no-store` (oidc-provider sends
 *   only the latter).
 * - RFC 6749 §5.2: "invalid_client: Client authentication failed (e.g., ... no client authentication included ...)"
 *   is a 401; oidc-provider answers a request without any client authentication with 400 invalid_request.
 * - Every 401 carries a challenge.
 */
export function clientAuthenticatedResponses(issuer: string): Middleware {
  return async (ctx, next) => {
    await next();
    const route = (ctx as RouteContext).oidc?.route;
    if (route === undefined || !CLIENT_AUTHENTICATED_ROUTES.has(route)) return;
    // RFC 6749 §5.1: "as well as the "Pragma" response header field [RFC2616] with a value of "no-cache"".
    if (route === 'token') ctx.set('Pragma', 'no-cache');
    const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
    if (ctx.status === 400 && body?.error === 'invalid_request' && body.error_description === NO_CLIENT_AUTHENTICATION) {
      ctx.status = 401;
      ctx.body = { error: 'invalid_client', error_description: 'client authentication failed' };
    }
    // RFC 6749 §5.2: "unauthorized_client: The authenticated client is not authorized to use this authorization grant
    // type" (oidc-provider answers invalid_request): onboarded clients asking for token exchange or client_credentials.
    if (route === 'token' && ctx.status === 400 && body?.error === 'invalid_request' && body.error_description === GRANT_TYPE_NOT_ALLOWED) {
      ctx.body = { error: 'unauthorized_client', error_description: 'the client may not use this grant type' };
    }
    // RFC 9110 §15.5.2: a 401 "MUST send a WWW-Authenticate header field"; oidc-provider adds one only when the client
    // used the Authorization header. Without credentials there, the challenge carries no error code.
    if (ctx.status === 401 && !ctx.response.get('WWW-Authenticate')) ctx.set('WWW-Authenticate', `Basic realm="${issuer}"`);
  };
}
