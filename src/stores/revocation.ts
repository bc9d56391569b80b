// Revocation-marker rules shared by the Redis and memory stores, so both give the same answers.
import type { RevocationHits, RevocationKind, RevocationQuery, RevocationRecord } from './types.js';

/** The revocation event stream keeps about this many recent events; consumers that fall further behind lose the oldest. */
export const REVOCATION_EVENTS_MAX = 10_000;

const kinds: ReadonlySet<RevocationKind> = new Set(['sid', 'sub', 'client', 'jti', 'token_digest']);

/**
 * Checks a record before it is stored and copies only the known fields, so a caller's extra properties never
 * reach storage. Times must be whole epoch seconds: Redis expires markers with EXAT, and the Lua merge re-encodes
 * numbers with cjson, which would round fractional values.
 */
export function normalizeRevocation(record: RevocationRecord): RevocationRecord {
  if (!kinds.has(record.kind)) throw new TypeError(`unknown revocation kind: ${String(record.kind)}`);
  if (typeof record.value !== 'string' || record.value === '') throw new TypeError('revocation value must be a non-empty string');
  for (const field of ['revokedAt', 'expiresAt'] as const) {
    const seconds = record[field];
    if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new TypeError(`revocation ${field} must be positive epoch seconds`);
  }
  const normalized: RevocationRecord = {
    kind: record.kind,
    value: record.value,
    revokedAt: record.revokedAt,
    expiresAt: record.expiresAt,
  };
  if (record.by !== undefined) normalized.by = record.by;
  if (record.reason !== undefined) normalized.reason = record.reason;
  return normalized;
}

/** Kinds whose marker is a cutoff in time (tokens issued at or before `revokedAt`); the others revoke absolutely. */
export const CUTOFF_KINDS: ReadonlySet<RevocationKind> = new Set(['sub', 'client']);

/**
 * The revoke rule, for a marker that is already stored.
 * - `sub` and `client` are cutoffs: a later `revokedAt` moves the cutoff and replaces the record (its `by` and `reason`
 *   included), which is a new revocation (`created`). An earlier or equal one changes nothing.
 * - `sid`, `jti` and `token_digest` are absolute: a repeat is never `created`; the first record stays, with the
 *   earliest `revokedAt` kept as the time it first took effect.
 * Either way the retention widens to the latest `expiresAt`. `write` says whether the stored marker changes; every
 * change is published as a feed event (a widened expiry too: a replica's view and a feed consumer forget a marker at
 * the `expiresAt` they last saw, so they must see the store's).
 * The Redis store's Lua scripts (redis/revocation_scripts.ts) implement the same rule; keep them in step.
 */
export function mergeRevocation(
  existing: RevocationRecord,
  incoming: RevocationRecord,
): { record: RevocationRecord; write: boolean; created: boolean } {
  const expiresAt = Math.max(existing.expiresAt, incoming.expiresAt);
  if (CUTOFF_KINDS.has(incoming.kind) && incoming.revokedAt > existing.revokedAt) {
    return { record: { ...incoming, expiresAt }, write: true, created: true };
  }
  const revokedAt = CUTOFF_KINDS.has(incoming.kind) ? existing.revokedAt : Math.min(existing.revokedAt, incoming.revokedAt);
  if (revokedAt === existing.revokedAt && expiresAt === existing.expiresAt) return { record: existing, write: false, created: false };
  return { record: { ...existing, revokedAt, expiresAt }, write: true, created: false };
}

/** The client ids to check, once each, in the order given. */
export function uniqueClientIds(clientIds: Iterable<string | undefined>): string[] {
  const unique = new Set<string>();
  for (const id of clientIds) if (typeof id === 'string' && id !== '') unique.add(id);
  return [...unique];
}

/** The marker lookups a query asks for, in a fixed order (sid, sub, jti, clients, then ancestors). */
export function revocationLookups(query: RevocationQuery): Array<{ kind: RevocationKind; value: string }> {
  const lookups: Array<{ kind: RevocationKind; value: string }> = [];
  if (query.sid) lookups.push({ kind: 'sid', value: query.sid });
  if (query.sub) lookups.push({ kind: 'sub', value: query.sub });
  if (query.jti) lookups.push({ kind: 'jti', value: query.jti });
  for (const value of uniqueClientIds(query.clientIds)) lookups.push({ kind: 'client', value });
  for (const value of new Set(query.ancestors ?? [])) if (value !== '') lookups.push({ kind: 'token_digest', value });
  return lookups;
}

/** Folds found markers into hits; members stay absent (not `undefined`) when nothing was found. */
export function toRevocationHits(found: Iterable<RevocationRecord | undefined>): RevocationHits {
  const hits: RevocationHits = { clients: [] };
  for (const record of found) {
    if (!record) continue;
    if (record.kind === 'client') hits.clients.push(record);
    else if (record.kind === 'token_digest') hits.ancestor ??= record;
    else hits[record.kind] = record;
  }
  return hits;
}

/** A stored marker as read back (Redis replies nil for a missing or expired one). */
export function parseRevocation(json: string | null | undefined): RevocationRecord | undefined {
  return json === null || json === undefined ? undefined : (JSON.parse(json) as RevocationRecord);
}
