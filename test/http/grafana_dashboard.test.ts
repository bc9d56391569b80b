// docs/grafana-dashboard.json parses, and every metric its queries use is one the service registers (same names as /metrics).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createDecisionEvents } from '../../src/audit/events.js';
import { createMetrics } from '../../src/http/metrics.js';

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}

/** Prometheus exposes a histogram as _bucket, _sum and _count series of one family. */
const family = (series: string) => series.replace(/_(bucket|sum|count)$/, '');
const PROMQL_WORDS = new Set(['sum', 'by', 'rate', 'increase', 'histogram_quantile', 'le', 'label_values', 'job', 'without', 'avg', 'max', 'min']);

describe('docs/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as {
    panels: Panel[];
    templating: { list: Array<{ query: { query: string } }> };
  };

  it('queries only metrics the service registers', async () => {
    const metrics = createMetrics(createDecisionEvents(() => undefined));
    const registered = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    const exprs = [...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dashboard.templating.list.map((v) => v.query.query)];
    assert.ok(exprs.length >= 9);
    const used = new Set<string>();
    for (const expr of exprs) {
      // Identifiers outside label matchers, strings and ranges: metric names and PromQL words.
      const bare = expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').replace(/"[^"]*"/g, '');
      for (const word of bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []) {
        if (!PROMQL_WORDS.has(word) && !/^(result|error|kind|created|http_route|http_response_status_code)$/.test(word)) used.add(word);
      }
    }
    for (const name of used) assert.ok(registered.has(family(name)), `${name} is not a registered metric`);
    assert.deepEqual(
      [...new Set([...used].map(family))].sort(),
      [
        'dts_audit_events_dropped_total', 'dts_exchange_duration_seconds', 'dts_exchanges_total', 'dts_redis_errors_total', 'dts_revocation_feed_consumers',
        'dts_revocations_total', 'dts_session_record_errors_total', 'http_server_request_duration_seconds',
      ].sort(),
    );
  });

  it('has the panels the issue asks for', () => {
    assert.deepEqual(dashboard.panels.map((p) => p.title), [
      'Exchanges by result and error', 'Exchange latency p50 / p99', 'HTTP p99 by route', 'HTTP requests by route and status',
      'Revocations by kind', 'Revocation feed consumers', 'Redis errors', 'Audit events dropped', 'Session record write errors',
    ]);
  });
});
