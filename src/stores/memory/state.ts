// Everything the memory stores hold that more than one store reads, as Redis would be shared.
import type { RevocationRecord } from '../types.js';
import { ExpiringMap } from './expiring_map.js';
import { MemoryRevocationEvents } from './revocation_events.js';

/** A stored oidc-provider record, kept as JSON so callers never share (and mutate) what is stored, as with Redis. */
export interface MemoryRecord {
  json: string;
  consumed?: number;
  /** The stamp of the consume call that set `consumed` (none when the payload was saved consumed). */
  consumedBy?: string;
}

/** The records map's key, mirroring the Redis layout without the prefix. */
export function recordKey(model: string, id: string): string {
  return `${model}:${id}`;
}

export class MemoryState {
  readonly now: () => number;
  /** `${model}:${id}` → record. */
  readonly records: ExpiringMap<MemoryRecord>;
  /** grantId → record keys issued under it; lives as long as its longest member. */
  readonly grants: ExpiringMap<Set<string>>;
  /** Session uid → Session id. */
  readonly uids: ExpiringMap<string>;
  /** accountId → its Session uids with their expiry (epoch ms, Infinity for never); lives as long as the longest. */
  readonly accountSessions: ExpiringMap<Map<string, number>>;
  /** user code → DeviceCode id. */
  readonly userCodes: ExpiringMap<string>;
  /** `${kind}:${value}` → revocation marker. */
  readonly markers: ExpiringMap<RevocationRecord>;
  /** Newly created markers, capped like the Redis stream. */
  readonly revocationEvents: MemoryRevocationEvents;

  constructor(now: () => number = Date.now, revocationEventsMax?: number) {
    this.now = now;
    this.records = new ExpiringMap(now);
    this.grants = new ExpiringMap(now);
    this.uids = new ExpiringMap(now);
    this.accountSessions = new ExpiringMap(now);
    this.userCodes = new ExpiringMap(now);
    this.markers = new ExpiringMap(now);
    this.revocationEvents = new MemoryRevocationEvents(now, revocationEventsMax);
  }

  sweep(): void {
    for (const map of [this.records, this.grants, this.uids, this.accountSessions, this.userCodes, this.markers]) map.sweep();
  }
}
