// Tracing: an exchange carrying a W3C traceparent produces the server span, one span per exchange step and Redis client
// spans, all in the caller's trace. In-process SDK with an in-memory exporter, real HTTP, real Redis.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { exchangeFor, loginUser } from '../helpers/http.js';
import { CRM, startService, type TestService } from '../helpers/service.js';
import { traceRedisCommands } from '../../src/stores/redis/tracing.js';
import { traceExporters } from '../../src/tracing.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN_ID = '00f067aa0ba902b7';
const STEPS = ['exchange.parse', 'exchange.subject', 'exchange.dpop', 'exchange.revocation', 'exchange.policy', 'exchange.details', 'exchange.issue'];

describe('OpenTelemetry spans', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let stopRedis: () => void;
  let svc: TestService;

  before(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    stopRedis = traceRedisCommands();
    svc = await startService();
  });
  after(async () => {
    await svc.stop();
    stopRedis();
    await provider.shutdown();
  });

  it('honours the incoming traceparent: server span, exchange steps and Redis calls in the caller trace', async () => {
    const user = await loginUser(svc);
    exporter.reset();
    const untraced = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer' });
    // Its audit and session writes are stored first: ioredis pipelines commands issued in the same tick, and a pipeline's
    // spans belong to the request that opened it, so a write still queued could carry the next request's Redis read.
    await svc.service.flushAudit();
    const traced = await fetch(`${svc.url}/token`, {
      method: 'POST',
      headers: { authorization: svc.basic('agent'), 'content-type': 'application/x-www-form-urlencoded', traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: user.accessToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        resource: CRM,
        scope: 'crm.lookup_customer',
      }),
    });
    assert.equal(traced.status, 200, await traced.clone().text());
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID);
    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

    const server = spans.find((s) => s.name === 'POST /token');
    assert.ok(server, spans.map((s) => s.name).join(', '));
    assert.equal(parentOf(server), PARENT_SPAN_ID);
    assert.equal(server.parentSpanContext?.isRemote, true);
    assert.deepEqual(server.attributes, { 'http.request.method': 'POST', 'url.scheme': 'http', 'http.route': '/token', 'http.response.status_code': 200 });

    const steps = spans.filter((s) => s.name.startsWith('exchange.'));
    assert.deepEqual(steps.map((s) => s.name), STEPS, 'one span per step, in order (no actor token: no exchange.actor)');
    // Steps are children of the server span, or of a provider span in between within the same trace.
    for (const step of steps) assert.ok(spans.some((s) => s.spanContext().spanId === parentOf(step)), step.name);
    assert.ok(steps.every((s) => s.status.code !== 2));

    const redis = spans.filter((s) => s.attributes['db.system.name'] === 'redis');
    const allRedis = exporter.getFinishedSpans().filter((s) => s.attributes['db.system.name'] === 'redis');
    assert.ok(redis.length >= 1, `Redis command spans in the caller trace; all: ${allRedis.map((s) => `${s.name}@${s.spanContext().traceId}`).join(', ')}`);
    for (const r of redis) {
      assert.equal(r.kind, 2, 'CLIENT');
      assert.equal(r.attributes['db.query.text'], undefined, 'no arguments recorded');
    }
    // Nothing of the tokens reaches span attributes.
    assert.equal(JSON.stringify(spans.map((s) => s.attributes)).includes(user.accessToken), false);

    // Without a traceparent, the exchange starts a trace of its own.
    assert.equal(untraced.status, 200);
    const other = exporter.getFinishedSpans().find((s) => s.name === 'POST /token' && s.spanContext().traceId !== TRACE_ID);
    assert.ok(other);
    assert.equal(other.parentSpanContext, undefined);
  });

  it('a refused exchange marks its failing step with the RFC error code', async () => {
    exporter.reset();
    const refused = await exchangeFor(svc, 'agent', 'not-a-token', CRM, {});
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
    const subject = exporter.getFinishedSpans().find((s) => s.name === 'exchange.subject');
    assert.ok(subject);
    assert.equal(subject.status.code, 2);
    assert.equal(typeof subject.attributes['error.type'], 'string');
    assert.equal(exporter.getFinishedSpans().some((s) => s.name === 'exchange.issue'), false);
  });
});

describe('traceExporters: which OTEL_* settings start the SDK', () => {
  it('reads OTEL_TRACES_EXPORTER, the OTLP endpoints and OTEL_SDK_DISABLED', () => {
    assert.deepEqual(traceExporters({}), []);
    assert.deepEqual(traceExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), ['otlp']);
    assert.deepEqual(traceExporters({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), ['otlp']);
    assert.deepEqual(traceExporters({ OTEL_TRACES_EXPORTER: 'console' }), ['console']);
    assert.deepEqual(traceExporters({ OTEL_TRACES_EXPORTER: 'otlp,console' }), ['otlp', 'console']);
    assert.deepEqual(traceExporters({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), []);
    assert.deepEqual(traceExporters({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }), []);
    assert.throws(() => traceExporters({ OTEL_TRACES_EXPORTER: 'zipkin' }), /unsupported exporter zipkin/);
  });
});
