// Tracing through @opentelemetry/api only: a no-op until src/tracing.ts registers an SDK (OTEL_* env variables).
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Span } from '@opentelemetry/api';
import type { Middleware } from 'koa';
import { routeTemplate } from '../http/route_template.js';
import { VERSION } from '../version.js';

export const tracer = trace.getTracer('delegation-token-service', VERSION);

/** The span says which kind of failure ended the step (an RFC error code or a class name), never a message. */
function fail(span: Span, err: unknown): void {
  const e = err as { error?: unknown; name?: unknown } | undefined;
  const type = typeof e?.error === 'string' ? e.error : typeof e?.name === 'string' ? e.name : 'Error';
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/**
 * Runs one step of a flow in a child span of the active one (sync or async), so a handler still reads as a sequence:
 * `const subject = await inSpan('exchange.subject', () => validateSubject(req, vctx));`
 * Without a recording span to be the parent (no SDK registered, or the request not sampled) the step runs as it is: a
 * parent-based sampler, the default, would not record its span either, and the no-op span, its context switch and the
 * promise around an async step cost the exchange a few microseconds each.
 */
export function inSpan<T>(name: string, fn: () => T): T {
  if (!trace.getSpan(context.active())?.isRecording()) return fn();
  return tracer.startActiveSpan(name, (span) => {
    let out: T;
    try {
      out = fn();
    } catch (err) {
      fail(span, err);
      span.end();
      throw err;
    }
    if (out instanceof Promise) {
      return out.then(
        (value: unknown) => {
          span.end();
          return value;
        },
        (err: unknown) => {
          fail(span, err);
          span.end();
          throw err;
        },
      ) as T;
    }
    span.end();
    return out;
  });
}

/**
 * The HTTP server span of each request, a child of the caller's W3C `traceparent` (extracted by the registered
 * propagator). Named and labelled after OTel's HTTP conventions with the route template: never the raw path (a token
 * may be pasted into one), the query or headers.
 */
export function serverSpans(): Middleware {
  return async (ctx, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, ctx.headers);
    const span = tracer.startSpan(ctx.method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': ctx.method, 'url.scheme': ctx.protocol } }, parent);
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      const route = routeTemplate(ctx);
      span.updateName(`${ctx.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': ctx.status });
      if (ctx.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  };
}
