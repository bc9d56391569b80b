// Prometheus metrics (prom-client), fed by decision events and store callbacks; served at /metrics.
import Router from '@koa/router';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DecisionEvents } from '../audit/events.js';

export interface Metrics {
  registry: Registry;
  redisErrors: Counter;
  auditDropped: Counter;
  sessionRecordErrors: Counter;
  feedConsumers: Gauge;
  /** Grant ends that failed (the store unavailable) and wait in this process for a retry (provider/grant_end_retry.ts). */
  grantEndsPending: Gauge;
  grantEndRetries: Counter<'result'>;
  grantEndsDropped: Counter;
  /** OpenTelemetry HTTP semantic conventions; observed by requestLog (http/app.ts), labelled by route template only. */
  httpDuration: Histogram<'http_route' | 'http_request_method' | 'http_response_status_code'>;
}

/** OTel semantic conventions: the explicit bucket boundaries recommended for `http.server.request.duration`, in seconds. */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export function createMetrics(events: DecisionEvents): Metrics {
  const registry = new Registry();
  // Unprefixed (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, ...) so stock Node.js dashboards work.
  collectDefaultMetrics({ register: registry });
  const exchanges = new Counter({ name: 'dts_exchanges_total', help: 'Token exchange decisions by result and RFC error code.', labelNames: ['result', 'error'], registers: [registry] });
  const latency = new Histogram({
    name: 'dts_exchange_duration_seconds',
    help: 'Time to decide a token exchange (validation, policy, signing).',
    labelNames: ['result'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const revocations = new Counter({ name: 'dts_revocations_total', help: 'Revocations by kind (sid, sub, client, jti) and whether they were new.', labelNames: ['kind', 'created'], registers: [registry] });
  const adminCalls = new Counter({ name: 'dts_admin_requests_total', help: 'Admin API calls by decision and status.', labelNames: ['decision', 'status'], registers: [registry] });
  const metrics: Metrics = {
    registry,
    redisErrors: new Counter({ name: 'dts_redis_errors_total', help: 'Redis connection and command errors.', registers: [registry] }),
    auditDropped: new Counter({ name: 'dts_audit_events_dropped_total', help: 'Audit events that could not be stored.', registers: [registry] }),
    sessionRecordErrors: new Counter({ name: 'dts_session_record_errors_total', help: 'Session registry writes that failed.', registers: [registry] }),
    feedConsumers: new Gauge({ name: 'dts_revocation_feed_consumers', help: 'Connected revocation feed (SSE) consumers.', registers: [registry] }),
    grantEndsPending: new Gauge({ name: 'dts_grant_ends_pending', help: 'Grant ends (reuse of a code or refresh token, revocation, logout) that failed because the store was unavailable and wait in this process for a retry.', registers: [registry] }),
    grantEndRetries: new Counter({ name: 'dts_grant_end_retries_total', help: 'Retries of failed grant ends, by result (ended, failed).', labelNames: ['result'], registers: [registry] }),
    grantEndsDropped: new Counter({ name: 'dts_grant_ends_dropped_total', help: 'Failed grant ends not kept for a retry because the retry set was full.', registers: [registry] }),
    httpDuration: new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP server requests, by route template (never the raw path), method and status.',
      labelNames: ['http_route', 'http_request_method', 'http_response_status_code'],
      buckets: HTTP_DURATION_BUCKETS,
      registers: [registry],
    }),
  };
  // Label children looked up once per label set (prom-client hashes the labels object on every call otherwise); the
  // sets are bounded: decision x RFC error code.
  const exchangeChildren = new Map<string, ReturnType<typeof exchanges.labels>>();
  const latencyChildren = new Map<string, ReturnType<typeof latency.labels>>();
  events.on((e) => {
    if (e.type === 'exchange') {
      const error = e.error ?? '';
      const key = `${e.decision} ${error}`;
      let counter = exchangeChildren.get(key);
      if (!counter) exchangeChildren.set(key, (counter = exchanges.labels({ result: e.decision, error })));
      counter.inc();
      let histogram = latencyChildren.get(e.decision);
      if (!histogram) latencyChildren.set(e.decision, (histogram = latency.labels({ result: e.decision })));
      histogram.observe(e.durationMs / 1000);
    } else if (e.type === 'revocation') {
      revocations.inc({ kind: e.kind, created: String(e.created) });
    } else {
      adminCalls.inc({ decision: e.decision, status: String(e.status) });
    }
  });
  return metrics;
}

export function metricsRoutes(metrics: Metrics): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
