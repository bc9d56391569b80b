// /metrics: exact metric names (process defaults unprefixed, OTel HTTP histogram by route template, our dts_* ones),
// probe requests logged at debug, and management.port serving /metrics alone (the main port answers 404).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { freePort } from '../../tools/local.js';
import { exchangeFor, loginUser } from '../helpers/http.js';
import { CRM, startService, type TestService } from '../helpers/service.js';

/** Every metric family the service registers (`# TYPE` lines): the README's list is checked against the same set. */
export const EXPECTED_METRICS: Record<string, string> = {
  dts_exchanges_total: 'counter',
  dts_exchange_duration_seconds: 'histogram',
  dts_revocations_total: 'counter',
  dts_admin_requests_total: 'counter',
  dts_redis_errors_total: 'counter',
  dts_audit_events_dropped_total: 'counter',
  dts_session_record_errors_total: 'counter',
  dts_revocation_feed_consumers: 'gauge',
  dts_grant_ends_pending: 'gauge',
  dts_grant_end_retries_total: 'counter',
  dts_grant_ends_dropped_total: 'counter',
  http_server_request_duration_seconds: 'histogram',
  process_cpu_user_seconds_total: 'counter',
  process_cpu_system_seconds_total: 'counter',
  process_cpu_seconds_total: 'counter',
  process_start_time_seconds: 'gauge',
  process_resident_memory_bytes: 'gauge',
  process_virtual_memory_bytes: 'gauge',
  process_heap_bytes: 'gauge',
  process_open_fds: 'gauge',
  process_max_fds: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_eventloop_lag_min_seconds: 'gauge',
  nodejs_eventloop_lag_max_seconds: 'gauge',
  nodejs_eventloop_lag_mean_seconds: 'gauge',
  nodejs_eventloop_lag_stddev_seconds: 'gauge',
  nodejs_eventloop_lag_p50_seconds: 'gauge',
  nodejs_eventloop_lag_p90_seconds: 'gauge',
  nodejs_eventloop_lag_p99_seconds: 'gauge',
  nodejs_active_resources: 'gauge',
  nodejs_active_resources_total: 'gauge',
  nodejs_active_handles: 'gauge',
  nodejs_active_handles_total: 'gauge',
  nodejs_active_requests: 'gauge',
  nodejs_active_requests_total: 'gauge',
  nodejs_heap_size_total_bytes: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
  nodejs_external_memory_bytes: 'gauge',
  nodejs_heap_space_size_total_bytes: 'gauge',
  nodejs_heap_space_size_used_bytes: 'gauge',
  nodejs_heap_space_size_available_bytes: 'gauge',
  nodejs_version_info: 'gauge',
  nodejs_gc_duration_seconds: 'histogram',
};

export function metricTypes(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

const OTEL_BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf'];

describe('metrics on the main port', () => {
  let svc: TestService;
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  before(async () => {
    svc = await startService({ logger: pino({ level: 'debug' }, sink) });
  });
  after(() => svc.stop());

  it('exports exactly the documented names: process defaults without a prefix, dts_* for ours, the OTel HTTP histogram', async () => {
    const user = await loginUser(svc);
    const ok = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const pasted = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLWFsaWNlIn0.c2lnbmF0dXJl';
    assert.equal((await fetch(`${svc.url}/nowhere/${pasted}`)).status, 404);
    assert.equal((await fetch(`${svc.url}/healthz`)).status, 200);

    const res = await fetch(`${svc.url}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const text = await res.text();
    assert.deepEqual(metricTypes(text), EXPECTED_METRICS);
    assert.equal(/^# TYPE dts_(process|nodejs)_/m.test(text), false, 'process defaults carry no dts_ prefix');

    // OTel HTTP semantic conventions: label names, the recommended buckets, route templates only.
    const series = text.split('\n').filter((l) => l.startsWith('http_server_request_duration_seconds'));
    const tokenRoute = series.filter((l) => l.startsWith('http_server_request_duration_seconds_bucket{') && l.includes('http_route="/token"') && l.includes('http_request_method="POST"') && l.includes('http_response_status_code="200"'));
    assert.deepEqual(tokenRoute.map((l) => /le="([^"]+)"/.exec(l)![1]), OTEL_BUCKETS);
    assert.ok(series.some((l) => l.startsWith('http_server_request_duration_seconds_count{http_route="/healthz",http_request_method="GET",http_response_status_code="200"} 1')), series.join('\n'));
    assert.ok(series.some((l) => l.includes('http_route="unmatched"') && l.includes('http_response_status_code="404"')));
    const routes = new Set(series.map((l) => /http_route="([^"]*)"/.exec(l)?.[1]).filter(Boolean));
    for (const route of routes) assert.ok(route === 'unmatched' || route!.startsWith('/'), route);
    assert.equal(text.includes(pasted) || text.includes('/nowhere'), false, 'a raw path reached /metrics');
    assert.ok(text.includes('dts_exchanges_total{result="allow",error=""} 1'));
  });

  it('logs probe requests at debug and everything else at info', async () => {
    await fetch(`${svc.url}/readyz`, { headers: { 'x-request-id': 'probe-ready' } });
    await fetch(`${svc.url}/healthz`, { headers: { 'x-request-id': 'probe-health' } });
    await fetch(`${svc.url}/metrics`, { headers: { 'x-request-id': 'probe-metrics' } });
    await fetch(`${svc.url}/.well-known/openid-configuration`, { headers: { 'x-request-id': 'not-a-probe' } });
    const level = (id: string) => lines.find((l) => l.msg === 'request' && l.reqId === id)?.level;
    assert.equal(level('probe-ready'), 20);
    assert.equal(level('probe-health'), 20);
    assert.equal(level('probe-metrics'), 20);
    assert.equal(level('not-a-probe'), 30);
  });
});

describe('management.port', () => {
  let svc: TestService;
  let management: string;
  before(async () => {
    const port = await freePort();
    management = `http://127.0.0.1:${port}`;
    svc = await startService({ extra: () => ({ management: { port } }) });
  });
  after(() => svc.stop());

  it('serves /metrics only on the management port; the main port answers 404 for it', async () => {
    const onMain = await fetch(`${svc.url}/metrics`);
    assert.equal(onMain.status, 404);
    assert.equal(await onMain.text(), 'Not Found');

    const res = await fetch(`${management}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const types = metricTypes(await res.text());
    assert.deepEqual(types, EXPECTED_METRICS);
  });

  it('answers /healthz and /readyz on both ports, and nothing else on the management port', async () => {
    for (const base of [svc.url, management]) {
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);
      // Idle keep-alive connections outlive a load balancer's (60 s on AWS ALB), so it never reuses one just closed.
      assert.equal(health.headers.get('keep-alive'), 'timeout=65', base);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready', checks: { store: 'ok', keys: 'ok', revocations: 'ok' } });
    }
    const token = await fetch(`${management}/token`, { method: 'POST' });
    assert.equal(token.status, 404);
    assert.equal(await token.text(), 'Not Found');
    assert.equal((await fetch(`${management}/.well-known/openid-configuration`)).status, 404);
  });

  it('refuses a management port equal to the main port', async () => {
    const { parseConfig } = await import('../../src/config/load.js');
    assert.throws(() => parseConfig({ port: 4000, management: { port: 4000 } }), /management\.port: must differ from `port`/);
  });
});
