// Authorization code and refresh token grants for a tool server (MCP clients): the opaque access token oidc-provider
// minted for the tool server's `resource` is swapped for the same delegation token the exchange issues (issue.ts),
// decided by the same policy, recorded and audited through the same decision event. The opaque token never leaves.
// Reads as: grant → session → revocation → DPoP → policy → issue → bind the refresh token → event. A response for this
// service itself (the user token) only gets its refresh token bound.
import type { Middleware } from 'koa';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ToolServerConfig } from '../../config/schema.js';
import type { DecisionEvents, ExchangeDecisionEvent } from '../../audit/events.js';
import type { Policy } from '../../policy/decide.js';
import { grantRoot, revokedBecause, tokenDigest } from '../../sessions/revocation.js';
import type { AdapterPayload, ExchangeStateStore } from '../../stores/types.js';
import { StoreUnavailable } from '../../stores/errors.js';
import { HttpError } from '../../http/errors.js';
import { routeTemplate } from '../../http/route_template.js';
import { ServerError, ServiceUnavailable } from '../../provider/errors.js';
import { signDelegationToken, type Signer } from '../token_exchange/issue.js';
import { DetailsRefused, grantAuthorizationDetails, type DetailsDeps } from '../token_exchange/details.js';
import { SigningUnavailable, type SignCompact } from '../../keys/jws_thread.js';
import { DPOP_PROOF_REQUIRED } from '../../dpop/proof.js';

export interface CodeFlowDeps {
  issuer: string;
  toolServers: Map<string, ToolServerConfig>;
  policy: Policy;
  store: ExchangeStateStore;
  /** The user's groups and the claims a policy reference may name, by account id (the demo users, or what the upstream
   * IdP said at login): what the exchange reads for a user token of the same user. */
  accountOf: (accountId: string) => Promise<{ groups: readonly string[]; claims: Readonly<Record<string, unknown>> }>;
  /** RFC 9396: policy rules and tool servers for the `authorization_details` the token carries (the exchange's step). */
  details: DetailsDeps;
  signer: () => Signer;
  /** Signs the token; default jose on this thread (the service passes its signing thread's). */
  sign?: SignCompact;
  events: DecisionEvents;
  /** Ends a grant and every token issued from it (and, by its digest, every delegation token derived from it). */
  endGrant: (grantId: string) => Promise<void>;
  /** Destroys one refresh token (a response refused after oidc-provider issued it). */
  destroyRefreshToken: (value: string) => Promise<void>;
  now?: () => number;
}


type Grant = 'authorization_code' | 'refresh_token';
const GRANTS: ReadonlySet<string> = new Set<Grant>(['authorization_code', 'refresh_token']);

/** A refusal after oidc-provider answered: the client sees `error` and a fixed description; reasons go to the audit event. */
class Refusal extends HttpError {
  constructor(
    error: string,
    description: string,
    readonly reasons: string[],
    /** End the whole grant (its session, user or client was revoked), not only this response's refresh token. */
    readonly endGrant = false,
  ) {
    super(400, error, description, { detail: reasons.join(',') });
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' ? v : undefined);

interface Entities {
  AccessToken?: { aud?: unknown; scope?: string; grantId?: string; accountId?: string; sessionUid?: string; jkt?: unknown };
  AuthorizationCode?: { iat?: number };
  RefreshToken?: { iat?: number; iiat?: number; jkt?: unknown };
  RotatedRefreshToken?: { iat?: number; iiat?: number };
}

/** Mounted in front of oidc-provider's routes: runs after its token endpoint answered a code or refresh grant. */
export function delegationTokenResponses(deps: CodeFlowDeps): Middleware {
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  return async (ctx, next) => {
    await next();
    // The route oidc-provider ran, not the path as spelt: `/TOKEN` and `/token/` reach its token endpoint too.
    if (ctx.method !== 'POST' || routeTemplate(ctx) !== '/token' || ctx.status !== 200) return;
    const oidc = (ctx as unknown as Partial<KoaContextWithOIDC>).oidc;
    const grantType = str(oidc?.params?.grant_type);
    if (!oidc?.client || !grantType || !GRANTS.has(grantType)) return;
    const entities = oidc.entities as Entities;
    const toolServer = deps.toolServers.get(str(entities.AccessToken?.aud) ?? '');
    const body = ctx.body as Record<string, unknown> | undefined;
    const opaque = str(body?.access_token);
    const refreshToken = str(body?.refresh_token);
    if (!toolServer || !opaque) {
      // A user token for this service itself (the exchange's subject): unchanged; its refresh token keeps its binding.
      try {
        await bindRefreshToken(oidc, entities, refreshToken);
      } catch (err) {
        if (refreshToken) await deps.destroyRefreshToken(refreshToken).catch(() => undefined);
        throw toHttpError(err, { reasons: [] });
      }
      return;
    }

    const started = performance.now();
    const clientId = oidc.client.clientId;
    const event: ExchangeDecisionEvent = {
      type: 'exchange', grantType: grantType as Grant, time: Date.now(), decision: 'deny', reasons: [], clientId,
      act: { sub: clientId }, toolServer: toolServer.resource, durationMs: 0,
      requestId: (ctx.state as { requestId?: string }).requestId,
    };
    let grantId: string | undefined;
    try {
      const iat = now();
      // One round trip: the opaque token, the session it is bound to, the revocation markers of its sid, sub and client.
      const { token, session, revocations } = await deps.store.readOpaqueSubject(opaque, [clientId]);
      grantId = str(token?.grantId);
      const sub = str(token?.accountId);
      const sid = str(token?.sessionUid);
      if (!token || !grantId || !sub || !sid) throw new Refusal('invalid_grant', 'the grant is not bound to a session', ['not_session_bound'], true);
      Object.assign(event, { sub, sid });
      const sessionEnd = checkSession(session, token, clientId, iat);
      // The cutoff kinds (sub, client) compare with when the grant was made (the refresh chain's first token or the
      // code) or, earlier, when its session logged in: a code got by single sign-on after a cutoff is still of a session
      // that logged in before it (README "Revoking": "a later login starts afresh").
      const granted = entities.RotatedRefreshToken?.iiat ?? entities.RefreshToken?.iiat ?? entities.AuthorizationCode?.iat ?? iat;
      const origin = Math.min(granted, num(session?.loginTs) ?? Infinity);
      const revoked = revokedBecause(revocations, origin);
      // SPEC §13 / RFC 9700 §4.14: a refresh dies with a session, user or client revocation: refused, and the grant ends.
      if (revoked) throw new Refusal('invalid_grant', 'the grant has been revoked', [revoked], true);

      // RFC 9449 §5: oidc-provider checked this request's proof and bound the opaque token to its key; the delegation
      // token that replaces it keeps that binding (a bound login never yields a bearer token).
      const jkt = str(entities.AccessToken?.jkt);
      // RFC 9728 §2 dpop_bound_access_tokens_required: "the protected resource always requires the use of DPoP-bound
      // access tokens" (toolServers[].requireDpop): at every grant that issues for it, as at the exchange.
      if (toolServer.requireDpop && !jkt) throw new Refusal('invalid_request', DPOP_PROOF_REQUIRED, ['dpop_required_by_tool_server']);

      // The user's consent for this tool server is their entitlement here; oidc-provider already narrowed it to the
      // request and to the scopes the policy allows this client (getResourceServerInfo).
      const consented = (str(token.scope) ?? '').split(' ').filter((s) => toolServer.scopes.includes(s));
      event.requestedScopes = consented;
      const account = await deps.accountOf(sub);
      const decision = deps.policy.decide({
        agent: clientId, toolServer, userGroups: account.groups, subjectScopes: new Set(consented),
        requested: consented.length ? consented : undefined,
      });
      event.reasons = decision.reasons;
      if (!decision.allowed) {
        const error = decision.error === 'invalid_request' ? 'invalid_grant' : decision.error;
        const description = { invalid_target: 'the client may not obtain tokens for this tool server', invalid_scope: 'the requested scope is not allowed', invalid_grant: 'the user may not be delegated to this client' }[error];
        throw new Refusal(error, description, decision.reasons);
      }

      // Issue 10 / SPEC §11: deny by default: a tool whose rule has argument limits is never granted without them. The
      // client asks for no authorization_details here; the token carries the policy's, resolved for this user.
      const details = grantAuthorizationDetails(deps.details, { requested: undefined, agent: clientId, toolServer, scopes: decision.scopes, subject: { claims: account.claims } });
      // SPEC profile: exp <= min(now + tool server TTL, session end).
      const exp = Math.min(iat + toolServer.maxTtlSeconds, sessionEnd ?? Infinity);
      const act = { sub: clientId };
      const { token: jwt, jti } = await signDelegationToken(deps.issuer, deps.signer(), {
        sub, aud: toolServer.resource, clientId, scopes: decision.scopes, act, sid, iat, exp,
        authTime: num(session?.loginTs), acr: str(session?.acr), ancestors: [tokenDigest(grantRoot(grantId))], groups: deps.policy.carriedGroups(account.groups), jkt,
        authorizationDetails: details,
      }, deps.sign);
      await bindRefreshToken(oidc, entities, refreshToken);
      Object.assign(event, { decision: 'allow', grantedScopes: decision.scopes, jti, exp, ...(jkt ? { jkt } : {}) });
      // RFC 6749 §5.1 and RFC 8707 §2.2: the token, its lifetime, and `scope` (it may be narrower than asked).
      // RFC 9449 §5: a bound token is answered with token_type DPoP. RFC 9396 §7: the response carries the token's
      // authorization details.
      ctx.body = {
        ...body, access_token: jwt, token_type: jkt ? 'DPoP' : 'Bearer', expires_in: exp - iat, scope: decision.scopes.join(' '),
        ...(details ? { authorization_details: details } : {}),
      };
    } catch (err) {
      await refuse(deps, err, event, grantId, refreshToken);
      throw toHttpError(err, event);
    } finally {
      event.durationMs = performance.now() - started;
      (ctx.state as { decision?: ExchangeDecisionEvent }).decision = event;
      deps.events.emit(event);
    }
  };
}

/** The provider session still holds this grant for this user (a logout or session revocation ends it); returns its end. */
function checkSession(session: AdapterPayload | undefined, token: AdapterPayload, clientId: string, now: number): number | undefined {
  const authorizations = (session?.authorizations ?? {}) as Record<string, { grantId?: string } | undefined>;
  const end = num(session?.exp);
  if (!session || session.accountId !== token.accountId || authorizations[clientId]?.grantId !== token.grantId || (end !== undefined && end <= now)) {
    throw new Refusal('invalid_grant', 'the session has ended', ['session_ended'], true);
  }
  return end;
}

/**
 * Binds the response's refresh token to the key its access token was bound to, when oidc-provider did not: it binds
 * public clients' only (RFC 9449 §5: such a client "MUST present a DPoP proof for the same key that was used to obtain
 * the refresh token"), so a confidential client's refresh without a proof got unbound tokens. The same rule for every
 * client, once a proof bound a token of the grant: oidc-provider then refuses a refresh without a proof of that key
 * (`invalid_grant`) before it consumes the refresh token, and carries the binding to each rotated one. Stricter than
 * RFC 9449 §5 asks of confidential clients (their refresh tokens "are not bound to the DPoP proof public key"): such a
 * client changes its DPoP key by logging in again.
 */
async function bindRefreshToken(oidc: KoaContextWithOIDC['oidc'], entities: Entities, refreshToken: string | undefined): Promise<void> {
  const jkt = str(entities.AccessToken?.jkt);
  if (!jkt || !refreshToken || entities.RefreshToken?.jkt !== undefined) return;
  // The record as stored (its `iat` and `exp`, which the instance oidc-provider saved does not keep), rewritten whole.
  const stored = await oidc.provider.RefreshToken.find(refreshToken);
  // Gone since oidc-provider saved it: the grant or its session ended meanwhile.
  if (!stored) throw new Refusal('invalid_grant', 'the grant has been revoked', ['grant_ended'], true);
  stored.jkt = jkt;
  await stored.save();
}

/** Nothing of a refused response survives: its refresh token is destroyed, and the grant too when it was revoked. */
async function refuse(deps: CodeFlowDeps, err: unknown, event: ExchangeDecisionEvent, grantId: string | undefined, refreshToken: string | undefined) {
  try {
    if (err instanceof Refusal && err.endGrant && grantId) await deps.endGrant(grantId);
    else if (refreshToken) await deps.destroyRefreshToken(refreshToken);
  } catch (cleanup) {
    event.reasons = [...event.reasons, 'cleanup_failed'];
    if (!(cleanup instanceof StoreUnavailable || cleanup instanceof ServiceUnavailable)) throw cleanup;
  }
}

export function toHttpError(err: unknown, event: Pick<ExchangeDecisionEvent, 'error' | 'reasons'>): HttpError {
  if (err instanceof DetailsRefused) {
    // Only the policy's own limits are at stake (the client asked for none): one it cannot resolve for this user (a
    // `${subject.…}` claim the user lacks) means this user may not be delegated to this client under that rule.
    event.error = 'invalid_grant';
    event.reasons = [`authorization_details:${err.reason}`];
    return new Refusal('invalid_grant', 'the user may not be delegated to this client', event.reasons);
  }
  if (err instanceof Refusal) {
    event.error = err.error;
    if (!event.reasons.length || err.endGrant) event.reasons = err.reasons;
    return err;
  }
  // oidc-provider's own refusal, met while this step works on its records (the grant ended by a concurrent reuse while
  // the refresh token is re-saved): already an RFC 6749 §5.2 error with a fixed description, answered as it is.
  if (err instanceof errors.OIDCProviderError && err.expose && err.statusCode === 400) {
    event.error = err.error;
    event.reasons = [err.error_detail ?? err.error];
    return new Refusal(err.error, err.error_description ?? err.error, event.reasons);
  }
  const message = err instanceof Error ? err.message : String(err);
  // RFC 6749 §5.2: a store outage is temporarily_unavailable (fail closed), anything else a bug (500).
  if (err instanceof StoreUnavailable || err instanceof ServiceUnavailable || err instanceof SigningUnavailable) {
    event.error = 'temporarily_unavailable';
    event.reasons = [err instanceof SigningUnavailable ? 'signing_unavailable' : 'store_unavailable'];
    return new ServiceUnavailable(message);
  }
  event.error = 'server_error';
  event.reasons = ['internal_error'];
  return new ServerError(message);
}
