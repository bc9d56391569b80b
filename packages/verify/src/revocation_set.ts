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
  readonly #records = new Map<string, RevocationRecord>();

  get size(): number {
    return this.#records.size;
  }

  add(record: RevocationRecord): void {
    const key = `${record.kind}\u0000${record.value}`;
    const existing = this.#records.get(key);
    if (!existing) {
      this.#records.set(key, record);
      return;
    }
    this.#records.set(key, {
      ...record,
      revokedAt: Math.max(existing.revokedAt, record.revokedAt),
      expiresAt: Math.max(existing.expiresAt, record.expiresAt),
    });
  }

  replaceAll(records: Iterable<RevocationRecord>): void {
    this.#records.clear();
    for (const record of records) this.add(record);
  }

  /** Drop records past `expiresAt`: every token they could match has expired too. */
  prune(nowSeconds: number): void {
    for (const [key, record] of this.#records) {
      if (record.expiresAt < nowSeconds) this.#records.delete(key);
    }
  }

  /** The first record that revokes this token, if any. */
  match(token: VerifiedToken): RevocationRecord | undefined {
    const direct = this.#get('jti', token.jti) ?? this.#get('sid', token.sid);
    if (direct) return direct;
    // A revoked ancestor revokes every token derived from it, whenever issued.
    for (const digest of token.ancestors) {
      const byAncestor = this.#get('token_digest', digest);
      if (byAncestor) return byAncestor;
    }
    // A user or client revocation kills tokens issued up to that moment, not tokens issued after it.
    const issuedBefore = (record: RevocationRecord | undefined) =>
      record && token.iat <= record.revokedAt ? record : undefined;
    const bySub = issuedBefore(this.#get('sub', token.sub));
    if (bySub) return bySub;
    for (const client of [token.clientId, ...revokableActors(token.actors)]) {
      const byClient = issuedBefore(this.#get('client', client));
      if (byClient) return byClient;
    }
    return undefined;
  }

  #get(kind: RevocationRecord['kind'], value: string): RevocationRecord | undefined {
    return this.#records.get(`${kind}\u0000${value}`);
  }
}
