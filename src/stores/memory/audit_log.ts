// The audit log in memory: an array with Redis-like ids, trimmed by length and age on append.
import { matchesAuditFilter, pageLimit, type AuditFilter } from '../audit_filter.js';
import { StreamIdGenerator, compareStreamIds, parseStreamId, type StreamId } from '../stream_id.js';
import type { AuditLog, Page, StoredAuditEvent, StoreLimits } from '../types.js';

type AuditEntry = StoredAuditEvent & { id: string };

export class MemoryAuditLog implements AuditLog {
  readonly #entries: Array<{ id: StreamId; json: string }> = [];
  readonly #ids = new StreamIdGenerator();
  readonly #limits: Pick<StoreLimits, 'auditMaxLength' | 'auditMaxAgeSeconds'>;
  readonly #now: () => number;

  constructor(limits: Pick<StoreLimits, 'auditMaxLength' | 'auditMaxAgeSeconds'>, now: () => number) {
    this.#limits = limits;
    this.#now = now;
  }

  async append(events: StoredAuditEvent[]): Promise<void> {
    const now = this.#now();
    for (const event of events) this.#entries.push({ id: parseStreamId(this.#ids.next(now)) as StreamId, json: JSON.stringify(event) });
    const minMs = now - this.#limits.auditMaxAgeSeconds * 1000;
    let drop = Math.max(0, this.#entries.length - this.#limits.auditMaxLength);
    while (drop < this.#entries.length && (this.#entries[drop] as { id: StreamId }).id.ms < minMs) drop += 1;
    this.#entries.splice(0, drop);
  }

  async query(filter: AuditFilter, page: { cursor?: string; limit: number }): Promise<Page<AuditEntry>> {
    const limit = pageLimit(page.limit);
    const before = page.cursor === undefined ? undefined : parseStreamId(page.cursor);
    if (page.cursor !== undefined && !before) throw new TypeError('invalid audit cursor');
    const items: AuditEntry[] = [];
    for (let i = this.#entries.length - 1; i >= 0 && items.length <= limit; i -= 1) {
      const entry = this.#entries[i] as { id: StreamId; json: string };
      if (before && compareStreamIds(entry.id, before) >= 0) continue;
      const event = JSON.parse(entry.json) as StoredAuditEvent;
      if (matchesAuditFilter(event, filter)) items.push({ ...event, id: `${entry.id.ms}-${entry.id.seq}` });
    }
    const pageItems = items.slice(0, limit);
    const last = pageItems.at(-1);
    return items.length > limit && last ? { items: pageItems, next: last.id } : { items: pageItems };
  }

  async length(): Promise<number> {
    return this.#entries.length;
  }
}
