// Follows a Redis stream on its own connection (XREAD BLOCK ties the connection up) and hands each new entry on.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';

const BLOCK_MS = 2000;
const RETRY_MS = 500;
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

  constructor(redis: Redis, key: string, onEntry: (entry: StreamEntry) => void) {
    this.#redis = redis;
    this.#key = key;
    this.#onEntry = onEntry;
  }

  /** Delivers entries from about LOOKBACK_MS before the call on; a dropped connection resumes where it stopped. */
  start(): void {
    if (this.#running) return;
    // No commandTimeout on a connection that blocks on purpose; ioredis' blocking timeout (BLOCK + grace) guards it.
    const reader = this.#redis.duplicate({ commandTimeout: undefined, blockingTimeout: BLOCK_MS, blockingTimeoutGrace: 1000 });
    reader.on('error', () => {}); // the loop below sees every failure as a rejected command
    this.#reader = reader;
    this.#running = this.#loop(reader);
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
        const reply = await reader.xread('BLOCK', BLOCK_MS, 'STREAMS', this.#key, lastId);
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
