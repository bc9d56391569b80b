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

type AuditEntry = StoredAuditEvent & { id: string };

export class RedisAuditLog implements AuditLog {
  readonly #redis: ScriptedRedis;
  readonly #key: string;
  readonly #limits: Pick<StoreLimits, 'auditMaxLength' | 'auditMaxAgeSeconds'>;

  constructor(redis: ScriptedRedis, prefix: string, limits: Pick<StoreLimits, 'auditMaxLength' | 'auditMaxAgeSeconds'>) {
    this.#redis = redis;
    this.#key = redisKeys.audit(prefix);
    this.#limits = limits;
  }

  /** One MULTI: the batch, then exact trims by length and by age (ids are Redis' append time in ms). */
  async append(events: StoredAuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const multi = this.#redis.multi();
    for (const event of events) multi.xadd(this.#key, '*', 'event', JSON.stringify(event));
    multi.xtrim(this.#key, 'MAXLEN', '=', this.#limits.auditMaxLength);
    multi.xtrim(this.#key, 'MINID', '=', Date.now() - this.#limits.auditMaxAgeSeconds * 1000);
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('Redis MULTI was aborted');
  }

  async query(filter: AuditFilter, page: { cursor?: string; limit: number }): Promise<Page<AuditEntry>> {
    const limit = pageLimit(page.limit);
    if (page.cursor !== undefined && !parseStreamId(page.cursor)) throw new TypeError('invalid audit cursor');
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
