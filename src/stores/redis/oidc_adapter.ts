// oidc-provider's Adapter on Redis, one instance per model, after oidc-provider's example Redis adapter.
// Records are hashes so that `consume` can stamp a field without rewriting (or re-expiring) the payload.
import { AlreadyConsumed } from '../errors.js';
import { GRANTABLE_MODELS, UID_INDEXED_MODEL, consumeStamp, consumedIn, epochSeconds, grantIdOf, lifetimeMs, toPayload } from '../oidc_records.js';
import type { AdapterPayload, OidcAdapter } from '../types.js';
import { clusterKeys, redisKeys, type RedisKeyLayout } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

export class RedisOidcAdapter implements OidcAdapter {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #model: string;
  /** On a Redis Cluster the record, its grant set and its indexes live in different slots (see keys.ts). */
  readonly #cluster: boolean;
  readonly #keys: RedisKeyLayout;

  constructor(redis: ScriptedRedis, prefix: string, model: string, cluster = false) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#model = model;
    this.#cluster = cluster;
    this.#keys = cluster ? clusterKeys : redisKeys;
  }

  /**
   * Replaces the record and its indexes in one MULTI, so a reader never sees a record without its expiry.
   * On a Redis Cluster: the record in one MULTI first, then its grant set and indexes in a second (their own slots). In
   * that order a record is always in its grant set by the time the upsert returns, so a later revokeByGrantId finds it;
   * a revokeByGrantId running between the two steps deletes the record (and the grant set the second step re-creates
   * holds only a dead key), as when it runs before the upsert on a single Redis.
   */
  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const key = this.#key(id);
    const ttl = lifetimeMs(expiresIn);
    if (ttl !== undefined && ttl <= 0) {
      // Already expired (oidc-provider computes expiresIn from `exp`); storing it would only create a key to delete.
      await this.#redis.del(key);
      return;
    }
    // An access token's session uid also in a field of its own: the exchange's read script follows it to the session
    // without decoding the record's JSON inside Redis (revocation_scripts.ts, readOpaqueTokenLua).
    const sessionUid = this.#model === 'AccessToken' && typeof payload.sessionUid === 'string' && payload.sessionUid !== '' ? payload.sessionUid : undefined;
    const fields = sessionUid === undefined ? ['payload', JSON.stringify(payload)] : ['payload', JSON.stringify(payload), 'sessionUid', sessionUid];
    // A payload saved consumed stays consumed for consume's compare-and-set, which reads the field, not the JSON (and,
    // without a `consumedBy` stamp, refuses every consume of it).
    const consumed = consumedIn(payload);
    if (consumed !== undefined) fields.push('consumed', String(consumed));
    const multi = this.#redis.multi().del(key).hset(key, ...fields);
    if (ttl !== undefined) multi.pexpire(key, ttl);
    type Multi = ReturnType<ScriptedRedis['multi']>;
    const indexes: Array<(m: Multi) => void> = [];
    // The index scripts, queued on the MULTI (ioredis defines them on pipelines too; its types do not say so).
    const scripted = (m: Multi) => m as unknown as Pick<ScriptedRedis, 'dtsIndexGrant' | 'dtsIndexAccountSession'>;
    const now = Date.now();
    const expiresAt = ttl === undefined ? '' : now + ttl;

    if (GRANTABLE_MODELS.has(this.#model) && payload.grantId) {
      const grantKey = this.#keys.grant(this.#prefix, payload.grantId);
      // The set outlives its longest member, a never-expiring one included (oidc_scripts.ts, indexGrantLua).
      indexes.push((m) => scripted(m).dtsIndexGrant(grantKey, key, expiresAt));
    }
    if (this.#model === UID_INDEXED_MODEL && payload.uid) {
      const uidKey = this.#keys.uid(this.#prefix, payload.uid);
      indexes.push((m) => this.#setIndex(m, uidKey, id, ttl));
      if (typeof payload.accountId === 'string' && payload.accountId !== '') {
        const accountKey = this.#keys.accountSessions(this.#prefix, payload.accountId);
        const uid = payload.uid;
        indexes.push((m) => scripted(m).dtsIndexAccountSession(accountKey, uid, expiresAt, now));
      }
    }
    if (payload.userCode) {
      const userCodeKey = this.#keys.userCode(this.#prefix, payload.userCode);
      indexes.push((m) => this.#setIndex(m, userCodeKey, id, ttl));
    }

    if (!this.#cluster) {
      for (const index of indexes) index(multi);
      throwFirstError(await multi.exec());
      return;
    }
    throwFirstError(await multi.exec());
    await Promise.all(
      indexes.map(async (index) => {
        const m = this.#redis.multi();
        index(m);
        throwFirstError(await m.exec());
      }),
    );
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const [json, consumed] = await this.#redis.hmget(this.#key(id), 'payload', 'consumed');
    return toPayload(json, consumed);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = await this.#redis.get(this.#keys.uid(this.#prefix, uid));
    return id === null ? undefined : this.find(id);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const id = await this.#redis.get(this.#keys.userCode(this.#prefix, userCode));
    return id === null ? undefined : this.find(id);
  }

  /**
   * A compare-and-set (oidc_scripts.ts, consumeLua): the first consume wins; any other rejects with AlreadyConsumed,
   * naming the record's grant, which the script itself replies (a record gone has had its grant ended or expired); read
   * here only when the script could not decode the payload (cjson refuses some JSON that JSON.parse reads: a lone
   * surrogate, nesting past its limit), so a reuse still ends its grant.
   * `stamp` names this call: ioredis resends a command whose connection dropped before its reply came
   * (maxRetriesPerRequest, client.ts), and a resend of the winning call must win again, not be taken for a reuse that
   * ends the grant of the one legitimate use.
   */
  async consume(id: string, stamp: string = consumeStamp()): Promise<void> {
    const [result, grantId] = await this.#redis.dtsConsume(this.#key(id), epochSeconds(), stamp);
    if (result === 1) return;
    if (result === -1 && grantId) throw new AlreadyConsumed(this.#model, grantId);
    throw new AlreadyConsumed(this.#model, result === -1 ? await this.#grantOfUnreadable(id) : undefined);
  }

  /** The grant of a record the script could not decode, by JSON.parse; none when that cannot read it either (a store
   * failure is not swallowed: it stays a 503). */
  async #grantOfUnreadable(id: string): Promise<string | undefined> {
    try {
      return grantIdOf(await this.find(id));
    } catch (err) {
      if (err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  /** Index keys left behind expire with the record; a lookup through them finds nothing once the record is gone. */
  async destroy(id: string): Promise<void> {
    await this.#redis.del(this.#key(id));
  }

  /**
   * On a Redis Cluster the members live in other slots than the grant set, so no script can delete them with it: read
   * the members, delete them (one DEL each, all in flight at once), then remove exactly those from the set. A failure
   * part-way leaves the rest in the set for a retry; a record upserted meanwhile stays in the set.
   */
  async revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = this.#keys.grant(this.#prefix, grantId);
    if (!this.#cluster) {
      await this.#redis.dtsRevokeGrant(grantKey);
      return;
    }
    const members = await this.#redis.smembers(grantKey);
    await Promise.all(members.map((member) => this.#redis.del(member)));
    for (let i = 0; i < members.length; i += 500) await this.#redis.srem(grantKey, ...members.slice(i, i + 500));
  }

  #key(id: string): string {
    return this.#keys.record(this.#prefix, this.#model, id);
  }

  #setIndex(multi: ReturnType<ScriptedRedis['multi']>, key: string, id: string, ttl: number | undefined): void {
    if (ttl === undefined) multi.set(key, id);
    else multi.set(key, id, 'PX', ttl);
  }
}

/** MULTI reports per-command errors in its result instead of rejecting; surface them. */
function throwFirstError(results: Array<[Error | null, unknown]> | null): void {
  if (results === null) throw new Error('Redis MULTI was aborted');
  for (const [error] of results) if (error) throw error;
}

/**
 * The uids of an account's provider sessions that have not expired (oidc-provider's Session records, indexed at
 * upsert). A session destroyed since may still be listed: callers look each one up.
 */
export async function accountSessionUids(redis: ScriptedRedis, prefix: string, cluster: boolean, accountId: string): Promise<string[]> {
  const key = (cluster ? clusterKeys : redisKeys).accountSessions(prefix, accountId);
  return redis.zrangebyscore(key, `(${Date.now()}`, '+inf');
}
