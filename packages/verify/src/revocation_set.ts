// In-memory revocation records from the feed, and the wire-format v2 rule for whether one applies to a token.
import { revokableActors } from './claims.js';
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

export class RevocationSet {
  // One record per (kind, value): a later revocation of the same user or client covers everything the earlier did.
  // One map per kind, keyed by the bare value, so a lookup hashes the token's own string (a cached token's strings
  // keep their hash) instead of building a "kind + value" key per lookup on every call.
  readonly #byKind: Readonly<Record<RevocationRecord['kind'], Map<string, RevocationRecord>>> = {
    jti: new Map(),
    sid: new Map(),
    token_digest: new Map(),
    sub: new Map(),
    client: new Map(),
  };

  get size(): number {
    let size = 0;
    for (const records of Object.values(this.#byKind)) size += records.size;
    return size;
  }

  add(record: RevocationRecord): void {
    const records = this.#byKind[record.kind];
    const existing = records.get(record.value);
    if (!existing) {
      records.set(record.value, record);
      return;
    }
    records.set(record.value, {
      ...record,
      revokedAt: Math.max(existing.revokedAt, record.revokedAt),
      expiresAt: Math.max(existing.expiresAt, record.expiresAt),
    });
  }

  replaceAll(records: Iterable<RevocationRecord>): void {
    for (const byValue of Object.values(this.#byKind)) byValue.clear();
    for (const record of records) this.add(record);
  }

  /** Drop records past `expiresAt`: every token they could match has expired too. */
  prune(nowSeconds: number): void {
    for (const records of Object.values(this.#byKind)) {
      for (const [value, record] of records) {
        if (record.expiresAt < nowSeconds) records.delete(value);
      }
    }
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
