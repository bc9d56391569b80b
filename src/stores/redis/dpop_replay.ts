// DPoP proof replay protection on Redis (RFC 9449 §11.1): one SET NX EX per proof, shared by every replica.
import type { DpopReplayStore } from '../types.js';
import { redisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

export class RedisDpopReplayStore implements DpopReplayStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;

  constructor(redis: ScriptedRedis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  /** SET NX is atomic: of two replicas seeing the same proof at once, exactly one gets OK. */
  async claim(key: string, ttlSeconds: number): Promise<boolean> {
    const reply = await this.#redis.set(redisKeys.dpopProof(this.#prefix, key), '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX');
    return reply === 'OK';
  }
}
