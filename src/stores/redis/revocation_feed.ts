// The revocation feed on Redis: snapshot (markers + cursor, atomically), catch-up from the event stream, live tail.
import { epochSeconds } from '../oidc_records.js';
import { parseRevocation } from '../revocation.js';
import { ZERO_STREAM_ID, cursorIsStale, parseStreamId } from '../stream_id.js';
import type { RevocationEvent, RevocationFeed, RevocationRecord } from '../types.js';
import { clusterKeys, redisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';
import { StreamTail, type StreamEntry } from './stream_tail.js';

export class RedisRevocationFeed implements RevocationFeed {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #listeners = new Set<(event: RevocationEvent) => void>();
  readonly #tail: StreamTail;
  /** The event stream: one key, so one slot on a Redis Cluster (keys.ts says why that is fine). */
  readonly #eventsKey: string;
  readonly #cluster: boolean;

  constructor(redis: ScriptedRedis, prefix: string, cluster = false) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#cluster = cluster;
    this.#eventsKey = (cluster ? clusterKeys : redisKeys).revocationEvents(prefix);
    this.#tail = new StreamTail(redis, this.#eventsKey, (entry) => this.#deliver(toEvent(entry)));
  }

  /** One script on the stream's server; on a Redis Cluster it reads the feed slot's own copy of the records. */
  async snapshot(): Promise<{ cursor: string; revocations: RevocationRecord[] }> {
    const [cursor, ...markers] = this.#cluster
      ? await this.#redis.dtsRevocationSnapshotCluster(this.#eventsKey, clusterKeys.revocationIndex(this.#prefix), clusterKeys.revocationRecords(this.#prefix), epochSeconds())
      : await this.#redis.dtsRevocationSnapshot(
          this.#eventsKey,
          redisKeys.revocationIndex(this.#prefix),
          redisKeys.revocationPrefix(this.#prefix),
          epochSeconds(),
        );
    return { cursor: cursor ?? ZERO_STREAM_ID, revocations: markers.flatMap((m) => parseRevocation(m) ?? []) };
  }

  /** XINFO and XRANGE in one MULTI, so the trim check and the read see the same stream. */
  async since(cursor: string): Promise<{ events: RevocationEvent[]; reset: boolean }> {
    const from = parseStreamId(cursor);
    if (!from) return { events: [], reset: true };
    const key = this.#eventsKey;
    const results = await this.#redis.multi().xinfo('STREAM', key).xrange(key, `(${cursor}`, '+').exec();
    const [[infoError, info] = [null, null], [rangeError, entries] = [null, null]] = results ?? [];
    if (infoError) {
      if (/no such key/i.test(infoError.message)) return { events: [], reset: cursor !== ZERO_STREAM_ID };
      throw infoError;
    }
    if (rangeError) throw rangeError;
    const fields = pairs(info as unknown[]);
    const lastGenerated = parseStreamId(String(fields.get('last-generated-id')));
    const entriesAdded = Number(fields.get('entries-added'));
    if (!lastGenerated || !Number.isSafeInteger(entriesAdded)) throw new Error('XINFO STREAM without entries-added: Redis 7.0 or newer is required');
    const firstEntry = fields.get('first-entry') as StreamEntry | null | undefined;
    const bounds = {
      lastGenerated,
      firstRetained: firstEntry ? parseStreamId(firstEntry[0]) : undefined,
      trimmed: entriesAdded > Number(fields.get('length')),
    };
    if (cursorIsStale(from, bounds)) return { events: [], reset: true };
    return { events: (entries as StreamEntry[]).map(toEvent), reset: false };
  }

  subscribe(listener: (event: RevocationEvent) => void): () => void {
    this.#listeners.add(listener);
    this.#tail.start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) void this.#tail.stop();
    };
  }

  tailAgeMs(): number {
    return this.#tail.ageMs();
  }

  /** One XREVRANGE COUNT 1: the newest entry's id (a trimmed stream keeps its newest entry). */
  async head(): Promise<string> {
    const [last] = (await this.#redis.xrevrange(this.#eventsKey, '+', '-', 'COUNT', 1)) as StreamEntry[];
    return last?.[0] ?? ZERO_STREAM_ID;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#tail.stop();
  }

  #deliver(event: RevocationEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // One failing listener must not cost the others their events.
      }
    }
  }
}

function toEvent([id, fields]: StreamEntry): RevocationEvent {
  const record = parseRevocation(pairs(fields).get('record') as string | undefined);
  if (!record) throw new Error(`revocation event ${id} has no record`);
  return { id, record };
}

function pairs(flat: unknown[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), flat[i + 1]);
  return map;
}
