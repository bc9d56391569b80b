// The audit query's filter, shared so both implementations select the same events.
import type { AuditLog, StoredAuditEvent } from './types.js';

export type AuditFilter = Parameters<AuditLog['query']>[0];

/** Every given member must match (AND); `since` is epoch milliseconds against the event's own `time`. */
export function matchesAuditFilter(event: StoredAuditEvent, filter: AuditFilter): boolean {
  if (filter.sid !== undefined && event.sid !== filter.sid) return false;
  if (filter.sub !== undefined && event.sub !== filter.sub) return false;
  if (filter.clientId !== undefined && event.clientId !== filter.clientId) return false;
  if (filter.decision !== undefined && event.decision !== filter.decision) return false;
  if (filter.type !== undefined && event.type !== filter.type) return false;
  if (filter.since !== undefined && !(event.time >= filter.since)) return false;
  return true;
}

/** A page limit as a positive integer; the admin API validates its input, this guards the stores' loops. */
export function pageLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError('page limit must be a positive integer');
  return limit;
}
