// Follows a Redis stream on its own connection (XREAD BLOCK ties the connection up) and hands each new entry on.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import { isCluster } from './client.js';

const BLOCK_MS = 2000;
const RETRY_MS = 500;
/** How much later than BLOCK_MS Redis may answer before the connection is taken for dead and replaced. */
const GRACE_MS = 1000;
/**
 * The reader starts this far back in time, because subscribe() returns before its first read reaches Redis: an event
 * appended in between must not be lost. Listeners may so see events from just before they subscribed (ids tell them
 * apart); stream ids are Redis' clock, so this also absorbs clock skew between the service and Redis.
 */
const LOOKBACK_MS = 2000;

export type StreamEntry = [id: string, fields: string[]];

export class StreamTail {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #onEntry: (entry: StreamEntry) => void;
  #reader: Redis | undefined;
  #running: Promise<void> | undefined;
  /** Epoch ms of the last XREAD that came back (with or without entries), or of start() before the first one. */
  #readAt = 0;

  constructor(redis: Redis, key: string, onEntry: (entry: StreamEntry) => void) {
    this.#redis = redis;
    this.#key = key;
    this.#onEntry = onEntry;
  }

  /** Delivers entries from about LOOKBACK_MS before the call on; a dropped connection resumes where it stopped. */
  start(): void {
    if (this.#running) return;
    this.#readAt = Date.now();
    // No commandTimeout on a connection that blocks on purpose, and not ioredis' blockingTimeout either: that one
    // answers null as Redis would, so a dead connection (a partition sends no RST) would pass for a quiet stream.
    // The loop's own deadline below drops such a connection and does not count it as a read.
    const reader = isCluster(this.#redis)
      ? // A Cluster's duplicate() takes (startup nodes, options), the per-node options under redisOptions.
        ((this.#redis as unknown as Cluster).duplicate([], { redisOptions: { commandTimeout: undefined, blockingTimeout: undefined } }) as unknown as Redis)
      : this.#redis.duplicate({ commandTimeout: undefined, blockingTimeout: undefined });
    reader.on('error', () => {}); // the loop below sees every failure as a rejected command
    this.#reader = reader;
    this.#running = this.#loop(reader);
  }

  /**
   * Milliseconds since a read of the stream last succeeded: every entry appended before then has been handed on.
   * Grows without bound while Redis cannot be read (partition, outage), so callers can stop vouching for freshness.
   */
  ageMs(): number {
    return this.#running ? Date.now() - this.#readAt : Infinity;
  }

  /** Forgets the reader at once, so a start() right after gets a fresh one; resolves when the old loop has ended. */
  async stop(): Promise<void> {
    const [reader, running] = [this.#reader, this.#running];
    this.#reader = undefined;
    this.#running = undefined;
    reader?.disconnect();
    await running;
  }

  async #loop(reader: Redis): Promise<void> {
    let lastId = `${Math.max(0, Date.now() - LOOKBACK_MS)}-0`;
    while (this.#reader === reader) {
      try {
        if (reader.status === 'wait') await reader.connect();
        const reply = await withDeadline(reader.xread('BLOCK', BLOCK_MS, 'STREAMS', this.#key, lastId), BLOCK_MS + GRACE_MS, () =>
          reader.disconnect(true),
        );
        if (this.#reader === reader) this.#readAt = Date.now();
        for (const [, entries] of reply ?? []) {
          for (const entry of entries) {
            lastId = entry[0];
            this.#onEntry(entry);
          }
        }
      } catch {
        if (this.#reader === reader) await sleep(RETRY_MS, undefined, { ref: false });
      }
    }
  }
}

/** Rejects when `promise` has not settled within `ms` (after calling `onTimeout`); a late rejection is swallowed. */
async function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`no reply within ${ms} ms`));
    }, ms);
  });
  promise.catch(() => {});
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
