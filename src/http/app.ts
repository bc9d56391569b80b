// Koa assembly: request id and log line, error rendering, health, and our routes in front of oidc-provider's.
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { StoreHealth } from '../stores/types.js';
import type { ExchangeDecisionEvent } from '../audit/events.js';
import type { Metrics } from './metrics.js';
import { markRoute, reachesProviderRoute, routeTemplate } from './route_template.js';
import { HttpError, renderHttpError } from './errors.js';
import { StoreUnavailable } from '../stores/errors.js';
import { requestIdOf } from './request_id.js';
import { ServiceUnavailable } from '../provider/errors.js';

/** Liveness, readiness and scrape requests: polled every few seconds, so their lines are debug, not info. */
export const PROBE_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/** OTel semantic conventions: `http.request.method` is one of the known methods, anything else `_OTHER` (bounded labels). */
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);

/** One log line per request, and the same request's `http_server_request_duration_seconds` observation (one place).
 * Only the matched route's template is logged (`route`): never the raw path (a token may be pasted into a path
 * parameter), the query or the body; a path no route matched is logged as `unmatched`. */
export function requestLog(logger: Logger, httpDuration?: Metrics['httpDuration']): Middleware {
  // Histogram children by label set, looked up once (prom-client hashes the labels on every observe otherwise). Routes
  // are templates, methods and statuses few: the map stays small; the cap only guards against a surprise.
  const children = new Map<string, { observe(value: number): void }>();
  const observe = (route: string, method: string, status: number, seconds: number) => {
    if (!httpDuration) return;
    const key = `${route} ${method} ${status}`;
    let child = children.get(key);
    if (!child) {
      child = httpDuration.labels({ http_route: route, http_request_method: method, http_response_status_code: status });
      if (children.size < 1000) children.set(key, child);
    }
    child.observe(seconds);
  };
  return async (ctx, next) => {
    const started = performance.now();
    const requestId = requestIdOf(ctx.req);
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      // The client oidc-provider authenticated, or the admin API's caller (src/admin/routes.ts).
      const clientId = (ctx as { oidc?: { client?: { clientId?: string } } }).oidc?.client?.clientId ?? (ctx.state.adminCaller as { clientId?: string } | undefined)?.clientId;
      // An exchange's decision rides on the request's own line (one line per request; the audit stream has the rest).
      const d = ctx.state.decision as ExchangeDecisionEvent | undefined;
      const route = routeTemplate(ctx);
      const seconds = (performance.now() - started) / 1000;
      observe(route, KNOWN_METHODS.has(ctx.method) ? ctx.method : '_OTHER', ctx.status, seconds);
      const level = PROBE_ROUTES.has(route) ? 'debug' : ctx.status >= 500 ? 'error' : 'info';
      // The line is built only when it is written (pino would drop it below its level). No `return` here: it would
      // swallow the error a finally block is passing through.
      if (logger.isLevelEnabled(level)) {
        const line = {
          reqId: requestId, method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 100_000) / 100,
          ...(clientId ? { clientId } : {}),
          ...(d ? { decision: d.decision, error: d.error, reasons: d.reasons, sub: d.sub, sid: d.sid, toolServer: d.toolServer, scopes: d.grantedScopes, jti: d.jti } : {}),
        };
        logger[level](line, 'request');
      }
    }
  };
}

/**
 * What a thrown value means as an HTTP answer: our HttpError as it is; an error of oidc-provider (thrown by its
 * helpers in our routes) or of koa (`ctx.throw`, body parsers) with its exposed code and description; anything else is
 * a bug, answered 500 without detail (undefined here, so the caller logs it).
 */
function asHttpError(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  // Fail closed, and say so: a store outage is 503 `temporarily_unavailable` wherever it surfaces, never a 500 "bug".
  if (err instanceof StoreUnavailable) return new ServiceUnavailable(err.message);
  // RFC 9110 §8.4: a body whose Content-Encoding does not decode (zlib's `Z_*` codes, from the body parser) is the
  // client's error, never a bug: 400, logged as such.
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) return new HttpError(400, 'invalid_request', 'the request body could not be decoded', { detail: code });
  const e = err as { status?: number; statusCode?: number; expose?: boolean; error?: string; message?: string; error_description?: string; error_detail?: string } | undefined;
  const status = e?.statusCode ?? e?.status ?? 500;
  if (e === undefined || e === null || (status >= 500 && !(e.expose && e.error))) return undefined;
  const description = e.error_description ?? (e.expose ? e.message : undefined);
  return new HttpError(status, e.error ?? 'invalid_request', description || undefined, e.error_detail ? { detail: e.error_detail } : {});
}

/** Renders errors thrown by our own routes the OAuth way (one renderer: renderHttpError); anything unexpected is logged and answered without detail. */
export function errorRenderer(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      let e = asHttpError(err);
      if (!e) {
        logger.error({ reqId: ctx.state.requestId, err }, 'unhandled error');
        e = new HttpError(500, 'server_error', 'internal error');
      } else if (e.error_detail) {
        logger.info({ reqId: ctx.state.requestId, detail: e.error_detail }, e.error);
      }
      // An error thrown after an inner handler answered (e.g. oidc-provider's redirect that logs a browser in) must not
      // keep that answer's redirect or cookies: Koa's own error handler drops every header for this reason.
      ctx.remove('Location');
      ctx.remove('Set-Cookie');
      renderHttpError(ctx, e);
    }
  };
}

export interface HealthDeps {
  store: StoreHealth;
  keysLoaded: () => boolean;
  /** True once shutdown has begun: readiness turns 503 at once so load balancers stop routing here. */
  draining?: () => boolean;
  /** This replica's revocation view is loaded and current (sessions/revocation_view.ts); absent = not used. */
  revocationView?: () => boolean;
}

/** /healthz: the process answers. /readyz: the store answers and keys are loaded (else 503, so no traffic is routed here). */
export function healthRoutes(deps: HealthDeps): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (deps.draining?.()) {
      ctx.status = 503;
      ctx.body = { status: 'draining' };
      return;
    }
    const [store, keys] = [await deps.store.ping(), deps.keysLoaded()];
    const view = deps.revocationView?.();
    const ready = store && keys && view !== false;
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      status: ready ? 'ready' : 'unavailable',
      checks: { store: store ? 'ok' : 'fail', keys: keys ? 'ok' : 'fail', ...(view === undefined ? {} : { revocations: view ? 'ok' : 'fail' }) },
    };
  });
  return router;
}

/** RFC 6749 §3.2: the token endpoint (and RFC 7662/7009 endpoints) take POST only: 405 with `Allow`, as JSON. */
export function postOnly(paths: string[]): Middleware {
  return async (ctx, next) => {
    const path = ctx.method !== 'POST' && ctx.method !== 'OPTIONS' ? paths.find((p) => reachesProviderRoute(ctx.path, p)) : undefined;
    if (path !== undefined) {
      markRoute(ctx, path);
      renderHttpError(ctx, new HttpError(405, 'invalid_request', 'only POST is allowed', { headers: { Allow: 'POST' } }));
      return;
    }
    await next();
  };
}

/** Mounts middleware and routers in front of the provider's own routes (provider.use inserts before them). */
export function mount(provider: Provider, ...parts: Array<Middleware | Router>): void {
  for (const part of parts) {
    if (part instanceof Router) {
      provider.use(part.routes() as never);
      provider.use(part.allowedMethods() as never);
    } else {
      provider.use(part as never);
    }
  }
}
