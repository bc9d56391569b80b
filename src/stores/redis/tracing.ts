// Redis client spans from ioredis' own diagnostics channels (`ioredis:command`, `ioredis:batch`), via
// @opentelemetry/api: no instrumentation package, nothing patched. Subscribed only when tracing is on, because a
// subscribed channel makes ioredis wrap every command's promise.
import { tracingChannel } from 'node:diagnostics_channel';
import { SpanKind, SpanStatusCode, context, type Span } from '@opentelemetry/api';
import { tracer } from '../../telemetry/spans.js';

interface CommandMessage {
  command?: string;
  batchMode?: string;
  batchSize?: number;
  database?: number;
  serverAddress?: string;
  serverPort?: number;
  error?: unknown;
  span?: Span;
}

const handlers = {
  start(message: CommandMessage) {
    const operation = message.command ?? message.batchMode ?? 'unknown';
    // OTel database conventions. No `db.query.text`: arguments carry session ids, subjects and token ids.
    message.span = tracer.startSpan(
      operation.toUpperCase(),
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': 'redis',
          'db.operation.name': operation.toUpperCase(),
          ...(message.database !== undefined ? { 'db.namespace': String(message.database) } : {}),
          ...(message.batchSize !== undefined ? { 'db.operation.batch.size': message.batchSize } : {}),
          ...(message.serverAddress !== undefined ? { 'server.address': message.serverAddress } : {}),
          ...(message.serverPort !== undefined ? { 'server.port': message.serverPort } : {}),
        },
      },
      context.active(),
    );
  },
  end(message: CommandMessage) {
    // A synchronous throw: no asyncEnd follows. (A rejection's `error` arrives after `end`.)
    if (message.error !== undefined) message.span?.end();
  },
  asyncStart() {},
  asyncEnd(message: CommandMessage) {
    message.span?.end();
  },
  error(message: CommandMessage) {
    const type = (message.error as { name?: string } | undefined)?.name ?? 'Error';
    message.span?.setAttribute('error.type', type);
    message.span?.setStatus({ code: SpanStatusCode.ERROR, message: type });
  },
};

/** Starts producing a CLIENT span per Redis command and MULTI batch; returns the function that stops it. */
export function traceRedisCommands(): () => void {
  const channels = [tracingChannel('ioredis:command'), tracingChannel('ioredis:batch')];
  for (const channel of channels) channel.subscribe(handlers as never);
  return () => {
    for (const channel of channels) channel.unsubscribe(handlers as never);
  };
}
