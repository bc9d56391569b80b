// Follows a Redis stream on its own connection (XREAD BLOCK ties the connection up) and hands each new entry on.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import { isCluster } from './client.js';
import { ZERO_STREAM_ID } from '../stream_id.js';

const BLOCK_MS = 2000;
const RETRY_MS = 500;
/** How much later than BLOCK_MS Redis may answer before the connection is taken for dead and replaced. */
const GRACE_MS = 1000;
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

  /**
   * Delivers every entry after the stream's newest id as read for this call (readHead): whatever a command sent on the
   * same client after start() cannot see (the view's snapshot, a feed consumer's catch-up) is delivered. A dropped
   * connection resumes where it stopped.
   */
  start(): void {
    if (this.#running) return;
    this.#readAt = Date.now();
    const from = readHead(this.#redis, this.#key);
    // No commandTimeout on a connection that blocks on purpose, and not ioredis' blockingTimeout either: that one
    // answers null as Redis would, so a dead connection (a partition sends no RST) would pass for a quiet stream.
    // The loop's own deadline below drops such a connection and does not count it as a read.
    const reader = isCluster(this.#redis)
      ? // A Cluster's duplicate() takes (startup nodes, options), the per-node options under redisOptions.
        ((this.#redis as unknown as Cluster).duplicate([], { redisOptions: { commandTimeout: undefined, blockingTimeout: undefined } }) as unknown as Redis)
      : this.#redis.duplicate({ commandTimeout: undefined, blockingTimeout: undefined });
    reader.on('error', () => {}); // the loop below sees every failure as a rejected command
    this.#reader = reader;
    this.#running = this.#loop(reader, from);
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

  async #loop(reader: Redis, from: Promise<string>): Promise<void> {
    // Never a position from this process' clock: stream ids are Redis' clock, and a service clock ahead of it would
    // skip every entry up to the time it shows. Without a head, the whole retained stream (a rare, one-off replay:
    // listeners merge idempotently) rather than a guessed start that could lose an entry.
    let lastId = await from.catch(() => ZERO_STREAM_ID);
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

/**
 * The stream's newest id (ZERO_STREAM_ID when empty), with XREVRANGE COUNT 1 written to the socket before this returns:
 * Redis runs one connection's commands in the order written, and on a Cluster the feed's keys share the stream's slot,
 * so whatever the caller sends afterwards on `redis` runs after this read. A pipeline, not a plain command: the
 * single-node client auto-pipelines, and an auto-pipelined command waits for setImmediate, so a MULTI sent in the same
 * tick (RevocationFeed.since) would overtake it.
 */
function readHead(redis: Redis, key: string): Promise<string> {
  const head = redis
    .pipeline()
    .xrevrange(key, '+', '-', 'COUNT', 1)
    .exec()
    .then((results) => {
      const [[error, entries] = [null, []]] = results ?? [];
      if (error) throw error;
      return (entries as StreamEntry[])[0]?.[0] ?? ZERO_STREAM_ID;
    });
  head.catch(() => {}); // awaited by the loop, which may not have started yet
  return head;
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
