// The verify SDK's DPoP replay store (RFC 9449 §11.1) on the gateway's Redis, so every replica refuses a proof any
// replica has already accepted.
import type { Redis } from 'ioredis';
import type { DpopReplayStore } from 'delegation-token-verify';

/**
 * One atomic `SET key 1 PX ttl NX` per proof: `OK` the first time, null for a replay. A Redis error or timeout
 * rejects, and the SDK refuses the request with 503 (fail closed: an unchecked proof could be a replay).
 */
export function redisDpopReplayStore(redis: Redis, prefix: string): DpopReplayStore {
  return {
    async claim(key, ttlSeconds) {
      return (await redis.set(`${prefix}gw:dpop:${key}`, '1', 'PX', Math.ceil(ttlSeconds * 1000), 'NX')) === 'OK';
    },
  };
}
