// A bounded queue written in batches (once per tick, or at most once per interval), off the request path: used for
// audit events and session records.
// Writing never blocks or fails the caller; what cannot be written (a full queue, a failed batch) is counted.

export interface BatchQueueOptions<T> {
  /** Writes one batch (one store round trip). */
  write: (batch: T[]) => Promise<void>;
  /** Called with the items of a batch that could not be written, and the error. */
  onFailed: (batch: T[], err: unknown) => void;
  /** Called with how many items were dropped because the queue was full, once per flush. */
  onDropped: (count: number) => void;
  /** Largest batch per write, and the most items waiting before new ones are dropped (bounded memory). */
  maxBatch?: number;
  maxPending?: number;
  /**
   * At least this long between the starts of two writes (default 0: the next tick). The first item after a quiet spell
   * is still written on the next tick; under load, items wait up to this long, so a write carries more of them.
   */
  minIntervalMs?: number;
}

export interface BatchQueue<T> {
  push(item: T): void;
  /** Resolves when everything queued so far has been written (or counted as failed). */
  flush(): Promise<void>;
}

export function createBatchQueue<T>(o: BatchQueueOptions<T>): BatchQueue<T> {
  const maxBatch = o.maxBatch ?? 500;
  const maxPending = o.maxPending ?? 50_000;
  let pending: T[] = [];
  let dropped = 0;
  let flushing: Promise<void> = Promise.resolve();
  let scheduled = false;
  const minIntervalMs = o.minIntervalMs ?? 0;
  let lastStart = -Infinity;

  const drain = async (): Promise<void> => {
    while (pending.length) {
      const batch = pending.length <= maxBatch ? pending : pending.slice(0, maxBatch);
      pending = batch === pending ? [] : pending.slice(batch.length);
      try {
        await o.write(batch);
      } catch (err) {
        o.onFailed(batch, err);
      }
    }
    if (dropped) {
      o.onDropped(dropped);
      dropped = 0;
    }
  };
  // On the next tick, or once the interval since the last write's start is over (checked again on waking: a timer
  // counts from the event loop's cached time, so it can fire a little early).
  const run = () => {
    const wait = lastStart + minIntervalMs - performance.now();
    if (wait > 0) {
      setTimeout(run, Math.ceil(wait)).unref();
      return;
    }
    scheduled = false;
    flushing = flushing.then(() => {
      lastStart = performance.now();
      return drain();
    });
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(run);
  };
  return {
    push(item) {
      if (pending.length >= maxPending) dropped += 1;
      else pending.push(item);
      schedule();
    },
    async flush() {
      await flushing;
      await drain();
    },
  };
}
