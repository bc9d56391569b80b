// In-memory revocation records from the feed, and the wire-format v2 rule for whether one applies to a token.
import { revokableActors } from './claims.js';
import { ExpiryQueue, type ExpiryEntry } from './expiry_queue.js';
import { stats } from './internal_stats.js';
import type { RevocationRecord, VerifiedToken } from './types.js';

const KINDS = new Set(['sid', 'sub', 'client', 'jti', 'token_digest']);

/** The feed wire-format versions this SDK understands (docs/revocation-feed.md). */
export const FEED_VERSIONS: ReadonlySet<unknown> = new Set([1, 2]);

/** A record this SDK cannot apply: ignoring it could leave a revoked token accepted, so the feed fails closed. */
export class UnknownRecordKind extends Error {
  override name = 'UnknownRecordKind';
}

/**
 * Parse one record from the wire; undefined when it is malformed (it is then ignored). Throws UnknownRecordKind for a
 * record of a kind this SDK does not know.
 */
export function parseRevocationRecord(value: unknown): RevocationRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (typeof r.kind !== 'string') return undefined;
  if (!KINDS.has(r.kind)) throw new UnknownRecordKind(`unknown revocation record kind ${JSON.stringify(r.kind.slice(0, 32))}`);
  if (typeof r.value !== 'string' || typeof r.revokedAt !== 'number' || typeof r.expiresAt !== 'number') return undefined;
  const record: RevocationRecord = {
    kind: r.kind as RevocationRecord['kind'],
    value: r.value,
    revokedAt: r.revokedAt,
    expiresAt: r.expiresAt,
  };
  if (typeof r.reason === 'string') record.reason = r.reason;
  return record;
}

type Kind = RevocationRecord['kind'];

/** Stale queue entries (of records since kept longer) allowed beyond the live records before the queue is rebuilt. */
const QUEUE_SLACK = 1024;
/**
 * At most this many expiry entries per prune (about 15 ms): records that all expire together (a day after a mass
 * logout) go over the next few events or heartbeats rather than in one block of the event loop. Each call removes this
 * many or all that expired, and records arrive one per event, so what waits stays bounded.
 */
const PRUNE_BATCH = 10_000;

/**
 * The records in memory. Pruning may lag behind `expiresAt`, and that is safe: a record matches only tokens it revokes
 * (an identifier, an ancestor, or for `sub` and `client` a token issued up to `revokedAt`), so keeping one longer
 * never refuses a token it does not revoke; and the issuer keeps a record until no token it could match is still
 * valid (docs/revocation-feed.md), so such a token is expired by then anyway. Pruning bounds memory; it decides nothing.
 */
export class RevocationSet {
  // One record per (kind, value): a later revocation of the same user or client covers everything the earlier did.
  // One map per kind, keyed by the bare value, so a lookup hashes the token's own string (a cached token's strings
  // keep their hash) instead of building a "kind + value" key per lookup on every call.
  readonly #byKind: Readonly<Record<Kind, Map<string, RevocationRecord>>> = {
    jti: new Map(),
    sid: new Map(),
    token_digest: new Map(),
    sub: new Map(),
    client: new Map(),
  };
  // Every record has an entry here at its current `expiresAt`, so pruning visits only what expired (the feed prunes
  // on every event: walking every record each time made a burst of n events on m records cost n * m). A record kept
  // longer leaves its earlier entry behind, skipped when it comes out; a push that leaves more than twice the records
  // plus QUEUE_SLACK entries rebuilds the queue, so it only grows with the records.
  readonly #expiry = new ExpiryQueue<Kind>();

  get size(): number {
    let size = 0;
    for (const records of Object.values(this.#byKind)) size += records.size;
    return size;
  }

  add(record: RevocationRecord): void {
    const laterExpiry = this.#put(record);
    if (laterExpiry !== undefined) this.#queue(record.kind, record.value, laterExpiry);
  }

  replaceAll(records: Iterable<RevocationRecord>): void {
    for (const byValue of Object.values(this.#byKind)) byValue.clear();
    for (const record of records) this.#put(record);
    this.#rebuildQueue();
  }

  /**
   * Drop records past `expiresAt` (every token they could match has expired too), the earliest first, up to `limit`
   * of them. Visits only the expired ones.
   */
  prune(nowSeconds: number, limit = PRUNE_BATCH): void {
    for (let n = 0; n < limit; n++) {
      const next = this.#expiry.peek();
      if (next === undefined || next.at >= nowSeconds) return;
      this.#expiry.pop();
      stats.revocationPruneVisits++;
      const records = this.#byKind[next.kind];
      // An entry left behind by a record since kept longer: that record has a later entry of its own.
      const current = records.get(next.value);
      if (current !== undefined && current.expiresAt < nowSeconds) records.delete(next.value);
    }
  }

  /** Keep the record, merged with the one held for its (kind, value); its `expiresAt` when that is new or later. */
  #put(record: RevocationRecord): number | undefined {
    const records = this.#byKind[record.kind];
    const existing = records.get(record.value);
    if (!existing) {
      records.set(record.value, record);
      return record.expiresAt;
    }
    const expiresAt = Math.max(existing.expiresAt, record.expiresAt);
    records.set(record.value, { ...record, revokedAt: Math.max(existing.revokedAt, record.revokedAt), expiresAt });
    return expiresAt > existing.expiresAt ? expiresAt : undefined;
  }

  #queue(kind: Kind, value: string, at: number): void {
    this.#expiry.push({ at, kind, value });
    if (this.#expiry.size > 2 * this.size + QUEUE_SLACK) this.#rebuildQueue();
  }

  /** One entry per record, at its current `expiresAt`: O(records), paid for by the stale entries it drops. */
  #rebuildQueue(): void {
    const entries: Array<ExpiryEntry<Kind>> = [];
    for (const [kind, records] of Object.entries(this.#byKind) as Array<[Kind, Map<string, RevocationRecord>]>) {
      for (const [value, record] of records) entries.push({ at: record.expiresAt, kind, value });
    }
    this.#expiry.reset(entries);
  }

  /** The first record that revokes this token, if any. */
  match(token: VerifiedToken): RevocationRecord | undefined {
    const { jti, sid, token_digest: digests, sub, client } = this.#byKind;
    const direct = jti.get(token.jti) ?? sid.get(token.sid);
    if (direct) return direct;
    // A revoked ancestor revokes every token derived from it, whenever issued.
    if (digests.size > 0) {
      for (const digest of token.ancestors) {
        const byAncestor = digests.get(digest);
        if (byAncestor) return byAncestor;
      }
    }
    // A user or client revocation kills tokens issued up to that moment, not tokens issued after it.
    const bySub = sub.get(token.sub);
    if (bySub && token.iat <= bySub.revokedAt) return bySub;
    if (client.size > 0) {
      for (const id of [token.clientId, ...revokableActors(token.actors)]) {
        const byClient = client.get(id);
        if (byClient && token.iat <= byClient.revokedAt) return byClient;
      }
    }
    return undefined;
  }
}
