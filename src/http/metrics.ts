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
}

export function createMetrics(events: DecisionEvents): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dts_' });
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
  };
  events.on((e) => {
    if (e.type === 'exchange') {
      exchanges.inc({ result: e.decision, error: e.error ?? '' });
      latency.observe({ result: e.decision }, e.durationMs / 1000);
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
