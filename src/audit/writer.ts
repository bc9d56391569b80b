// Subscribes to decision events and appends them to the durable audit stream in batches, off the request path.
// Emitting never blocks or fails a request; a batch that cannot be stored is counted and logged, not retried forever.
import type { Logger } from 'pino';
import type { AuditLog, StoredAuditEvent } from '../stores/types.js';
import type { DecisionEvent, DecisionEvents } from './events.js';
import { createBatchQueue } from './batch_queue.js';
import { boundEvent } from './bounds.js';

export interface AuditWriterOptions {
  log: AuditLog;
  logger: Logger;
  onDropped: (count: number) => void;
  /** Largest batch per round trip, and the most events waiting before new ones are dropped (bounded memory). */
  maxBatch?: number;
  maxPending?: number;
  /**
   * At least this long between two appends (see createBatchQueue; default 0, every tick): under load the events of
   * the interval share one round trip. The first event after a quiet spell is still written on the next tick.
   */
  minIntervalMs?: number;
}

/** Events are plain JSON-safe objects built by the emitters; they are stored bounded (bounds.ts: a client's oversized
 * input is cut and the event says `truncated`), and serialized once, by the store. */
export function toStored(e: DecisionEvent): StoredAuditEvent {
  return boundEvent(e) as unknown as StoredAuditEvent;
}

export function attachAuditWriter(events: DecisionEvents, o: AuditWriterOptions): { flush(): Promise<void> } {
  const queue = createBatchQueue<StoredAuditEvent>({
    write: (batch) => o.log.append(batch),
    onFailed: (batch, err) => {
      o.onDropped(batch.length);
      o.logger.error({ err: (err as Error).message, dropped: batch.length }, 'audit events could not be stored');
    },
    onDropped: (count) => {
      o.onDropped(count);
      o.logger.error({ dropped: count }, 'audit events dropped: too many waiting to be stored');
    },
    ...(o.maxBatch ? { maxBatch: o.maxBatch } : {}),
    ...(o.maxPending ? { maxPending: o.maxPending } : {}),
    ...(o.minIntervalMs ? { minIntervalMs: o.minIntervalMs } : {}),
  });
  events.on((e) => queue.push(toStored(e)));
  return queue;
}
