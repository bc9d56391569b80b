// Subscribes to decision events and appends them to the durable audit stream in batches, off the request path.
// Emitting never blocks or fails a request; a batch that cannot be stored is counted and logged, not retried forever.
import type { Logger } from 'pino';
import type { AuditLog, StoredAuditEvent } from '../stores/types.js';
import type { DecisionEvent, DecisionEvents } from './events.js';

export interface AuditWriterOptions {
  log: AuditLog;
  logger: Logger;
  onDropped: (count: number) => void;
  /** Largest batch per round trip, and the most events waiting before new ones are dropped (bounded memory). */
  maxBatch?: number;
  maxPending?: number;
}

/** Events are plain JSON-safe objects built by the emitters; they are stored as they are (serialized once, by the store). */
export function toStored(e: DecisionEvent): StoredAuditEvent {
  return e as unknown as StoredAuditEvent;
}

export function attachAuditWriter(events: DecisionEvents, o: AuditWriterOptions): { flush(): Promise<void> } {
  const maxBatch = o.maxBatch ?? 500;
  const maxPending = o.maxPending ?? 50_000;
  let pending: StoredAuditEvent[] = [];
  let flushing: Promise<void> | undefined;
  let scheduled = false;

  const flush = async (): Promise<void> => {
    while (pending.length) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(batch.length);
      try {
        await o.log.append(batch);
      } catch (err) {
        o.onDropped(batch.length);
        o.logger.error({ err: (err as Error).message, dropped: batch.length }, 'audit events could not be stored');
      }
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flushing = (flushing ?? Promise.resolve()).then(flush);
    });
  };

  events.on((e) => {
    if (pending.length >= maxPending) {
      o.onDropped(1);
      return;
    }
    pending.push(toStored(e));
    schedule();
  });
  return {
    async flush() {
      await flushing;
      await flush();
    },
  };
}
