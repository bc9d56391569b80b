// DPoP proof replay protection on Redis (RFC 9449 §11.1): one SET NX EX per proof, shared by every replica.
import type { DpopReplayStore, ReplayClaim } from '../types.js';
import { redisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

export class RedisDpopReplayStore implements DpopReplayStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;

  constructor(redis: ScriptedRedis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  claim(key: string, ttlSeconds: number): Promise<boolean> {
    return claimReplayKey(this.#redis, this.#prefix, { key, ttlSeconds });
  }
}

/**
 * SET NX EX of a proof's replay key; true when this call claimed it. SET NX is atomic: of two replicas seeing the same
 * proof at once, exactly one gets OK. Also sent by the exchange's cluster read, in flight with its reads.
 */
export async function claimReplayKey(redis: ScriptedRedis, prefix: string, claim: ReplayClaim): Promise<boolean> {
  const { redisKey, ttl } = replayKeyArgs(prefix, claim);
  return (await redis.set(redisKey, '1', 'EX', ttl, 'NX')) === 'OK';
}

/**
 * The Redis key and whole-second ttl of a replay claim: the one name every claim of a proof uses, whether made here or
 * inside the exchange's subject read (RedisExchangeStateStore.readOpaqueToken), so a proof is claimable once in all.
 */
export function replayKeyArgs(prefix: string, claim: ReplayClaim): { redisKey: string; ttl: number } {
  return { redisKey: redisKeys.dpopProof(prefix, claim.key), ttl: Math.max(1, Math.ceil(claim.ttlSeconds)) };
}
