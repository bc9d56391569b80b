// The audit log on a Redis stream: batched appends, trimmed by length and age as they happen; newest-first queries.
import { matchesAuditFilter, pageLimit, type AuditFilter } from '../audit_filter.js';
import { parseStreamId } from '../stream_id.js';
import type { AuditLog, Page, StoredAuditEvent, StoreLimits } from '../types.js';
import { redisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/** Entries read per XREVRANGE while filtering. */
const SCAN_BATCH = 500;
/**
 * Events are appended moments after their `time`; entries whose stream id is this much older than `since` cannot
 * match, so a `since` query stops there instead of reading the whole stream (allows for app/Redis clock skew).
 */
const SINCE_SLACK_MS = 5 * 60_000;

/**
 * KEYS[1] the audit stream; ARGV[1] the length kept (approximately), ARGV[2] the oldest id kept ('' = no age trim this
 * call), ARGV[3..] the events' JSON, appended in order. One key, declared: the same script on Redis Cluster.
 */
export const auditAppendLua = `
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[i])
end
if ARGV[2] ~= '' then redis.call('XTRIM', KEYS[1], 'MINID', '=', ARGV[2]) end
return #ARGV - 2
`;

/** Trimming by age runs at most this often per process (the age bound is in seconds anyway). */
const AGE_TRIM_INTERVAL_MS = 1000;

type AuditEntry = StoredAuditEvent & { id: string };

export class RedisAuditLog implements AuditLog {
  readonly #redis: ScriptedRedis;
  readonly #key: string;
  readonly #limits: Pick<StoreLimits, 'auditMaxLength' | 'auditMaxAgeSeconds'>;
  /** When this process last trimmed by age (0: not yet, so the first append of a process trims). */
  #lastAgeTrim = 0;

  constructor(redis: ScriptedRedis, prefix: string, limits: Pick<StoreLimits, 'auditMaxLength' | 'auditMaxAgeSeconds'>) {
    this.#redis = redis;
    this.#key = redisKeys.audit(prefix);
    this.#limits = limits;
  }

  /**
   * One script call per batch, one round trip and one command however many events (a command per event cost the
   * service more than the events' JSON). Each XADD trims by length approximately (`MAXLEN ~`): Redis drops whole stream
   * nodes only, so the length trim never keeps fewer than `auditMaxLength` events and at most one node more
   * (`stream-node-max-entries` / `-bytes`: 100 entries or 4 KB by default), instead of editing the oldest node on every
   * append. By age (ids are Redis' append time in ms) an exact MINID trim, at most once per second per process: an
   * event outlives `auditMaxAgeSeconds` by about a second at most.
   */
  async append(events: StoredAuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const now = Date.now();
    let minId = '';
    if (now - this.#lastAgeTrim >= AGE_TRIM_INTERVAL_MS) {
      this.#lastAgeTrim = now;
      minId = String(now - this.#limits.auditMaxAgeSeconds * 1000);
    }
    const json = events.map((event) => JSON.stringify(event));
    await this.#redis.dtsAuditAppend(this.#key, this.#limits.auditMaxLength, minId, ...json);
  }

  async query(filter: AuditFilter, page: { cursor?: string; limit: number }): Promise<Page<AuditEntry>> {
    const limit = pageLimit(page.limit);
    const cursor = page.cursor === undefined ? undefined : parseStreamId(page.cursor);
    if (page.cursor !== undefined && !cursor) throw new TypeError('invalid audit cursor');
    // Nothing comes before the first possible id (and Redis refuses the empty interval `(0-0`): an empty page, as in memory.
    if (cursor && cursor.ms === 0 && cursor.seq === 0) return { items: [] };
    const floorMs = filter.since === undefined ? undefined : filter.since - SINCE_SLACK_MS;
    const items: AuditEntry[] = [];
    let end = page.cursor === undefined ? '+' : `(${page.cursor}`;
    // One match beyond the page tells whether a next page exists.
    while (items.length <= limit) {
      const entries = await this.#redis.xrevrange(this.#key, end, floorMs === undefined ? '-' : String(Math.max(0, floorMs)), 'COUNT', SCAN_BATCH);
      for (const [id, fields] of entries) {
        const json = fields[fields.indexOf('event') + 1];
        if (json === undefined) continue;
        const event = JSON.parse(json) as StoredAuditEvent;
        if (matchesAuditFilter(event, filter)) items.push({ ...event, id });
        if (items.length > limit) break;
      }
      const last = entries.at(-1);
      if (!last || entries.length < SCAN_BATCH) break;
      end = `(${last[0]}`;
    }
    const pageItems = items.slice(0, limit);
    const lastItem = pageItems.at(-1);
    return items.length > limit && lastItem ? { items: pageItems, next: lastItem.id } : { items: pageItems };
  }

  async length(): Promise<number> {
    return this.#redis.xlen(this.#key);
  }
}
