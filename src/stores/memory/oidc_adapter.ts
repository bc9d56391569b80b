// oidc-provider's Adapter in memory, one instance per model, with the Redis adapter's indexing and expiry rules.
import { AlreadyConsumed } from '../errors.js';
import { GRANTABLE_MODELS, UID_INDEXED_MODEL, consumeStamp, consumedIn, epochSeconds, grantIdOf, lifetimeMs, toPayload } from '../oidc_records.js';
import type { AdapterPayload, OidcAdapter } from '../types.js';
import { recordKey, type MemoryState } from './state.js';

export class MemoryOidcAdapter implements OidcAdapter {
  readonly #state: MemoryState;
  readonly #model: string;

  constructor(state: MemoryState, model: string) {
    this.#state = state;
    this.#model = model;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const { records, grants, uids, userCodes } = this.#state;
    const key = this.#key(id);
    const ttl = lifetimeMs(expiresIn);
    if (ttl !== undefined && ttl <= 0) {
      records.delete(key);
      return;
    }
    const expiresAt = ttl === undefined ? Number.POSITIVE_INFINITY : this.#state.now() + ttl;
    const consumed = consumedIn(payload);
    records.set(key, { json: JSON.stringify(payload), ...(consumed === undefined ? {} : { consumed }) }, expiresAt);

    if (GRANTABLE_MODELS.has(this.#model) && payload.grantId) {
      const members = grants.get(payload.grantId) ?? new Set<string>();
      members.add(key);
      grants.set(payload.grantId, members, Math.max(expiresAt, grants.expiresAt(payload.grantId) ?? 0));
    }
    if (this.#model === UID_INDEXED_MODEL && payload.uid) {
      uids.set(payload.uid, id, expiresAt);
      if (typeof payload.accountId === 'string' && payload.accountId !== '') {
        const entries = liveAccountSessions(this.#state, payload.accountId);
        entries.set(payload.uid, Math.max(expiresAt, entries.get(payload.uid) ?? 0));
        this.#state.accountSessions.set(payload.accountId, entries, Math.max(...entries.values()));
      }
    }
    if (payload.userCode) userCodes.set(payload.userCode, id, expiresAt);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const record = this.#state.records.get(this.#key(id));
    return record && toPayload(record.json, record.consumed);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = this.#state.uids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const id = this.#state.userCodes.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  /**
   * A compare-and-set, as in Redis: stamps the stored record in place (its expiry unchanged) when not yet consumed, or
   * succeeds again for the call that stamped it (`stamp`; no reply is lost in memory, kept for the same contract);
   * otherwise, or when the record is gone (not recreated), rejects with AlreadyConsumed.
   */
  async consume(id: string, stamp: string = consumeStamp()): Promise<void> {
    const record = this.#state.records.get(this.#key(id));
    if (!record) throw new AlreadyConsumed(this.#model, undefined);
    if (record.consumed === undefined) {
      record.consumed = epochSeconds(this.#state.now());
      record.consumedBy = stamp;
      return;
    }
    if (record.consumedBy !== stamp) throw new AlreadyConsumed(this.#model, grantIdOf(toPayload(record.json, record.consumed)));
  }

  /** Index entries left behind expire with the record, as in Redis. */
  async destroy(id: string): Promise<void> {
    this.#state.records.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const { records, grants } = this.#state;
    for (const key of grants.get(grantId) ?? []) records.delete(key);
    grants.delete(grantId);
  }

  #key(id: string): string {
    return recordKey(this.#model, id);
  }
}

/** The uids of an account's provider sessions that have not expired (as the Redis adapter's index). */
export function accountSessionUids(state: MemoryState, accountId: string): string[] {
  return [...liveAccountSessions(state, accountId).keys()];
}

/** A copy of the account's index without its expired entries: uid -> expiry (epoch ms). */
function liveAccountSessions(state: MemoryState, accountId: string): Map<string, number> {
  const now = state.now();
  return new Map([...(state.accountSessions.get(accountId) ?? [])].filter(([, at]) => at > now));
}
