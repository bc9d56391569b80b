// oidc-provider's Adapter on Redis, one instance per model, after oidc-provider's example Redis adapter.
// Records are hashes so that `consume` can stamp a field without rewriting (or re-expiring) the payload.
import { GRANTABLE_MODELS, UID_INDEXED_MODEL, epochSeconds, lifetimeMs, toPayload } from '../oidc_records.js';
import type { AdapterPayload, OidcAdapter } from '../types.js';
import { redisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

export class RedisOidcAdapter implements OidcAdapter {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #model: string;

  constructor(redis: ScriptedRedis, prefix: string, model: string) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#model = model;
  }

  /** Replaces the record and its indexes in one MULTI, so a reader never sees a record without its expiry. */
  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const key = this.#key(id);
    const ttl = lifetimeMs(expiresIn);
    if (ttl !== undefined && ttl <= 0) {
      // Already expired (oidc-provider computes expiresIn from `exp`); storing it would only create a key to delete.
      await this.#redis.del(key);
      return;
    }
    const multi = this.#redis.multi().del(key).hset(key, 'payload', JSON.stringify(payload));
    if (ttl !== undefined) multi.pexpire(key, ttl);

    if (GRANTABLE_MODELS.has(this.#model) && payload.grantId) {
      const grantKey = redisKeys.grant(this.#prefix, payload.grantId);
      multi.sadd(grantKey, key);
      if (ttl === undefined) {
        multi.persist(grantKey);
      } else {
        // NX gives a new set the member's lifetime; GT only ever lengthens it, so the set outlives its longest member.
        multi.pexpire(grantKey, ttl, 'NX');
        multi.pexpire(grantKey, ttl, 'GT');
      }
    }
    if (this.#model === UID_INDEXED_MODEL && payload.uid) this.#setIndex(multi, redisKeys.uid(this.#prefix, payload.uid), id, ttl);
    if (payload.userCode) this.#setIndex(multi, redisKeys.userCode(this.#prefix, payload.userCode), id, ttl);

    throwFirstError(await multi.exec());
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const [json, consumed] = await this.#redis.hmget(this.#key(id), 'payload', 'consumed');
    return toPayload(json, consumed);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = await this.#redis.get(redisKeys.uid(this.#prefix, uid));
    return id === null ? undefined : this.find(id);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const id = await this.#redis.get(redisKeys.userCode(this.#prefix, userCode));
    return id === null ? undefined : this.find(id);
  }

  async consume(id: string): Promise<void> {
    await this.#redis.dtsConsume(this.#key(id), epochSeconds());
  }

  /** Index keys left behind expire with the record; a lookup through them finds nothing once the record is gone. */
  async destroy(id: string): Promise<void> {
    await this.#redis.del(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#redis.dtsRevokeGrant(redisKeys.grant(this.#prefix, grantId));
  }

  #key(id: string): string {
    return redisKeys.record(this.#prefix, this.#model, id);
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
