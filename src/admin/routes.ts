// The admin HTTP API under /admin: revoke sessions, subjects, clients and tokens; read sessions and the audit trail;
// list and revoke consents, list and delete onboarded clients (onboarding.ts).
// Every call is authenticated (auth.ts), answered in JSON, and audited as an AdminDecisionEvent, allowed or refused.
import { adminResourceOf } from '../provider/configuration.js';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type Provider from 'oidc-provider';
import type { Context, Middleware } from 'koa';
import type { DecisionEvents } from '../audit/events.js';
import type { RevocationService } from '../sessions/revoke.js';
import type { AuditLog, RevocationKind, SessionRegistry } from '../stores/types.js';
import { authenticateAdmin, type AdminCaller } from './auth.js';
import { AdminError, notFound, unavailable } from './errors.js';
import { renderHttpError } from '../http/errors.js';
import { auditQuery, pageRead, parseOr400, pathParam, revokeBody, sessionsQuery } from './schemas.js';
import { buildDelegationTree } from './tree.js';
import { holdsCompactToken, opaqueCandidates } from './token_values.js';
import { addOnboardingRoutes, onboardedClientKnown, type AdminOnboardingDeps } from './onboarding.js';
import { markRoute, routeTemplate, UNMATCHED_ROUTE } from '../http/route_template.js';

export const ADMIN_PREFIX = '/admin';

export interface AdminDeps {
  provider: Pick<Provider, 'ClientCredentials' | 'AccessToken' | 'RefreshToken' | 'AuthorizationCode'>;
  issuer: string;
  revocation: Pick<RevocationService, 'revoke'>;
  sessions: SessionRegistry;
  audit: AuditLog;
  /** Every configured client_id (static configuration: the complete set). */
  clients: ReadonlySet<string>;
  events: DecisionEvents;
  /** Consents and onboarded clients (onboarding.ts); absent, those routes answer 404. */
  onboarding?: AdminOnboardingDeps;
}

interface AdminState {
  requestId?: string;
  adminCaller: AdminCaller;
}

type AdminContext = Context & { state: AdminState; params: Record<string, string> };

const jsonBody = bodyParser({ enableTypes: ['json'], jsonLimit: '16kb', jsonStrict: false, encoding: 'utf-8' });

/** The revoke body: `application/json`, at most 16 KiB, one object. Every failure is a fixed-text 400 (413 when too large). */
async function readJsonObject(ctx: Context): Promise<Record<string, unknown>> {
  const type = ctx.is('application/json');
  if (type === null || ctx.request.length === 0) throw new AdminError(400, 'invalid_request', 'a JSON body is required');
  if (type === false) throw new AdminError(400, 'invalid_request', 'the body must be application/json');
  try {
    await jsonBody(ctx as never, async () => undefined);
  } catch (err) {
    if ((err as { status?: number }).status === 413) throw new AdminError(413, 'invalid_request', 'the body is too large');
    throw new AdminError(400, 'invalid_request', 'the body is not valid JSON');
  }
  const body = ctx.request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AdminError(400, 'invalid_request', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** `known` says whether anything here had a record of the target; it never decides whether the revocation happens. */
type Existence = (value: string) => Promise<boolean | undefined>;

/** oidc-provider's models whose id is the token itself (opaque values); those not enabled are absent on the provider. */
const OPAQUE_MODELS = ['AccessToken', 'ClientCredentials', 'RefreshToken', 'AuthorizationCode', 'RegistrationAccessToken', 'InitialAccessToken'] as const;
type OpaqueModel = { find(id: string): Promise<unknown> };

/** What the admin API revokes by name; `token_digest` markers are written for it (see sessions/revoke.ts). */
type AdminRevocationKind = Exclude<RevocationKind, 'token_digest'>;

const PARAM: Record<AdminRevocationKind, 'sid' | 'sub' | 'client_id' | 'jti'> = { sid: 'sid', sub: 'sub', client: 'client_id', jti: 'jti' };

/** The fixed refusals of a value that is a token: for a jti, and for the identifiers (sid, sub, client_id). */
const TOKEN_VALUE = {
  jti: 'the value is a token, not a token id; revoke it by its jti claim',
  id: 'the value is a token, not an identifier; revoke the token by its jti claim',
} as const;
const OPAQUE_VALUE = {
  jti: 'the value is an opaque token, not a token id; revoke it at the revocation endpoint',
  id: 'the value is an opaque token, not an identifier; revoke it at the revocation endpoint',
} as const;

export function adminRouter(deps: AdminDeps): Router<AdminState> {
  const router = new Router<AdminState>({ prefix: ADMIN_PREFIX });

  const existence: Record<AdminRevocationKind, Existence> = {
    // The registry forgets a session some time after its last token expires, and records tokens after the response:
    // a sid it does not know may still be carried by live tokens, so the revocation is recorded regardless.
    sid: async (sid) => (await deps.sessions.get(sid).catch(() => undefined)) !== undefined,
    sub: async (sub) => ((await deps.sessions.sidsOf(sub).catch(() => [])).length > 0),
    // Configured clients are static; onboarded ones (CIMD, DCR) are known by what the store holds of them. A client
    // id never seen is certainly a mistake (a typo would otherwise publish a cutoff that protects nothing).
    client: async (clientId) => {
      if (deps.clients.has(clientId)) return true;
      if (await onboardedClientKnown(clientId, deps.sessions, deps.onboarding).catch(unavailable)) return true;
      throw notFound('client', 'unknown_client');
    },
    // The registry does not index token ids: there is nothing to look up.
    jti: async () => undefined,
  };

  /**
   * Revocations are published to every tool server and kept in the audit trail: a value that is or holds a token (a
   * JWS/JWE anywhere in it, or a live opaque value of this service, bare or after a scheme) is refused, whatever the
   * kind. Every opaque value oidc-provider hands out is a bearer secret, a refresh token or a code as much as an access
   * token (the refresh token of a public client is redeemable by whoever reads it): none may be published.
   */
  const refuseTokenValue = async (kind: AdminRevocationKind, value: string): Promise<void> => {
    if (holdsCompactToken(value)) throw new AdminError(400, 'invalid_request', TOKEN_VALUE[kind === 'jti' ? 'jti' : 'id'], ['invalid_request', 'token_value']);
    const provider = deps.provider as unknown as Record<string, OpaqueModel | undefined>;
    const models = OPAQUE_MODELS.flatMap((name): OpaqueModel[] => (provider[name] ? [provider[name]] : []));
    const found = await Promise.all(opaqueCandidates(value).flatMap((candidate) => models.map((model) => model.find(candidate)))).catch(unavailable);
    if (found.some(Boolean)) throw new AdminError(400, 'invalid_request', OPAQUE_VALUE[kind === 'jti' ? 'jti' : 'id'], ['invalid_request', 'opaque_token_value']);
  };

  const revokeRoute = (kind: AdminRevocationKind) => async (ctx: AdminContext) => {
    const value = pathParam(PARAM[kind], ctx.params[PARAM[kind]]);
    const { reason } = parseOr400(revokeBody, await readJsonObject(ctx), 'body member');
    await refuseTokenValue(kind, value);
    const known = await existence[kind](value);
    const result = await deps.revocation
      .revoke({ kind, value, by: ctx.state.adminCaller.clientId, reason, ...(ctx.state.requestId ? { requestId: ctx.state.requestId } : {}) })
      .catch(unavailable);
    const ended = result.endedSessions;
    ctx.body = {
      kind,
      value,
      revokedAt: result.record.revokedAt,
      expiresAt: result.record.expiresAt,
      created: result.created,
      endedSessions: ended,
      ...(known === undefined ? {} : { known: known || ended.length > 0 }),
    };
  };

  router.post('/sessions/:sid/revoke', revokeRoute('sid'));
  router.post('/subjects/:sub/revoke', revokeRoute('sub'));
  router.post('/clients/:client_id/revoke', revokeRoute('client'));
  router.post('/tokens/:jti/revoke', revokeRoute('jti'));

  router.get('/sessions', async (ctx) => {
    const q = parseOr400(sessionsQuery, { ...ctx.query }, 'query parameter');
    const page = await pageRead(
      deps.sessions.list({ ...(q.sub ? { sub: q.sub } : {}), ...(q.client_id ? { clientId: q.client_id } : {}) }, { limit: q.limit, ...(q.cursor ? { cursor: q.cursor } : {}) }),
      q.cursor,
    );
    ctx.body = { items: page.items, ...(page.next ? { next: page.next } : {}) };
  });

  router.get('/sessions/:sid', async (ctx) => {
    const sid = pathParam('sid', ctx.params.sid);
    const record = await deps.sessions.get(sid).catch(unavailable);
    if (!record) throw notFound('session', 'unknown_session');
    ctx.body = { ...record, tree: buildDelegationTree(record.hops) };
  });

  router.get('/audit', async (ctx) => {
    const q = parseOr400(auditQuery, { ...ctx.query }, 'query parameter');
    const filter = {
      ...(q.sid ? { sid: q.sid } : {}),
      ...(q.sub ? { sub: q.sub } : {}),
      ...(q.client_id ? { clientId: q.client_id } : {}),
      ...(q.decision ? { decision: q.decision } : {}),
      ...(q.type ? { type: q.type } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
    };
    const page = await pageRead(deps.audit.query(filter, { limit: q.limit, ...(q.cursor ? { cursor: q.cursor } : {}) }), q.cursor);
    ctx.body = { items: page.items, ...(page.next ? { next: page.next } : {}) };
  });

  addOnboardingRoutes(router as never, () => deps.onboarding, readJsonObject);

  return router;
}

/** 405 with `Allow` when the path exists under another method (RFC 9110 §15.5.6), else 404. */
function unmatched(router: Router<AdminState>, ctx: Context): AdminError {
  const { path } = router.match(ctx.path, ctx.method);
  const allowed = [...new Set(path.flatMap((layer) => layer.methods))];
  if (allowed.length) return new AdminError(405, 'method_not_allowed', 'the method is not allowed on this resource', ['method_not_allowed'], { Allow: allowed.join(', ') });
  return new AdminError(404, 'not_found', 'no such admin endpoint', ['unknown_endpoint']);
}

/** The admin route a request is for, as its template (also when authentication refused it before routing), or `unmatched`. */
function templateOf(router: Router<AdminState>, ctx: Context): string {
  const matched = routeTemplate(ctx);
  if (matched !== UNMATCHED_ROUTE) return matched;
  const layer = router.match(ctx.path, ctx.method).pathAndMethod.findLast((l) => l.methods.length > 0);
  return typeof layer?.path === 'string' ? layer.path : UNMATCHED_ROUTE;
}

/** The outcome of one call, as the audit event records it. */
interface Outcome {
  status: number;
  decision: 'allow' | 'deny';
  reasons: string[];
  clientId?: string;
}

function renderError(ctx: Context, err: unknown, caller: AdminCaller | undefined): Outcome {
  let e: AdminError;
  if (err instanceof AdminError) e = err;
  else if ((err as { status?: number }).status === 503) {
    // oidc-provider's fail-closed adapter (a token lookup while the store is down).
    e = new AdminError(503, 'temporarily_unavailable', 'the service is temporarily unavailable', ['store_unavailable']);
  } else {
    throw err;
  }
  renderHttpError(ctx, e);
  const refused = !caller;
  const clientId = caller?.clientId ?? e.clientId;
  return {
    status: e.status,
    decision: refused ? 'deny' : 'allow',
    reasons: refused ? e.reasons : ['authorized', ...e.reasons],
    ...(clientId ? { clientId } : {}),
  };
}

/**
 * The /admin namespace as one middleware: everything under it is answered here (never by oidc-provider), and every
 * call emits one AdminDecisionEvent: `deny` when authentication or the scope check refused it, else `allow` with the
 * error's reasons appended when the call itself failed.
 */
export function adminRoutes(deps: AdminDeps): Middleware {
  const router = adminRouter(deps);
  const dispatch = router.routes();
  const authDeps = { provider: deps.provider, adminResource: adminResourceOf(deps.issuer), clients: deps.clients };

  return async function admin(ctx, next) {
    if (ctx.path !== ADMIN_PREFIX && !ctx.path.startsWith(`${ADMIN_PREFIX}/`)) return next();
    ctx.set('Cache-Control', 'no-store');
    let caller: AdminCaller | undefined;
    let outcome: Outcome = { status: 500, decision: 'deny', reasons: ['server_error'] };
    try {
      caller = await authenticateAdmin(authDeps, ctx);
      ctx.state.adminCaller = caller;
      await dispatch(ctx as never, async () => {
        throw unmatched(router, ctx);
      });
      outcome = { status: ctx.status, decision: 'allow', reasons: ['authorized'], clientId: caller.clientId };
    } catch (err) {
      // Recorded first: an unexpected error is rethrown by renderError (errorRenderer logs it and answers 500).
      outcome = { status: 500, decision: caller ? 'allow' : 'deny', reasons: ['server_error'], ...(caller ? { clientId: caller.clientId } : {}) };
      outcome = renderError(ctx, err, caller);
    } finally {
      const template = templateOf(router, ctx);
      // The request log line names the same route, also when authentication refused the call before routing.
      markRoute(ctx, template);
      deps.events.emit({
        type: 'admin',
        time: Date.now(),
        decision: outcome.decision,
        reasons: outcome.reasons,
        ...(ctx.state.requestId ? { requestId: String(ctx.state.requestId) } : {}),
        ...(outcome.clientId ? { clientId: outcome.clientId } : {}),
        method: ctx.method,
        // The route template, never the raw path (a token pasted into a path parameter must not reach the audit stream).
        path: template,
        status: outcome.status,
      });
    }
  };
}
