// A bounded queue written once per tick in batches, off the request path: used for audit events and session records.
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
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flushing = flushing.then(drain);
    });
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
