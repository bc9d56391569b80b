// The audit event of an exchange request oidc-provider refuses before the grant's handler runs (client authentication,
// a repeated parameter, scope syntax, lib/actions/token.js), so every exchange decision is audited, not only the
// handler's. No token or secret: the client id is the client oidc-provider found, never what the request claims.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { DecisionEvents, ExchangeDecisionEvent } from '../../audit/events.js';
import { GRANT_TYPE_NOT_ALLOWED, NO_CLIENT_AUTHENTICATION } from '../../provider/client_auth_responses.js';
import { TOKEN_EXCHANGE_GRANT } from './params.js';

interface RefusedError {
  error?: unknown;
  error_description?: unknown;
  message?: unknown;
}

/** oidc-provider's error codes are a closed set of fixed strings; anything else is recorded as this. */
const ERROR_CODE = /^[a-z_]{1,64}$/;

/** The error the client is answered (provider/client_auth_responses.ts rewrites two) and the audit reason. */
export function earlyRefusal(err: RefusedError): { error: string; reason: string } {
  const error = typeof err.error === 'string' && ERROR_CODE.test(err.error) ? err.error : 'invalid_request';
  const description = typeof err.error_description === 'string' ? err.error_description : typeof err.message === 'string' ? err.message : '';
  if (error === 'invalid_request') {
    // RFC 6749 §5.2: no client authentication at all is invalid_client (answered 401).
    if (description === NO_CLIENT_AUTHENTICATION) return { error: 'invalid_client', reason: 'invalid_client' };
    // RFC 6749 §5.2: a grant type the client is not registered for is unauthorized_client.
    if (description === GRANT_TYPE_NOT_ALLOWED) return { error: 'unauthorized_client', reason: 'client_not_allowed' };
    // RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once."
    if (description.endsWith('must not be provided twice')) return { error, reason: 'repeated_parameter' };
  }
  if (error === 'server_error') return { error, reason: 'internal_error' };
  return { error, reason: error };
}

/** Whether the request asked for the token exchange grant (a repeated grant_type: every value of it). */
function isExchange(ctx: KoaContextWithOIDC): boolean {
  const oidc = ctx.oidc as unknown as { params?: Record<string, unknown>; body?: Record<string, unknown> } | undefined;
  const grantType = oidc?.params?.grant_type ?? oidc?.body?.grant_type;
  const values = Array.isArray(grantType) ? grantType : [grantType];
  return values.length > 0 && values.every((v) => v === TOKEN_EXCHANGE_GRANT);
}

/** Emits a deny exchange event for every token endpoint error of the exchange grant its handler did not decide. */
export function auditEarlyRefusals(provider: Provider, events: DecisionEvents): void {
  const onError = (ctx: KoaContextWithOIDC, err: unknown) => {
    const state = ctx.state as { decision?: ExchangeDecisionEvent; requestId?: string };
    if (state.decision || ctx.oidc?.route !== 'token' || !isExchange(ctx)) return;
    const { error, reason } = earlyRefusal((err ?? {}) as RefusedError);
    // The client oidc-provider found by the request's client_id (authenticated, or not when authentication failed).
    const clientId = ctx.oidc.client?.clientId ?? '';
    const event: ExchangeDecisionEvent = {
      type: 'exchange', time: Date.now(), decision: 'deny', error, reasons: [reason], clientId,
      ...(clientId ? { act: { sub: clientId } } : {}),
      // Refused before any decision step ran.
      durationMs: 0,
      ...(state.requestId ? { requestId: state.requestId } : {}),
    };
    state.decision = event;
    events.emit(event);
  };
  provider.on('grant.error', onError);
  provider.on('server_error', onError);
}
